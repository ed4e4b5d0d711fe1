"""Generation side by side with lm-eval 0.4.13: same weights, same problems; prompts, replies, answers, scores.

    python bench/fidelity_lmeval_generation.py --lmeval-python .venv-lmeval/bin/python [--limit 8]
        [--tasks minerva bbh ifeval] [--max-new-tokens 256]

This script installs nothing (the lm-eval environment: see bench/fidelity_lmeval_scoring.py). Both harnesses run
the default model (the embedded SmolLM2-135M GGUF, converted to an HF folder) in fp32, greedy, raw text, the same
batch size and token budget. lm-eval runs its own task files (minerva_math_algebra, bbh_cot_fewshot_<task>,
ifeval) with only the dataset swapped for our rows (the same slice, in our order); we run our `minerva`,
`lm-eval` (bbh) and `lm-eval` (ifeval) setups. Per sample: the prompt, the reply, the extracted answer and each
metric, equal or not; a differing reply is shown from its first difference. Pass: >= 98% of samples agree on
answer and metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lmeval import OFFLINE, REPO, default_model_folder, run_ours, tasks_root

from evalscope.config import RunConfig
from evalscope.schema import Sample
from evalscope.suite import Suite


@dataclass(frozen=True)
class Slice:
    """One of our benchmark subsets against one lm-eval task file."""

    benchmark: str
    subset: str
    setup: str
    task_file: str
    """The lm-eval task file, relative to lm_eval/tasks."""
    metrics: dict[str, str]
    """Our metric -> lm-eval's."""
    filtered: bool = False
    """lm-eval logs the extracted answer (a filter's output) as `filtered_resps`; minerva_math and ifeval extract
    inside their scorers and log the reply there (their answers: bench/fidelity_lmeval_scoring.py)."""


SLICES = {
    "minerva": [Slice("competition_math", "algebra", "minerva", "minerva_math/minerva_math_algebra.yaml",
                      {"acc_strict": "exact_match", "acc": "math_verify"})],
    "bbh": [Slice("bbh", task, "lm-eval", f"bbh/cot_fewshot/{task}.yaml", {"exact_match": "exact_match"},
                  filtered=True)
            for task in ("boolean_expressions", "date_understanding", "navigate")],
    "ifeval": [Slice("ifeval", "default", "lm-eval", "ifeval/ifeval.yaml",
                     {"prompt_level_strict_acc": "prompt_level_strict_acc",
                      "prompt_level_loose_acc": "prompt_level_loose_acc"})],
}
# Run inside the lm-eval venv: its IFEval needs nltk's Punkt data at import, which cannot be downloaded here.
LMEVAL_MAIN = ("import sys; sys.path.insert(0, {bench!r}); import _lmeval_scorers; _lmeval_scorers.punkt_offline(); "
               "from lm_eval.__main__ import cli_evaluate; cli_evaluate()")


def rows(item: Slice, limit: int, data: Path) -> list[dict[str, Any]]:
    """Our samples of the slice, as the rows lm-eval's task reads."""
    suite = Suite.load(item.benchmark, RunConfig(dataset_dir=data, limit=limit))
    samples = [s for s in suite.samples if isinstance(s, Sample) and s.subset == item.subset][:limit]
    if item.benchmark == "competition_math":
        return [{"problem": s.input, "solution": s.metadata["solution"]} for s in samples]
    if item.benchmark == "bbh":
        return [{"input": s.input, "target": s.metadata["raw_target"]} for s in samples]
    return [{"key": s.metadata["key"], "prompt": s.input, "instruction_id_list": s.metadata["instruction_id_list"],
             "kwargs": s.metadata["kwargs"]} for s in samples]


def task_yaml(item: Slice, name: str, data_file: Path, tasks_root: str) -> str:
    return "\n".join([f"include: {tasks_root}/{item.task_file}", f"task: {name}", "tag: []", "dataset_path: json",
                      "dataset_name: null", f"dataset_kwargs:\n  data_files:\n    test: {data_file}",
                      "training_split: null", "validation_split: null", "test_split: test"]) + "\n"


def run_lmeval(python: str, model: Path, names: list[str], task_dir: Path, out: Path, args: argparse.Namespace
               ) -> dict[str, dict[int, dict[str, Any]]]:
    cmd = [python, "-c", LMEVAL_MAIN.format(bench=str(REPO / "bench")), "--model", "hf", "--model_args",
           f"pretrained={model},dtype=float32", "--tasks", ",".join(names), "--include_path", str(task_dir),
           "--device", "cpu", "--batch_size", str(args.batch_size), "--output_path", str(out), "--log_samples",
           "--gen_kwargs", f"max_gen_toks={args.max_new_tokens}"]
    proc = subprocess.run(cmd, env={**os.environ, **OFFLINE, "OMP_NUM_THREADS": str(args.threads)},
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"lm-eval failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-3:]}")
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for path in out.rglob("samples_*.jsonl"):
        task = next(n for n in names if path.name.startswith(f"samples_{n}_"))
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            found.setdefault(task, {})[int(record["doc_id"])] = record
    return found


def first_difference(a: str, b: str) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"at char {at}: ours {a[at:at + 40]!r} vs lm-eval {b[at:at + 40]!r}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmeval-python", required=True, help="python of an environment with lm-eval installed")
    parser.add_argument("--tasks", nargs="+", default=list(SLICES), choices=list(SLICES))
    parser.add_argument("--limit", type=int, default=8, help="samples per slice")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--dataset-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    model = default_model_folder()
    root = tasks_root(args.lmeval_python)
    ok = True
    print(f"model {model} (fp32), {args.limit} samples per slice, {args.max_new_tokens} new tokens at most")
    for group in args.tasks:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            (tmp / "tasks").mkdir()
            names = []
            for item in SLICES[group]:
                name = f"es_{item.benchmark}_{item.subset}"
                data_file = tmp / "tasks" / f"{name}.jsonl"
                data_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                             for r in rows(item, args.limit, args.dataset_dir)), encoding="utf-8")
                (tmp / "tasks" / f"{name}.yaml").write_text(task_yaml(item, name, data_file, root))
                names.append(name)
            theirs = run_lmeval(args.lmeval_python, model, names, tmp / "tasks", tmp / "lmeval", args)
            first = SLICES[group][0]
            records, _ = run_ours(first.benchmark, [s.subset for s in SLICES[group]], args.limit, model,
                                  args.dataset_dir, tmp / "ours", args.batch_size, args.threads, first.setup,
                                  ["--generation-config", f"do_sample=false,max_new_tokens={args.max_new_tokens}"])
        ok &= report(group, SLICES[group], records, theirs)
    print("PASS" if ok else "FAIL", "(>= 98% of samples agree on the extracted answer and every metric)")
    sys.exit(0 if ok else 1)


def report(group: str, slices: list[Slice], records: list[dict[str, Any]],
           theirs: dict[str, dict[int, dict[str, Any]]]) -> bool:
    counts = {"samples": 0, "prompt": 0, "reply": 0, "answer+metrics": 0}
    notes = []
    for item in slices:
        mine = [r for r in records if r["subset"] == item.subset]
        for record in mine:
            their = theirs.get(f"es_{item.benchmark}_{item.subset}", {}).get(record["index"])
            if their is None:
                notes.append(f"  {record['sample_id']}: lm-eval logged no such sample")
                counts["samples"] += 1
                continue
            counts["samples"] += 1
            prompt, reply = their["arguments"]["gen_args_0"]["arg_0"], their["resps"][0][0]
            counts["prompt"] += record["prompt"] == prompt
            counts["reply"] += record["output"] == reply
            metrics_equal = all(float(record["metrics"][m]) == float(their[t]) for m, t in item.metrics.items())
            answer_equal = not item.filtered or record["extracted"][next(iter(item.metrics))] == \
                their["filtered_resps"][0]
            counts["answer+metrics"] += metrics_equal and answer_equal
            if record["prompt"] != prompt:
                notes.append(f"  {record['sample_id']} prompt differs {first_difference(record['prompt'], prompt)}")
            if record["output"] != reply:
                notes.append(f"  {record['sample_id']} reply differs {first_difference(record['output'], reply)}")
            if not (metrics_equal and answer_equal):
                theirs_read = their["filtered_resps"][0] if item.filtered else ""
                notes.append(f"  {record['sample_id']} scored differently: ours "
                             f"{ {m: record['metrics'][m] for m in item.metrics} } "
                             f"{record['extracted'].get(next(iter(item.metrics)))!r}, lm-eval "
                             f"{ {t: their[t] for t in item.metrics.values()} } {theirs_read!r}")
    n = counts["samples"]
    what = "same answer and metrics" if slices[0].filtered else "same metrics"
    print(f"\n{group}: {n} samples; identical prompts {counts['prompt']}/{n}, identical replies "
          f"{counts['reply']}/{n}, {what} {counts['answer+metrics']}/{n}")
    for note in notes:
        print(note)
    return n > 0 and counts["answer+metrics"] >= 0.98 * n


if __name__ == "__main__":
    main()
