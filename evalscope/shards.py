"""Shards: the K-th of N disjoint parts of a run's selected items, for job schedulers (Slurm arrays, Kubernetes
Indexed Jobs) to run on many machines; `evalscope merge` puts the parts back together."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from evalscope.config import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    index: int
    """0-based."""
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def _number(name: str, text: str) -> int:
    if not text.strip().isdigit():
        raise ConfigError(f"--shard: {name}={text!r} is not a non-negative integer")
    return int(text)


def parse(text: str | None, env: Mapping[str, str] = os.environ) -> Shard | None:
    """`--shard K/N` (K from 0), or `auto` / `auto/N`: K (and N) from the scheduler. Slurm arrays give both
    (`SLURM_ARRAY_TASK_ID` counted from `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT`); a Kubernetes Indexed
    Job gives K (`JOB_COMPLETION_INDEX`) and N is its `completions`, written `auto/N`. Never on its own: a
    scheduler's variables alone do not shard a run (an array may run one model per task)."""
    if text is None or not text.strip():
        return None
    given_index, _, given_count = text.strip().partition("/")
    if given_index == "auto":
        if "SLURM_ARRAY_TASK_ID" in env:
            index = _number("SLURM_ARRAY_TASK_ID", env["SLURM_ARRAY_TASK_ID"]) - \
                _number("SLURM_ARRAY_TASK_MIN", env.get("SLURM_ARRAY_TASK_MIN", "0"))
            count_text = given_count or env.get("SLURM_ARRAY_TASK_COUNT", "")
            where = "SLURM_ARRAY_TASK_COUNT"
        elif "JOB_COMPLETION_INDEX" in env:
            index = _number("JOB_COMPLETION_INDEX", env["JOB_COMPLETION_INDEX"])
            count_text, where = given_count, "auto/N (the Job's completions)"
        else:
            raise ConfigError("--shard auto: no scheduler index found (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX); "
                              "give --shard K/N")
        if not count_text:
            raise ConfigError(f"--shard auto: the number of shards is unknown: give {where}")
        count = _number("N", count_text)
    else:
        if not given_count:
            raise ConfigError(f"--shard: {text!r} is not K/N (e.g. 0/4) or auto")
        index, count = _number("K", given_index), _number("N", given_count)
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"--shard {index}/{count}: K must be in 0..N-1 and N at least 1")
    return Shard(index, count)


def part(ordered: Sequence[T], shard: Shard) -> list[T]:
    """This shard's contiguous slice of one benchmark's items in batch order: each shard gets 1/N of every
    benchmark, and a slice keeps whole the buckets (a subject's shared few-shot preamble) it does not straddle."""
    n = len(ordered)
    return list(ordered[shard.index * n // shard.count : (shard.index + 1) * n // shard.count])


SETTINGS = ("model", "model_args", "generation_config", "template", "seed", "limit")
"""What makes two shards parts of the same run, besides each benchmark's setup, version and data."""


def settings(report: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a shard's report was run with: the model's fingerprint, decoding and selection, and per
    benchmark its setup, version and data hashes (not the data's paths: machines mount it in different places)."""
    model = report.get("model") or {}
    out: dict[str, Any] = {key: report.get(key) for key in SETTINGS if key != "model"}
    out["model"] = model.get("fingerprint") or model.get("id")
    for bench in report.get("benchmarks") or []:
        out[f"benchmark {bench.get('name')}"] = {key: bench.get(key) for key in
                                                 ("version", "setup", "dataset_sha256")}
    return out


def digest(report: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings(report), sort_keys=True, default=str).encode()).hexdigest()[:16]


def differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The settings two reports differ in, named."""
    left, right = settings(a), settings(b)
    return [key for key in sorted(set(left) | set(right)) if left.get(key) != right.get(key)]
