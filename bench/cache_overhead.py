"""Harness overhead per item: all of MMLU (14042 questions) collected, answered from a warm response cache and
reported, against pytest collecting the same items.

    python bench/cache_overhead.py [--model FOLDER] [--limit N] [--cache DIR]

The first run fills the cache (`--use-cache`), the second is timed: every answer a hit, so what it measures is the
harness (collection, prompt building, cache keys and lookups, scoring, reports), not the model. The model only
changes how long the first run takes: without `--model`, a one-layer model with random weights and the default
model's tokenizer (built into a temporary folder; loads in a fraction of a second) fills the cache in minutes,
where the default model needs about 20. The baseline, timed in the same run, is `pytest --collect-only` over the
same items. Each timing is a whole process, launch to exit; its CPU seconds are printed too (steadier than wall
time on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lmeval import OFFLINE, REPO, default_model_folder


def tiny_model(out: Path) -> Path:
    """A one-layer Llama of random weights that reads and writes the default model's tokens."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    source = default_model_folder()
    config = AutoConfig.from_pretrained(source)
    config.update({"num_hidden_layers": 1, "hidden_size": 64, "intermediate_size": 128,
                   "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32})
    import torch

    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(source).save_pretrained(out)
    return out


def session(model: Path, args: argparse.Namespace, work: Path, *extra: str) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "pytest", str(REPO / "benchmarks" / "mmlu"), "-q", "-p", "no:cacheprovider",
           "--model", str(model), "--dataset-dir", str(args.dataset_dir), "--work-dir", str(work),
           f"--use-cache={args.cache}", "--threads", "1", *(["--limit", str(args.limit)] if args.limit else []),
           *extra]
    start, used = time.perf_counter(), _children_cpu()
    proc = subprocess.run(cmd, env={**os.environ, **OFFLINE}, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"pytest failed ({proc.returncode}): {proc.stdout.strip().splitlines()[-3:]}")
    CPU[work.name] = _children_cpu() - used
    return seconds, proc.stdout


CPU: dict[str, float] = {}
"""Each session's CPU seconds (user + system): on a busy machine a steadier measure than wall time."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="default: a one-layer random model (see above)")
    parser.add_argument("--limit", type=int, help="questions per subject (default: all)")
    parser.add_argument("--cache", type=Path, help="default: a temporary folder (a kept one skips the warm-up)")
    parser.add_argument("--dataset-dir", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model = args.model or tiny_model(tmp / "tiny")
        args.cache = args.cache or tmp / "cache"
        warm, _ = session(model, args, tmp / "warm")
        print(f"warm-up (fills the cache where it is empty): {warm:.1f} s")
        collect, listing = session(model, args, tmp / "collect", "--collect-only")
        timed, _ = session(model, args, tmp / "timed")
        report = json.loads(next((tmp / "timed").rglob("report.json")).read_text())
    run = report["run"]
    items = run["scored"] + run["errors"]
    # A question asked twice (MMLU has a few duplicates) is a hit in the run's own store the second time.
    print(f"items: {items} scored, {run['errors']} errors; hits: cache {run['cache']['hits']}, "
          f"run store {run['store']['hits']}; predicted by the model: {run['predicted']}")
    collected = listing.strip().splitlines()[-1]
    print(f"collect only ({collected}): {collect:.1f} s, {1000 * collect / items:.2f} ms per item")
    print(f"answered from cache: {timed:.1f} s, {1000 * timed / items:.2f} ms per item "
          f"(collection, lookups, scoring, reports)")
    print(f"ratio (cached run / collect only): {timed / collect:.2f}")
    print(f"CPU seconds: collect only {CPU['collect']:.1f}, answered from cache {CPU['timed']:.1f} "
          f"({1000 * (CPU['timed'] - CPU['collect']) / items:.2f} ms per item beyond collection); "
          f"ratio {CPU['timed'] / CPU['collect']:.2f}")


if __name__ == "__main__":
    main()
