"""Batch groups: a benchmark's selected items cut into backend-sized groups at collection, one xdist group each.

A group is one batch and one unit of xdist's `loadgroup` scheduling, so `-n N` hands whole groups to workers and
no sample is predicted twice. Groups depend only on the selected samples and the group size, never on the worker
count or the run order, which keeps results identical with and without xdist.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable

import pytest

from evalscope.schema import BadRow, Sample

GROUP_KEY = pytest.StashKey[str]()
BENCH_KEY = pytest.StashKey[str]()


def sample_of(item: pytest.Item) -> Sample | BadRow:
    callspec = getattr(item, "callspec", None)
    assert callspec is not None
    value: Sample | BadRow = callspec.params["sample"]
    return value


def suffix_nodeid(item: pytest.Item, group: str) -> None:
    """Append `@group` to the node id, which is how xdist's loadgroup scheduler sees groups.

    xdist does this itself for `xdist_group` marks by assigning `item._nodeid`, which pytest >= 9.2 no
    longer reads (node ids became structured `_id` values), so the plugin does it for both layouts.
    """
    new = f"{item.nodeid}@{group}"
    if hasattr(item, "_id"):
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(new)
    else:
        item._nodeid = new  # type: ignore[attr-defined]


def assign_groups(
    items: list[pytest.Item],
    size: Callable[[str], int],
    xdist_groups: bool,
    key: Callable[[pytest.Item], tuple[str, int]],
) -> None:
    """Give each selected benchmark item its batch group, deterministically on every process; with xdist's
    loadgroup scheduling the group also goes into the node id, so a group is one worker's unit."""
    by_bench: dict[str, list[pytest.Item]] = defaultdict(list)
    for item in items:
        if BENCH_KEY in item.stash:
            by_bench[item.stash[BENCH_KEY]].append(item)
    for name, members in by_bench.items():
        # The suite's batch order (see Suite.batch_key), ties by id: groups never depend on item order.
        # A group never spans two buckets (e.g. two subjects whose samples share a few-shot preamble).
        ordered = sorted(members, key=lambda it: (*key(it), sample_of(it).id))
        n, count = size(name), 0
        for _, bucket in itertools.groupby(ordered, key=lambda it: key(it)[0]):
            bucket_items = list(bucket)
            for start in range(0, len(bucket_items), n):
                group = f"{name}-{count:04d}"
                count += 1
                for item in bucket_items[start : start + n]:
                    item.stash[GROUP_KEY] = group
                    if xdist_groups:
                        suffix_nodeid(item, group)
