"""Multiple-choice throughput: ARC-Easy (first N test questions) or MMLU 5-shot (whole subjects) through our
harness and lm-eval's HF backend.

    python bench/mcq_throughput.py --lmeval-python /path/to/venv/bin/python [--limit 500] [--batch-size 16]
    python bench/mcq_throughput.py --lmeval-python ... --benchmark mmlu   # 3 subjects, 464 questions

Installs nothing; see bench/fidelity_lmeval.py for creating the lm-eval environment. Same model (the default
SmolLM2-135M, converted HF folder, fp32), same questions, same prompts (lm-eval's arc_easy: 0-shot, loglikelihood
of each answer text; lm-eval's mmlu: 5 dev shots, " A".." D"), same batch size and thread count. Each harness
runs as a subprocess timed from launch to exit (imports, model load, data, scoring and reports included). The two
alternate `--rounds` times, since this machine's speed drifts; the ratio uses the sums. Prints samples/s for each and
the ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lmeval import default_model_folder, run_lmeval, run_ours, write_tasks

SUBSETS = {"arc": ["ARC-Easy"], "mmlu": ["abstract_algebra", "high_school_geography", "virology"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmeval-python", required=True)
    parser.add_argument("--benchmark", choices=sorted(SUBSETS), default="arc")
    parser.add_argument("--subsets", nargs="+", help="default: " + "; ".join(
        f"{name}: {' '.join(subsets)}" for name, subsets in SUBSETS.items()))
    parser.add_argument("--limit", type=int, default=500, help="questions per subset")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--dataset-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    model = default_model_folder()
    bench, subsets = args.benchmark, args.subsets or SUBSETS[args.benchmark]
    load = os.getloadavg()[0]
    totals = {"evalscope": 0.0, "lm-eval": 0.0}
    counts = {"evalscope": 0, "lm-eval": 0}
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            tasks = write_tasks(bench, subsets, args.limit, args.dataset_dir, tmp / "tasks")
            records, ours = run_ours(bench, subsets, args.limit, model, args.dataset_dir, tmp / "ours",
                                     args.batch_size, args.threads)
            theirs, lm = run_lmeval(args.lmeval_python, model, tasks, tmp / "tasks", tmp / "lmeval",
                                    args.batch_size, args.threads)
        totals["evalscope"] += ours
        totals["lm-eval"] += lm
        counts["evalscope"] += len(records)
        counts["lm-eval"] += len(theirs)
        print(f"round {round_ + 1}: evalscope {len(records)} samples in {ours:.1f} s, "
              f"lm-eval {len(theirs)} samples in {lm:.1f} s")
    rate = {k: counts[k] / totals[k] for k in totals}
    print(f"{bench} {' '.join(subsets)}: {counts['evalscope'] // args.rounds} questions, batch {args.batch_size}, "
          f"{args.threads} threads, fp32, "
          f"load average before: {load:.2f}")
    print(f"evalscope: {rate['evalscope']:.2f} samples/s")
    print(f"lm-eval:   {rate['lm-eval']:.2f} samples/s")
    print(f"ratio (evalscope / lm-eval): {rate['evalscope'] / rate['lm-eval']:.2f}")


if __name__ == "__main__":
    main()
