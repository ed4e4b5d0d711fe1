"""Side by side with EvalScope 1.14.1's answer readers of the image benchmarks, on made-up replies.

    python bench/fidelity_evalscope_vision.py --evalscope-python .venv-evalscope/bin/python

The cases are tests/test_image_scorers.py's (right answers in several forms, wrong ones, the readers' quirks). The
given python (an environment with `pip install evalscope==1.14.1`) scores each with EvalScope's own functions:
mmmu's `parse_answers` (multiple choice) and `extract_answer_line` + `parse_open_response` + `eval_open` (open),
chartqa's `extract_answer_line` + `relaxed_correctness`; ours score them with the benchmarks' setups. Prints the
agreement per reader and every disagreement; exits 1 on any.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalscope.schema import Sample
from tests.test_image_scorers import CHART, CHARTQA, MMMU, MMMU_CHOICE, MMMU_OPEN, _score

THEIRS = r"""
import json, sys
from types import SimpleNamespace
from evalscope.benchmarks.chartqa.utils import relaxed_correctness
from evalscope.benchmarks.mmmu.utils import eval_open, parse_open_response
from evalscope.utils.multi_choices import extract_answer_line, parse_answers
import ast
cases = json.load(sys.stdin)
out = {"choice": [], "open": [], "chart": []}
for reply, n, gold, _ in cases["choice"]:
    state = SimpleNamespace(choices=["x"] * n, output=SimpleNamespace(completion=reply))
    out["choice"].append("".join(sorted(parse_answers(state, completion=reply))) == gold)
for gold, reply, _ in cases["open"]:
    said = extract_answer_line(reply)
    said = reply.strip() if said is None else said
    wanted = ast.literal_eval(gold) if gold.startswith("[") else gold
    out["open"].append(bool(eval_open(wanted, parse_open_response(said))))
for gold, reply, _ in cases["chart"]:
    out["chart"].append(bool(relaxed_correctness(extract_answer_line(reply) or "", gold)))
print(json.dumps(out))
"""


def ours() -> dict[str, list[bool]]:
    return {
        "choice": [_score(MMMU, Sample("q", g, tuple("wxyz"[:n]), {"question_type": "multiple-choice"}), r) == 1.0
                   for r, n, g, _ in MMMU_CHOICE],
        "open": [_score(MMMU, Sample("q", g, metadata={"question_type": "open"}), r) == 1.0
                 for g, r, _ in MMMU_OPEN],
        "chart": [_score(CHARTQA, Sample("q", g), r) == 1.0 for g, r, _ in CHART],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evalscope-python", required=True)
    args = parser.parse_args()
    cases = {"choice": MMMU_CHOICE, "open": MMMU_OPEN, "chart": CHART}
    proc = subprocess.run([args.evalscope_python, "-c", THEIRS], input=json.dumps(cases), capture_output=True,
                          text=True, cwd="/", env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    # (cwd and env: that python imports its own evalscope, not this checkout's)
    if proc.returncode:
        sys.exit(f"EvalScope's readers failed: {proc.stderr.strip().splitlines()[-1:]}")
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    mine, bad = ours(), 0
    for reader, rows in cases.items():
        same = sum(a == b for a, b in zip(mine[reader], theirs[reader], strict=True))
        print(f"{reader}: {same}/{len(rows)} verdicts identical")
        for row, a, b in zip(rows, mine[reader], theirs[reader], strict=True):
            if a != b:
                bad += 1
                print(f"  differs on {row[:3]!r}: ours {a}, EvalScope {b}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
