"""MATH's two checks side by side: how often Math-Verify (`acc`) and MATH's string match (`acc_strict`) disagree.

    python bench/math_checks.py [--run RUN_DIR] [--benchmark math_500] [--limit 20]

Reads the per-sample JSONL of a finished run (`--run`), or first runs the benchmark on the default model
(`--limit` per subject), and prints the agreement, then up to five samples of each kind of disagreement with the
answers each check read. The model's replies are scored again here from the JSONL, so a run from before a scorer
change still counts.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from evalscope.config import RunConfig
from evalscope.kinds.math import math_score
from evalscope.schema import Completion, Sample
from evalscope.suite import Suite

REPO = Path(__file__).resolve().parents[1]


def run_benchmark(benchmark: str, limit: int, data: Path, work: Path) -> Path:
    cmd = [sys.executable, "-m", "pytest", str(REPO / "benchmarks" / benchmark), "--limit", str(limit),
           "--dataset-dir", str(data), "--work-dir", str(work), "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"the run failed ({done.returncode}): {done.stdout.strip().splitlines()[-1:]}")
    return max(work.iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a finished run folder (default: run the benchmark now)")
    parser.add_argument("--benchmark", default="math_500", choices=("math_500", "competition_math"))
    parser.add_argument("--limit", type=int, default=20, help="problems per subject when running now")
    parser.add_argument("--dataset-dir", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.run or run_benchmark(args.benchmark, args.limit, args.dataset_dir, Path(tmp))
        records = [json.loads(line) for line in
                   (folder / "predictions" / f"{args.benchmark}.jsonl").read_text(encoding="utf-8").split("\n")
                   if line.strip()]
    suite = Suite.load(args.benchmark, RunConfig(dataset_dir=args.dataset_dir))
    samples = {s.id: s for s in suite.samples if isinstance(s, Sample)}
    kinds: dict[tuple[float, float], list[str]] = {}
    for record in records:
        if "output" not in record:
            continue
        verdict = math_score(samples[record["sample_id"]], Completion(record["output"], 0, 0, "stop", ""))
        key = (verdict.metrics["acc"], verdict.metrics["acc_strict"])
        kinds.setdefault(key, []).append(f"  {record['sample_id']}: target {record['target']!r}, Math-Verify read "
                                         f"{verdict.extracted['acc']!r}, last box {verdict.extracted['acc_strict']!r}")
    total = sum(map(len, kinds.values()))
    agree = len(kinds.get((1.0, 1.0), [])) + len(kinds.get((0.0, 0.0), []))
    print(f"{args.benchmark}: {total} replies, the checks agree on {agree} "
          f"(both right {len(kinds.get((1.0, 1.0), []))}, both wrong {len(kinds.get((0.0, 0.0), []))})")
    for key, label in (((1.0, 0.0), "only Math-Verify accepts"), ((0.0, 1.0), "only the string match accepts")):
        print(f"{label}: {len(kinds.get(key, []))}")
        for line in kinds.get(key, [])[:5]:
            print(line)


if __name__ == "__main__":
    main()
