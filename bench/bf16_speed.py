"""precision=bfloat16 against our own fp32 on a CPU: ARC-Easy loglikelihoods, speed and agreeing picks, one process.

    python bench/bf16_speed.py [--limit 2376] [--threads 2] [--batch-size 16]

The default model is loaded twice through the transformers backend, fp32 then bfloat16 (on a CPU: bf16 linear
layers, fp32 residual stream; evalscope/models/mixed.py), and scores the same ARC-Easy requests (lm-eval's 0-shot
prompts, the harness's packing and batching). Timed: the scoring calls alone (model load excluded, the same for
both). Printed: samples/s for each, their ratio, and how often the two agree on the acc and acc_norm picks, with
the largest and median per-choice loglikelihood difference. Pass: ratio >= 1.6 and agreement >= 99% on both.
Run alone on the machine: it measures time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lmeval import default_model_folder

from evalscope.config import DatasetArgs, ModelArgs, RunConfig
from evalscope.models import in_order
from evalscope.schema import Sample
from evalscope.suite import Suite


def picks(loglikelihoods: list[float], choices: tuple[str, ...]) -> tuple[int, int]:
    """acc's and acc_norm's choice (acc_norm divides by the continuation's characters, as lm-eval does)."""
    norm = [ll / len(c) for ll, c in zip(loglikelihoods, choices, strict=True)]
    return int(np.argmax(loglikelihoods)), int(np.argmax(norm))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=2376, help="ARC-Easy test questions (2376: all)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--dataset-dir", type=Path,
                        default=Path(os.environ.get("EVALSCOPE_DATASET_DIR",
                                                    Path(__file__).resolve().parents[2] / "shared" / "data")))
    args = parser.parse_args()
    from evalscope.models.transformers_local import TransformersBackend

    base = RunConfig(model=str(default_model_folder()), dataset_dir=args.dataset_dir, limit=args.limit,
                     eval_batch_size=args.batch_size, dataset_args={"arc": DatasetArgs(subset_list=("ARC-Easy",))})
    suite = Suite.load("arc", base)
    requests = [suite.request(s) for s in suite.samples if isinstance(s, Sample)][: args.limit]
    results, seconds = {}, {}
    for precision in ("float32", "bfloat16"):
        backend = TransformersBackend(RunConfig(**{**base.__dict__, "model_args": ModelArgs(precision=precision)}),
                                      args.threads)
        start = time.perf_counter()
        results[precision] = [r.loglikelihoods for r in in_order(backend.loglikelihood(requests))]
        seconds[precision] = time.perf_counter() - start
        info = backend.info()
        print(f"{precision:>8}: {len(requests)} questions in {seconds[precision]:.1f} s = "
              f"{len(requests) / seconds[precision]:.2f} samples/s  ({info.get('compute', info['dtype'])})")
        del backend
    fp32, bf16 = results["float32"], results["bfloat16"]
    pairs = [(picks(a, r.continuations), picks(b, r.continuations)) for a, b, r in zip(fp32, bf16, requests,
                                                                                     strict=True)]
    acc = np.mean([x[0] == y[0] for x, y in pairs])
    norm = np.mean([x[1] == y[1] for x, y in pairs])
    diff = [max(abs(x - y) for x, y in zip(a, b, strict=True)) for a, b in zip(fp32, bf16, strict=True)]
    ratio = seconds["float32"] / seconds["bfloat16"]
    print(f"ratio bfloat16 / float32 speed: {ratio:.2f}x")
    print(f"picks agreeing with fp32: acc {acc:.2%}, acc_norm {norm:.2%}; |dll| median {np.median(diff):.4f}, "
          f"max {max(diff):.4f}")
    print("PASS" if ratio >= 1.6 and min(acc, norm) >= 0.99 else "FAIL", "(>= 1.6x, >= 99% agreement)")


if __name__ == "__main__":
    main()
