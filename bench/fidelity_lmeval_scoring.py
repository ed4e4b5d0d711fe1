"""Our scorers against lm-eval 0.4.13's on the same replies: minerva_math's two metrics and IFEval's checkers.

    python bench/fidelity_lmeval_scoring.py --lmeval-python .venv-lmeval/bin/python [--math-n 500] [--show 10]

This script installs nothing. Give it the python of an environment with lm-eval and its math and ifeval extras:

    python3 -m venv .venv-lmeval && .venv-lmeval/bin/pip install torch==2.13.0 && \\
        .venv-lmeval/bin/pip install "lm-eval[hf,math,ifeval]==0.4.13"

The replies are made up, so that every branch of the scorers is exercised (a 135M model gets almost everything
wrong, and agreeing on wrong answers proves little):
- MATH (the first `--math-n` test problems): the reference solution with a "Final Answer" line giving its answer
  as is, restyled (`x = ...`, `\\text{}`, `\\dfrac`, a unit), another problem's answer, or no answer line at all.
- IFEval (all 541 prompts): nine responses per prompt built from the prompt and its instruction arguments
  (upper and lower case, quoted, JSON, sections, bullets, title, postscript, the keywords repeated, ...).
Printed: agreement per metric (MATH) and per instruction type, strict and loose (IFEval), and every
disagreement (up to `--show` per kind). Pass: MATH >= 98% per metric, IFEval >= 99% of instructions.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evalscope.config import RunConfig  # noqa: E402
from evalscope.kinds.math import minerva_score  # noqa: E402
from evalscope.schema import Completion, Sample  # noqa: E402
from evalscope.scoring.extract import last_boxed  # noqa: E402
from evalscope.suite import Suite  # noqa: E402

LINE = "\nFinal Answer: The final answer is {}. I hope it is correct."


def math_replies(solution: str, answer: str, other: str, index: int) -> Iterator[tuple[str, str]]:
    """(kind, reply) for one problem."""
    restyled = [f"$x = {answer}$", f"$\\text{{{answer}}}$", f"${answer.replace('frac', 'dfrac')}$",
                f"${answer}$ cm", answer][index % 5]
    yield "as is", solution + LINE.format(f"${answer}$")
    yield "restyled", solution + LINE.format(restyled)
    yield "another problem's", solution + LINE.format(f"${other}$")
    yield "no answer line", solution


def math_cases(data: Path, n: int) -> list[dict[str, Any]]:
    suite = Suite.load("competition_math", RunConfig(dataset_dir=data))
    samples = [s for s in suite.samples if isinstance(s, Sample)][:n]
    cases = []
    for i, sample in enumerate(samples):
        solution = str(sample.metadata["solution"])
        other = last_boxed(str(samples[(i + 1) % len(samples)].metadata["solution"])) or ""
        for kind, reply in math_replies(solution, last_boxed(solution) or "", other, i):
            cases.append({"kind": "minerva", "id": sample.id, "variant": kind, "solution": solution,
                          "reply": reply, "problem": sample.input, "target": sample.target})
    return cases


def ifeval_responses(prompt: str, kwargs: list[Mapping[str, Any]]) -> Iterator[str]:
    words = [str(v) for a in kwargs for k, v in a.items() if k in ("keywords", "forbidden_words")
             for v in (v if isinstance(v, list) else [v])]
    words += [str(a[k]) for a in kwargs for k in ("keyword", "letter", "first_word") if a.get(k)]
    ending = next((str(a["end_phrase"]) for a in kwargs if a.get("end_phrase")), "Any other questions?")
    marker = next((str(a["postscript_marker"]) for a in kwargs if a.get("postscript_marker")), "P.S.")
    paragraphs = [p for p in prompt.replace(". ", ".\n").split("\n") if p.strip()]
    yield prompt
    yield prompt.upper()
    yield prompt.lower().replace(",", "")
    yield f'"{prompt}"'
    yield "<<A Title>>\n\n" + "\n***\n".join(paragraphs) + f"\n\n{marker} thanks"
    yield "```json\n" + json.dumps({"answer": prompt}) + "\n```"
    yield ("Sure, here it is:\n* point one\n* point two\n* point three\nSECTION 1\n*highlighted* words, and "
           f"**bold** ones [name] at [address].\nSECTION 2\n{' '.join(words)}\n{ending}")
    yield " ".join(words * 3) + f" {prompt}\n\n{ending}"
    yield "\n\n".join(paragraphs) + "\n******\n" + prompt.lower()


def ifeval_cases(data: Path) -> list[dict[str, Any]]:
    cases = []
    for line in (data / "ifeval" / "input_data.jsonl").read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        for i, response in enumerate(ifeval_responses(doc["prompt"], doc["kwargs"])):
            cases.append({"kind": "ifeval", "id": f"{doc['key']}/{i}", "doc": doc, "response": response})
    return cases


def theirs(python: str, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8", delete=False) as file:
        file.write("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases))
    done = subprocess.run([python, str(REPO / "bench" / "_lmeval_scorers.py"), file.name], capture_output=True,
                          text=True, env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    Path(file.name).unlink()
    if done.returncode != 0:
        sys.exit(f"lm-eval's scorers failed: {done.stderr.strip().splitlines()[-1:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def compare_math(cases: list[dict[str, Any]], verdicts: list[dict[str, Any]], show: int) -> bool:
    agree: Counter[str] = Counter()
    notes: dict[str, list[str]] = {}
    for case, their in zip(cases, verdicts, strict=True):
        sample = Sample(case["problem"], case["target"], metadata={"solution": case["solution"]}, id=case["id"])
        ours = minerva_score(sample, Completion(case["reply"], 0, 0, "stop", ""))
        pairs = {"answer": (ours.extracted["acc_strict"], their["answer"]),
                 "exact_match (acc_strict)": (ours.metrics["acc_strict"], float(their["exact_match"])),
                 "math_verify (acc)": (ours.metrics["acc"], float(their["math_verify"]))}
        for name, (mine, lm) in pairs.items():
            agree[name] += mine == lm
            if mine != lm:
                notes.setdefault(name, []).append(f"  {case['id']} ({case['variant']}): ours {mine!r}, lm-eval "
                                                  f"{lm!r}; reply ends {case['reply'][-90:]!r}")
    n = len(cases)
    print(f"\nMATH, minerva_math scoring: {n} replies over {n // 4} problems")
    ok = True
    for name in ("answer", "exact_match (acc_strict)", "math_verify (acc)"):
        print(f"  {name}: {agree[name]}/{n} agree ({100 * agree[name] / n:.2f}%)")
        ok &= agree[name] >= 0.98 * n
        for note in notes.get(name, [])[:show]:
            print("  " + note)
    return ok


def compare_ifeval(cases: list[dict[str, Any]], verdicts: list[dict[str, Any]], show: int) -> bool:
    from evalscope.scoring.instructions import evaluate

    totals: Counter[str] = Counter()
    agree: Counter[str] = Counter()
    notes: list[str] = []
    for case, their in zip(cases, verdicts, strict=True):
        doc = case["doc"]
        kwargs = [{k: v for k, v in a.items() if v} for a in doc["kwargs"]]
        strict, loose = evaluate(doc["prompt"], doc["instruction_id_list"], kwargs, case["response"])
        for level, mine, lm in (("strict", strict, their["strict"]), ("loose", loose, their["loose"])):
            for kind, a, b in zip(doc["instruction_id_list"], mine, lm, strict=True):
                totals[level] += 1
                totals[f"{level} {kind}"] += 1
                agree[level] += a == b
                agree[f"{level} {kind}"] += a == b
                if a != b:
                    notes.append(f"  {case['id']} {level} {kind}: ours {a}, lm-eval {b}; response starts "
                                 f"{case['response'][:70]!r}")
    print(f"\nIFEval checkers: {len(cases)} responses over {len({c['doc']['key'] for c in cases})} prompts")
    for key in sorted(totals, key=lambda k: (k.count(" "), k)):
        if totals[key] != agree[key] or " " not in key:
            print(f"  {key}: {agree[key]}/{totals[key]} agree ({100 * agree[key] / totals[key]:.2f}%)")
    print(f"  every other instruction type: all agree; {len(notes)} disagreements:")
    for note in notes[:show]:
        print("  " + note)
    return all(agree[level] >= 0.99 * totals[level] for level in ("strict", "loose"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmeval-python", required=True, help="python of an environment with lm-eval installed")
    parser.add_argument("--dataset-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--math-n", type=int, default=500, help="MATH test problems (4 replies each)")
    parser.add_argument("--show", type=int, default=10, help="disagreements shown per kind")
    parser.add_argument("--only", choices=("math", "ifeval"), help="one of the two")
    args = parser.parse_args()
    ok = True
    if args.only != "ifeval":
        cases = math_cases(args.dataset_dir, args.math_n)
        ok &= compare_math(cases, theirs(args.lmeval_python, cases), args.show)
    if args.only != "math":
        cases = ifeval_cases(args.dataset_dir)
        ok &= compare_ifeval(cases, theirs(args.lmeval_python, cases), args.show)
    print("PASS" if ok else "FAIL", "(MATH >= 98% per metric, IFEval >= 99% of instructions, strict and loose)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
