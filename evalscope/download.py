"""`evalscope download`: a model and benchmark datasets fetched from the hubs into one folder, for offline runs."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from evalscope import hub, registry


def copy(snapshot: Path, target: Path) -> Path:
    """A plain copy of a hub snapshot (the hub caches hold symlinks, which must not travel as links)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(snapshot, target, symlinks=False, ignore=shutil.ignore_patterns(".git", ".cache"))
    return target


def fetch_model(model: str, to: Path, revision: str | None = None) -> Path:
    """`to/models/<id>`: the model's files (ModelScope first, then Hugging Face)."""
    return copy(hub.snapshot(model, "model", revision), to / "models" / model)


def fetch_dataset(name: str, to: Path) -> Path:
    """`to/<data folder>`: the benchmark's hub dataset, in the hub's layout (which `--dataset-dir` reads)."""
    bench = registry.get(name)
    if bench.hub is None:
        raise hub.HubError(f"{name} has no hub dataset (its data comes with the harness's own data folder)")
    return copy(hub.snapshot(bench.hub, "dataset"), to / bench.data_dir_name)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="evalscope download", description=__doc__.splitlines()[0], epilog=(
        "Then, on the offline machine: HF_HUB_OFFLINE=1 pytest benchmarks/NAME --dataset-dir DIR "
        "--model DIR/models/ID"))
    p.add_argument("--model", help="a hub model id, e.g. Qwen/Qwen2-0.5B-Instruct")
    p.add_argument("--revision", help="the model's revision (branch, tag or commit)")
    p.add_argument("--datasets", nargs="+", default=[], help="benchmark names, e.g. gsm8k mmlu")
    p.add_argument("--to", type=Path, required=True, help="the folder to fill (copy it to the offline machine)")
    args = p.parse_args(argv)
    if not args.model and not args.datasets:
        p.error("nothing to download: give --model and/or --datasets")
    try:
        for name in args.datasets:
            registry.benchmark_dir(name)  # an unknown name fails before anything is fetched
    except registry.UnknownBenchmark as exc:
        print(f"evalscope download: error: {exc}", file=sys.stderr)
        return 4
    try:
        if args.model:
            print(f"model {args.model} -> {fetch_model(args.model, args.to, args.revision)}")
        for name in args.datasets:
            print(f"dataset {name} -> {fetch_dataset(name, args.to)}")
    except (hub.HubError, OSError) as exc:
        print(f"evalscope download: error: {exc}", file=sys.stderr)
        return 1
    model = f" --model {args.to / 'models' / args.model}" if args.model else ""
    print(f"offline: HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 pytest benchmarks/NAME --dataset-dir {args.to}{model}")
    return 0
