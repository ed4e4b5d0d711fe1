"""Fidelity against EvalScope 1.14.1: our EvalScope-named setups send EvalScope's prompts byte for byte.

    python bench/fidelity_evalscope.py --evalscope-python .venv-evalscope/bin/python [--n 20] [--score-n 8]

This script installs nothing. Give it the python of an environment with EvalScope, e.g.:

    python3 -m venv .venv-evalscope && .venv-evalscope/bin/pip install torch==2.13.0 && \\
        .venv-evalscope/bin/pip install evalscope==1.14.1 accelerate

Prompts: our data files are written out in the layout EvalScope reads from a local path (the hub's, with a
README.md declaring the configs), EvalScope renders them with its mock model (`--eval-type mock_llm`, seconds,
no weights), and we render ours from the original files. Per benchmark: prompts identical (system and user
messages as text; both sides apply the chat template the same way afterwards) and the first difference.

Scoring (`--score-n N`): EvalScope runs the default model for real (its checkpoint default, float16) on the first
N problems of GSM8K and ARC-Easy; its outputs are re-scored with our setup's scorer and compared with its
`reviews/*.jsonl` verdicts, sample by sample.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalscope.config import DatasetArgs, RunConfig
from evalscope.schema import Completion, GenerationRequest, Sample
from evalscope.scoring.extract import normalize_number
from evalscope.suite import Suite

Prompts = dict[Any, tuple[str | None, str]]
"""(EvalScope's subset, sample index), or our sample id -> EvalScope's (system message, user message)."""
Record = Callable[[Mapping[str, Any], str], dict[str, Any]]
"""(one of our raw rows, its subset) -> the record EvalScope's hub copy holds."""


@dataclass(frozen=True)
class Pair:
    """One benchmark both harnesses have: our setup named after EvalScope, and EvalScope's data layout."""

    bench: str
    setup: str
    subsets: tuple[str, ...]
    record: Record
    config: Callable[[str], str] = lambda subset: subset
    """Our subset -> the hub config (the file's folder) EvalScope reads it from."""
    their_subset: Callable[[str], str] = lambda subset: subset
    their_keys: Callable[[list[Sample]], list[tuple[str, int]]] | None = None
    """Our samples -> their (subset, index) in EvalScope, when its subsets are not ours (MATH's are levels)."""
    secret: bool = False
    """The questions must not appear in plain text (GPQA): the fixture keeps the prompt's sha256 only."""
    their_splits: Mapping[str, str] = field(default_factory=dict)
    """Our split -> EvalScope's name for it (GPQA's only split is its `train`)."""
    their_args: Mapping[str, Any] = field(default_factory=dict)
    """More of EvalScope's dataset args (e.g. the few-shot count our data allows)."""
    local: Callable[[Path, Path], Path] | None = None
    """(dataset dir, scratch dir) -> a folder both harnesses read as it is (general_mcq's `<subset>_<split>.csv`)."""


def _choices_ai2(row: Mapping[str, Any], subset: str) -> dict[str, Any]:
    options = row["question"]["choices"]
    return {"id": row["id"], "question": row["question"]["stem"], "answerKey": row["answerKey"],
            "choices": {"text": [o["text"] for o in options], "label": [o["label"] for o in options]}}


def _mmlu(row: Mapping[str, Any], subset: str) -> dict[str, Any]:
    return {"question": row["question"], "subject": subset, "choices": [row[k] for k in "ABCD"],
            "answer": "ABCD".index(row["answer"].strip())}


def _cmmlu(row: Mapping[str, Any], subset: str) -> dict[str, Any]:
    return {"question": row["Question"], "category": subset, "answer": f"({row['Answer'].strip()})",
            "choices": [f"({k}) {row[k]}" for k in "ABCD"]}


def _ceval(row: Mapping[str, Any], subset: str) -> dict[str, Any]:
    return {k: row.get(k) or "" for k in ("id", "question", "A", "B", "C", "D", "answer", "explanation")}


def _as_is(row: Mapping[str, Any], subset: str) -> dict[str, Any]:
    return dict(row)


def by_level(samples: list[Sample]) -> list[tuple[str, int]]:
    """EvalScope splits MATH into its levels, each numbered in file order."""
    seen: Counter[str] = Counter()
    keys = []
    for sample in samples:
        level = str(sample.metadata["level"])
        keys.append((level, seen[level]))
        seen[level] += 1
    return keys


PAIRS = {p.bench: p for p in [
    Pair("gsm8k", "evalscope", ("main",), _as_is),
    Pair("arc", "evalscope", ("ARC-Easy", "ARC-Challenge"), _choices_ai2),
    Pair("mmlu", "evalscope", ("abstract_algebra", "virology"), _mmlu, config=lambda s: "all"),
    Pair("cmmlu", "evalscope", ("agronomy", "virology"), _cmmlu, config=lambda s: "default"),
    Pair("ceval", "evalscope", ("accountant", "high_school_physics"), _ceval),
    Pair("humaneval", "evalscope", ("default",), _as_is, config=lambda s: "openai_humaneval",
         their_subset=lambda s: "openai_humaneval"),
    Pair("mbpp", "evalscope", ("default",), _as_is, config=lambda s: "full", their_subset=lambda s: "full"),
    Pair("competition_math", "evalscope", ("algebra", "geometry"), _as_is, config=lambda s: "default",
         their_keys=by_level, their_args={"few_shot_num": 0}),
    Pair("math_500", "evalscope", ("algebra", "precalculus"), _as_is, config=lambda s: "default",
         their_keys=by_level),
    Pair("bbh", "evalscope", ("boolean_expressions", "date_understanding", "dyck_languages"),
         lambda row, subset: {"input": row["input"], "target": row["target"]}),
    Pair("gpqa_diamond", "evalscope", ("default",), _as_is, secret=True, their_splits={"test": "train"}),
    Pair("race", "evalscope", ("middle",), _as_is, their_args={"few_shot_num": 0}),
    Pair("general_mcq", "evalscope", ("example",), _as_is, local=lambda data, tmp: general_mcq_folder(data, tmp)),
]}
TESTS = Path(__file__).resolve().parents[1] / "tests"
FIXTURE_INPUTS = {"general_mcq": Pair("general_mcq", "evalscope", ("physics",), _as_is,
                                      local=lambda data, tmp: TESTS / "data" / "general_mcq")}
"""Where the pinned first prompts come from, when not the first subset of the data above."""
LEFT_OUT = {
    "hellaswag": "EvalScope's context is ctx_a + ' ' + ctx_b.capitalize(); our data file (llama.cpp's text format) "
                 "has them joined",
    "truthful_qa": "EvalScope shuffles the choices; our setups are lm-eval's and EvalScope 0.5's, by loglikelihood",
}


def keys_of(pair: Pair, samples: list[Sample]) -> list[tuple[str, int]]:
    if pair.their_keys:
        return pair.their_keys(samples)
    return [(pair.their_subset(s.subset), s.index) for s in samples]


def _splits(suite: Suite) -> list[str]:
    return [s for s in (suite.eval_split, suite.bench.few_shot_split) if s and s in suite.files]


def write_their_layout(pair: Pair, suite: Suite, n: int, out: Path) -> None:
    """Our raw rows in the hub layout EvalScope loads from a local folder: <config>/<split>.jsonl + README.md."""
    files: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for split in _splits(suite):
        for subset in suite.subsets:
            rows = [row for _, row in suite.bench.rows(suite.files[split], split, subset)]
            keep = rows[:n] if split == suite.eval_split else rows
            files.setdefault((pair.config(subset), pair.their_splits.get(split, split)), []).extend(
                pair.record(r, subset) for r in keep)
    front = ["---", "configs:"]
    for config in sorted({c for c, _ in files}):
        front += [f"- config_name: {config}", "  data_files:"]
        for (c, split), records in files.items():
            if c == config:
                (out / c).mkdir(parents=True, exist_ok=True)
                (out / c / f"{split}.jsonl").write_text(
                    "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
                front += [f"  - split: {split}", f"    path: {c}/{split}.jsonl"]
    (out / "README.md").write_text("\n".join([*front, "---", ""]), encoding="utf-8")


def evalscope(python: str, args: list[str], cwd: Path) -> None:
    # run outside the checkout: `python -c` puts the cwd first on sys.path, and our package is also `evalscope`
    cmd = [python, "-c", "import sys; from evalscope.cli.cli import run_cmd; sys.exit(run_cmd())", "eval", *args]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                               "HOME": str(cwd), "TOKENIZERS_PARALLELISM": "false"})
    if proc.returncode != 0:
        sys.exit(f"evalscope eval failed ({proc.returncode}):\n" + "\n".join((proc.stdout + proc.stderr)
                                                                             .strip().splitlines()[-15:]))


def jsonl(folder: Path, pattern: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(folder.rglob(pattern)):
        for line in path.read_text(encoding="utf-8").split("\n"):  # not splitlines: U+2028 ends no JSON line
            if line.strip():
                yield path, json.loads(line)


def their_messages(record: dict[str, Any]) -> tuple[str | None, str]:
    messages = record["messages"]
    system = next((m["content"] for m in messages if m["role"] == "system"), None)
    users = [m["content"] for m in messages if m["role"] == "user"]
    assert len(users) == 1, f"expected one user message, got {len(users)}"
    return system, users[0]


def first_difference(a: str, b: str) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"at char {at}: ours {a[max(0, at - 30):at + 50]!r}\n      theirs {b[max(0, at - 30):at + 50]!r}"


def our_suite(pair: Pair, data_dir: Path, n: int, local: Path | None = None) -> Suite:
    args = DatasetArgs(setup=pair.setup, subset_list=pair.subsets, local_path=str(local) if local else None)
    return Suite.load(pair.bench, RunConfig(dataset_dir=data_dir, limit=n, dataset_args={pair.bench: args}))


def general_mcq_folder(data_dir: Path, out: Path) -> Path:
    """general_mcq has no shared data: MMLU's first virology rows in EvalScope's CSV layout, read by both."""
    suite = our_suite(PAIRS["mmlu"], data_dir, 1000)
    out.mkdir(parents=True, exist_ok=True)
    for split in ("val", "dev"):
        lines = ["id,question,A,B,C,D,answer"]
        source = "test" if split == "val" else "dev"
        for i, (_, row) in enumerate(suite.bench.rows(suite.files[source], source, "virology")):
            cells = [str(i), row["question"], *(row[k] for k in "ABCD"), row["answer"]]
            lines.append(",".join('"' + str(c).replace('"', '""') + '"' for c in cells))
        (out / f"example_{split}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def compare_prompts(python: str, pair: Pair, data_dir: Path, n: int, tmp: Path) -> tuple[bool, Prompts]:
    """Prints how many of our first `n` prompts per subset equal EvalScope's; returns that verdict and EvalScope's
    messages by our sample id."""
    local = pair.local(data_dir, tmp / pair.bench) if pair.local else None
    suite = our_suite(pair, data_dir, n, local)
    theirs_dir = local or tmp / "data"
    if local is None:
        theirs_dir.mkdir()
        write_their_layout(pair, suite, n, theirs_dir)
    samples = [s for s in suite.samples if isinstance(s, Sample)]
    keys = keys_of(pair, samples)
    dataset_args = {pair.bench: {"local_path": str(theirs_dir), "subset_list": sorted({k[0] for k in keys}),
                                 **pair.their_args}}
    evalscope(python, ["--model", "mock", "--eval-type", "mock_llm", "--datasets", pair.bench,
                       "--dataset-args", json.dumps(dataset_args), "--limit", str(n), "--work-dir", str(tmp / "out"),
                       "--ignore-errors"], tmp)  # its MBPP scoring refuses to run without a Docker sandbox
    theirs: Prompts = {}
    for path, record in jsonl(tmp / "out", "predictions/*/*.jsonl"):
        subset = path.stem[len(pair.bench) + 1:]
        theirs[(subset, int(record["index"]))] = their_messages(record)
    same, total, notes = 0, 0, []
    by_id: Prompts = {}
    for sample, key in zip(samples, keys, strict=True):
        request = suite.request(sample)
        assert isinstance(request, GenerationRequest) and request.chat, f"{pair.bench}: not a chat prompt"
        mine = (request.system, request.prompt)
        other = theirs.get(key)
        if other is not None:
            by_id[sample.id] = other
        total += 1
        if other == mine:
            same += 1
        elif not notes:
            notes.append(f"  first difference, {sample.id}: " + ("EvalScope has no such sample" if other is None
                         else f"system {mine[0]!r} vs {other[0]!r}" if mine[0] != other[0]
                         else first_difference(mine[1], other[1])))
    ok = total == len(theirs) == len(suite.samples) and same == total and total >= len(pair.subsets)
    print(f"| {pair.bench} | {pair.setup} | {', '.join(pair.subsets)} | {same}/{total} | "
          f"{len(theirs)} | {'yes' if ok else 'NO'} |")
    for note in notes:
        print(note)
    return ok, by_id


def write_fixtures(python: str, data_dir: Path, out: Path) -> None:
    """EvalScope's own first prompt of each pair, as `<benchmark>.<setup>.<subset>.txt` (tests pin ours to them)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, pair in PAIRS.items():
        pair = FIXTURE_INPUTS.get(name, replace(pair, subsets=pair.subsets[:1]))
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
            _, theirs = compare_prompts(python, pair, data_dir, 1, Path(tmp))
        system, user = theirs[f"{pair.subsets[0]}-0000"]
        assert system is None, f"{name}: EvalScope sent a system message"
        path = out / f"{pair.bench}.{pair.setup}.{pair.subsets[0]}.{'sha256' if pair.secret else 'txt'}"
        # bytes: MBPP's exemplars keep their \r\n
        path.write_bytes(hashlib.sha256(user.encode()).hexdigest().encode() if pair.secret else user.encode())
        print(f"wrote {path}")


def compare_scores(python: str, data_dir: Path, n: int, tmp: Path) -> bool:
    """EvalScope's real run on the default model; its outputs re-scored by our setups' scorers."""
    from _lmeval import default_model_folder

    pairs = [PAIRS["gsm8k"], Pair("arc", "evalscope", ("ARC-Easy",), _choices_ai2)]
    dataset_args: dict[str, Any] = {}
    suites = {}
    for pair in pairs:
        suites[pair.bench] = suite = our_suite(pair, data_dir, n)
        (tmp / pair.bench).mkdir(exist_ok=True)
        write_their_layout(pair, suite, n, tmp / pair.bench)
        dataset_args[pair.bench] = {"local_path": str(tmp / pair.bench), "subset_list": list(pair.subsets)}
    model = default_model_folder()
    if not any((tmp / "run").rglob("reviews/*/*.jsonl")):  # a kept --work-dir is scored again, not rerun
        evalscope(python, ["--model", str(model), "--datasets", *dataset_args,
                           "--dataset-args", json.dumps(dataset_args), "--limit", str(n), "--eval-batch-size", "4",
                           "--work-dir", str(tmp / "run"),
                           "--generation-config", json.dumps({"max_tokens": 384, "temperature": 0.0})], tmp)
    ok = True
    print(f"\nscoring agreement: EvalScope 1.14.1 ran {model.name} (float16, its default), {n} per benchmark")
    print("| benchmark | samples | EvalScope acc | ours acc | same verdict | same extracted answer |")
    print("|---|---|---|---|---|---|")
    for bench, suite in suites.items():
        by_index = {s.index: s for s in suite.samples if isinstance(s, Sample)}
        rows, verdicts, answers, theirs_acc, ours_acc, notes = 0, 0, 0, 0.0, 0.0, []
        for _, review in jsonl(tmp / "run", f"reviews/*/{bench}_*.jsonl"):
            sample = by_index[int(review["index"])]
            score = review["sample_score"]["score"]
            verdict = suite.bench.score(sample, Completion(score["prediction"], 0, 0, "stop", ""), suite.setup)
            ours, their = verdict.metrics[suite.setup.primary_metric], float(score["value"][score["main_score_name"]])
            found = verdict.extracted[suite.setup.primary_metric]
            same_answer = normalize_number(found or "") == normalize_number(score["extracted_prediction"] or "")
            rows, verdicts, answers = rows + 1, verdicts + (ours == their), answers + same_answer
            theirs_acc, ours_acc = theirs_acc + their, ours_acc + ours
            if ours != their or not same_answer:
                notes.append(f"  {bench} {sample.id}: EvalScope {their} (extracted "
                             f"{score['extracted_prediction']!r}), ours {ours} (extracted {found!r}), "
                             f"target {sample.target!r}; output tail {score['prediction'][-120:]!r}")
        ok &= rows == n and verdicts == rows and answers == rows
        print(f"| {bench} | {rows} | {theirs_acc / max(rows, 1):.3f} | {ours_acc / max(rows, 1):.3f} | "
              f"{verdicts}/{rows} | {answers}/{rows} |")
        for note in notes:
            print(note)
    gsm8k = compare_math(python, suites["gsm8k"], lambda s: s.metadata["final"],
                         lambda s: made_replies(s.metadata["final"]))
    math_500 = compare_math(python, our_suite(PAIRS["math_500"], data_dir, n), lambda s: s.target, math500_replies)
    bbh = compare_bbh(python, our_suite(PAIRS["bbh"], data_dir, n))
    return ok & gsm8k & math_500 & bbh


THEIR_MATH = """
import json, sys
from evalscope.metrics.math.parser import compare_answers, extract_answer
out = []
for reply, target in json.load(sys.stdin):
    answer = extract_answer(reply)
    out.append([answer, compare_answers(answer, target).matched])
print(json.dumps(out))
"""


def made_replies(final: str) -> list[str]:
    """Replies a model might write to a problem whose answer is `final`: right ones in many forms, wrong ones."""
    wrong = str(int(final.replace(",", "")) + 1) if final.replace(",", "").lstrip("-").isdigit() else final + "1"
    return [f"So the total is {final}.\n\\boxed{{{final}}}", f"The answer is {final} dollars.", final,
            f"First 3 + 4 = 7, so the answer is {final}.", f"\\boxed{{{final}.00}}", f"ANSWER: {final}%",
            f"\\boxed{{{wrong}}}", f"It is {wrong}, not {final}.", f"$\\frac{{{final}}}{{1}}$", "I do not know."]


def math500_replies(sample: Sample) -> list[str]:
    """The reference solution itself, the stored answer boxed and unboxed, and a wrong box."""
    answer = sample.target
    return [str(sample.metadata["solution"]), f"\\boxed{{{answer}}}", f"The final answer is ${answer}$.",
            f"\\boxed{{{answer}+1}}", "\\boxed{0}"]


def compare_math(python: str, suite: Suite, target: Callable[[Sample], str],
                 replies: Callable[[Sample], list[str]]) -> bool:
    """Our Math-Verify scorer and EvalScope's on made-up replies, right and wrong, to every sample."""
    cases = [(reply, target(s), s) for s in suite.samples if isinstance(s, Sample) for reply in replies(s)]
    proc = subprocess.run([python, "-c", THEIR_MATH], input=json.dumps([c[:2] for c in cases]), text=True,
                          capture_output=True, cwd=tempfile.gettempdir(), check=True)
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    same, right, notes = 0, 0, []
    for (reply, _, sample), (their_answer, their_match) in zip(cases, theirs, strict=True):
        verdict = suite.bench.score(sample, Completion(reply, 0, 0, "stop", ""), suite.setup)
        agree = bool(verdict.metrics["acc"]) == their_match and verdict.extracted["acc"] == their_answer
        same, right = same + agree, right + their_match
        if not agree and len(notes) < 5:
            notes.append(f"  {sample.id} {reply[-80:]!r}: ours {verdict.extracted['acc']!r} "
                         f"{verdict.metrics['acc']}, EvalScope {their_answer!r} {their_match}")
    print(f"| {suite.bench.name}, made-up replies | {len(cases)} | {right} judged right by EvalScope | "
          f"{same}/{len(cases)} (verdict and extracted answer) |")
    for note in notes:
        print(note)
    return same == len(cases)


THEIR_BBH = """
import json, sys
from evalscope.benchmarks.bbh.bbh_adapter import BBHAdapter
print(json.dumps([BBHAdapter._extract_mc_answer(r) if mc else BBHAdapter._extract_ff_answer(r)
                  for r, mc in json.load(sys.stdin)]))
"""


def bbh_replies(sample: Sample) -> list[str]:
    shown = f"({sample.target})" if sample.metadata["multiple_choice"] else sample.target
    return [f"Step one. So the answer is {shown}.", f"So the answer is **{sample.target}**.\nDone.",
            f"The answer is {shown}", f"So the answer is {shown} or maybe not.", "So the answer is (Z).",
            f"So the answer is wrong. So the answer is {sample.target}."]


def compare_bbh(python: str, suite: Suite) -> bool:
    """Our BBH answer reading and EvalScope's on made-up replies (its exact match: stripped, lower case)."""
    cases = [(reply, s) for s in suite.samples if isinstance(s, Sample) for reply in bbh_replies(s)]
    proc = subprocess.run([python, "-c", THEIR_BBH], text=True, capture_output=True, check=True,
                          input=json.dumps([(r, bool(s.metadata["multiple_choice"])) for r, s in cases]),
                          cwd=tempfile.gettempdir())
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    same, right = 0, 0
    for (reply, sample), their_answer in zip(cases, theirs, strict=True):
        verdict = suite.bench.score(sample, Completion(reply, 0, 0, "stop", ""), suite.setup)
        their_right = their_answer.strip().lower() == sample.target.strip().lower()
        same += verdict.extracted["acc"] == their_answer and bool(verdict.metrics["acc"]) == their_right
        right += their_right
    print(f"| bbh, made-up replies | {len(cases)} | {right} judged right by EvalScope | {same}/{len(cases)} "
          "(verdict and extracted answer) |")
    return same == len(cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evalscope-python", required=True, help="python of an environment with evalscope 1.14.1")
    parser.add_argument("--benchmarks", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--n", type=int, default=20, help="prompts per subset")
    parser.add_argument("--score-n", type=int, default=0, help="also run EvalScope on the default model for this "
                        "many problems per benchmark and compare the scoring (0: prompts only)")
    parser.add_argument("--dataset-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--write-fixtures", type=Path, metavar="DIR",
                        help="write EvalScope's first prompt of each benchmark there (tests/fixtures/evalscope-1.14.1)")
    parser.add_argument("--work-dir", type=Path, help="keep EvalScope's scoring run there (a second call with "
                        "the same folder re-scores it without running the model again)")
    args = parser.parse_args()
    args.evalscope_python = os.path.abspath(args.evalscope_python)  # not resolved: a venv's python is a link
    ok = True
    print(f"prompts: the first {args.n} samples per subset, ours against EvalScope 1.14.1's mock model")
    print("| benchmark | our setup | subsets | identical | EvalScope rendered | pass |")
    print("|---|---|---|---|---|---|")
    for name in args.benchmarks:
        with tempfile.TemporaryDirectory() as tmp:
            ok &= compare_prompts(args.evalscope_python, PAIRS[name], args.dataset_dir, args.n, Path(tmp))[0]
    for name, why in LEFT_OUT.items():
        print(f"| {name} | none named after EvalScope | | left out: {why} | | |")
    if args.write_fixtures:
        write_fixtures(args.evalscope_python, args.dataset_dir, args.write_fixtures)
    if args.score_n and args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        ok &= compare_scores(args.evalscope_python, args.dataset_dir, args.score_n, args.work_dir.resolve())
    elif args.score_n:
        with tempfile.TemporaryDirectory() as tmp:
            ok &= compare_scores(args.evalscope_python, args.dataset_dir, args.score_n, Path(tmp))
    print("PASS" if ok else "FAIL", "(every prompt identical; every re-scored verdict equal)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
