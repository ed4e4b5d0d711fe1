"""Benchmark data files: find them (the user's folder, the data root, beside the definition, or a hub snapshot) and
hash them for the report. Reading them into rows is `evalscope.rows`."""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from evalscope import hub
from evalscope.benchmark import Benchmark
from evalscope.config import DatasetArgs
from evalscope.rows import shards
from evalscope.schema import DataError


def _match(folder: Path, pattern: str) -> Path | None:
    """The first file matching `pattern` (a glob) in `folder` (a plain path: `evals[v2]/` is no pattern)."""
    hits = sorted(glob.glob(str(Path(glob.escape(str(folder))) / pattern)))
    return Path(hits[0]) if hits else None


def locate(bench: Benchmark, definition: Path | None, dataset_dir: Path | None, args: DatasetArgs,
           needed: Sequence[str]) -> dict[str, Path]:
    """Split -> file for `bench`: from `local_path`, `<dataset_dir>/<name>`, a `data/` folder beside the
    benchmark's definition (the folder `definition`, when it has one), or a hub snapshot. A local folder may hold
    the files in the benchmark's own layout or in its hub dataset's (as `evalscope download` leaves them)."""
    candidates: list[Path] = []
    if args.local_path:
        candidates.append(Path(args.local_path).expanduser())
    if dataset_dir is not None:
        candidates.append(dataset_dir / bench.data_dir_name)
    if definition is not None and (definition / "data").is_dir():
        candidates.append(definition / "data")
    layouts = [bench.splits, {**bench.splits, **bench.hub_splits}] if bench.hub_splits else [bench.splits]
    for folder in candidates:
        for layout in layouts:
            files = {s: _match(folder, layout[s]) for s in needed}
            if all(files.values()):
                return {s: p for s, p in files.items() if p is not None}
    if candidates and (args.local_path or os.environ.get("HF_HUB_OFFLINE") == "1"):
        missing = [bench.splits[s] for s in needed]
        raise DataError(f"{bench.name}: no {' / '.join(missing)} under {candidates[0]}")
    return _from_hub(bench, needed, candidates)


def _from_hub(bench: Benchmark, needed: Sequence[str], tried: list[Path]) -> dict[str, Path]:
    """Download the dataset repo (ModelScope first, then Hugging Face) and find the split files in it."""
    where = f"under {tried[0]}" if tried else "locally (no --dataset-dir / EVALSCOPE_DATASET_DIR)"
    if bench.hub is None:
        raise DataError(f"{bench.name}: no data {where}, and it has no hub id")
    try:
        folder = hub.snapshot(bench.hub, "dataset")
    except hub.HubError as exc:
        raise DataError(f"{bench.name}: no data {where}, and {exc}") from None
    patterns = {**bench.splits, **bench.hub_splits}
    files = {s: _match(folder, patterns[s]) for s in needed}
    if not all(files.values()):
        raise DataError(f"{bench.name}: the hub copy of {bench.hub} in {folder} lacks {patterns[needed[0]]}")
    return {s: p for s, p in files.items() if p is not None}


def sha256_files(files: Mapping[str, Path]) -> dict[str, str]:
    """sha256 of each split's data, written into every report; a folder hashes its files' names and bytes."""
    out = {}
    for split, path in files.items():
        digest = hashlib.sha256()
        members = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else shards(path)
        for member in members:
            if path.is_dir():
                digest.update(str(member.relative_to(path)).encode() + b"\0")
            with open(member, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        out[split] = digest.hexdigest()
    return out
