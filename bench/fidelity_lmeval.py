"""Fidelity against lm-evaluation-harness: same weights, same samples, same prompts; compare per sample.

    python bench/fidelity_lmeval.py --lmeval-python /path/to/venv/bin/python [--limit 100] [--tasks arc hellaswag mmlu]

This script installs nothing. Give it the python of an environment with lm-eval (0.4.x) installed, e.g.:

    python3 -m venv /work/venv-lmeval && /work/venv-lmeval/bin/pip install torch==2.13.0 && \\
        /work/venv-lmeval/bin/pip install "lm-eval[hf]"

Both harnesses score the default model (the embedded SmolLM2-135M GGUF, converted to an HF folder) in fp32.
lm-eval gets local task definitions over exactly the samples we score (see bench/_lmeval.py). Reported per
task: samples compared, the largest per-choice loglikelihood difference, predictions that differ (acc and
acc_norm), whether each disagreement is a near-tie (the two top choices within 1e-3 in either harness), and
both aggregate accuracies. Pass criteria (printed): |dll| <= 1e-3, disagreements only at near-ties, aggregate
within 0.5 points.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lmeval import default_model_folder, run_lmeval, run_ours, tasks_root, write_tasks

SLICES = {
    "arc": ["ARC-Easy"],
    "hellaswag": ["validation"],
    "mmlu": ["abstract_algebra", "high_school_geography", "philosophy", "virology"],
    "race": ["middle"],
}
SETUPS = {"race": "lm-eval"}  # our setup reproducing lm-eval's task (the others: the benchmark's default)
TIE = 1e-3


def picks(lls: list[float], choices: list[str]) -> dict[str, int]:
    normalised = [ll / len(c) for ll, c in zip(lls, choices, strict=True)]
    return {"acc": int(np.argmax(lls)), "acc_norm": int(np.argmax(normalised))}


def near_tie(lls: list[float], choices: list[str], metric: str) -> bool:
    values = np.array(lls if metric == "acc" else [ll / len(c) for ll, c in zip(lls, choices, strict=True)])
    top = np.sort(values)[-2:]
    return bool(top[1] - top[0] <= TIE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmeval-python", required=True, help="python of an environment with lm-eval installed")
    parser.add_argument("--tasks", nargs="+", default=list(SLICES), choices=list(SLICES))
    parser.add_argument("--limit", type=int, default=100, help="samples per subset")
    parser.add_argument("--dataset-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    model = default_model_folder()
    ok = True
    print(f"model {model} (fp32), {args.limit} samples per subset")
    print("| task | n | max abs dll | median abs dll | acc ours | acc lm-eval | acc_norm ours | acc_norm lm-eval "
          "| differing picks (near-ties) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for bench in args.tasks:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            tasks = write_tasks(bench, SLICES[bench], args.limit, args.dataset_dir, tmp / "tasks",
                                tasks_root(args.lmeval_python))
            theirs, _ = run_lmeval(args.lmeval_python, model, tasks, tmp / "tasks", tmp / "lmeval",
                                   args.batch_size, args.threads)
            records, _ = run_ours(bench, SLICES[bench], args.limit, model, args.dataset_dir, tmp / "ours",
                                  args.batch_size, args.threads, SETUPS.get(bench))
        by_task = {t.subset: t.name for t in tasks}
        diffs, differ, ties = [], 0, 0
        acc: dict[str, list[float]] = {"acc ours": [], "acc lm": [], "norm ours": [], "norm lm": []}
        notes = []
        for rec in records:
            key = (by_task[rec["subset"]], rec["index"])
            if key not in theirs:
                continue
            ours_ll, their_ll, choices = rec["loglikelihoods"], theirs[key], rec["choices"]
            diffs += [abs(a - b) for a, b in zip(ours_ll, their_ll, strict=True)]
            gold = "ABCDEFGH".index(rec["target"])
            p_ours, p_lm = picks(ours_ll, choices), picks(their_ll, choices)
            metrics = ["acc", "acc_norm"] if bench not in ("mmlu", "race") else ["acc"]
            for metric in metrics:
                short = "acc" if metric == "acc" else "norm"
                acc[f"{short} ours"].append(float(p_ours[metric] == gold))
                acc[f"{short} lm"].append(float(p_lm[metric] == gold))
                if p_ours[metric] != p_lm[metric]:
                    differ += 1
                    tie = near_tie(ours_ll, choices, metric) or near_tie(their_ll, choices, metric)
                    ties += tie
                    notes.append(f"  {bench} {rec['sample_id']} {metric}: ours {p_ours[metric]} vs lm-eval "
                                 f"{p_lm[metric]} ({'near-tie' if tie else 'NOT a near-tie'})")
        n = len(acc["acc ours"])
        mean = {k: (100 * float(np.mean(v)) if v else float("nan")) for k, v in acc.items()}
        print(f"| {bench} | {n} | {max(diffs):.2e} | {float(np.median(diffs)):.2e} | {mean['acc ours']:.2f} | "
              f"{mean['acc lm']:.2f} | {mean['norm ours']:.2f} | {mean['norm lm']:.2f} | {differ} ({ties}) |")
        for note in notes:
            print(note)
        gap = max(abs(mean["acc ours"] - mean["acc lm"]),
                  abs(mean["norm ours"] - mean["norm lm"]) if acc["norm ours"] else 0.0)
        ok &= n > 0 and max(diffs) <= 1e-3 and differ == ties and gap <= 0.5
    print("PASS" if ok else "FAIL", "(|dll| <= 1e-3, disagreements only at near-ties, aggregates within 0.5 points)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
