"""Batched inference behind per-sample test items.

Samples are cut into groups at collection (length-sorted, `eval_batch_size` each); a group is one batch
and one `xdist_group`, so `-n N` hands whole groups to workers and no sample is predicted twice. The first
item of a group to run predicts every sample of that group; its mates then only look the
prediction up. Batch composition depends only on the selected samples and the batch size, never on the
worker count or run order, which keeps results identical with and without xdist. (In-process vLLM is the
exception: a worker hands its whole share to vLLM, whose scheduler batches it.)
"""

from __future__ import annotations

import contextlib
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from evalscope import models
from evalscope.cache import ResponseCache, request_key
from evalscope.config import RunConfig
from evalscope.schema import BadRow, ChoiceRequest, GenerationRequest, Response, Sample
from evalscope.suite import Suite

GROUP_KEY = pytest.StashKey[str]()
BENCH_KEY = pytest.StashKey[str]()

ProgressFactory = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]
"""(description, total steps) -> context giving an `update(n)` function."""


class PredictionError(RuntimeError):
    """The backend failed on the batch that held this sample."""


@contextlib.contextmanager
def no_progress(desc: str, total: int) -> Iterator[Callable[[int], None]]:
    yield lambda n: None


def sample_of(item: pytest.Item) -> Sample | BadRow:
    callspec = getattr(item, "callspec", None)
    assert callspec is not None
    value: Sample | BadRow = callspec.params["sample"]
    return value


def _suffix_nodeid(item: pytest.Item, group: str) -> None:
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
                        _suffix_nodeid(item, group)


class Engine:
    """This process's predictions; the backend loads on the first group that needs it."""

    def __init__(self, config: RunConfig, suites: dict[str, Suite], threads: int, progress: ProgressFactory) -> None:
        self.config = config
        self.suites = suites
        self.threads = threads
        self.progress = progress
        self.members: dict[str, list[pytest.Item]] = defaultdict(list)
        self.results: dict[tuple[str, str], Response | BaseException] = {}
        self.backend: models.Generator | None = None
        self.fatal: BaseException | None = None
        """A backend that failed to load fails every later group at once, instead of loading again."""
        self.predicted = 0
        """Samples this process sent to the backend (the exactly-once check sums this over workers)."""
        self.batches = 0
        self.cache = ResponseCache(config.cache) if config.cache is not None else None

    def bind(self, items: list[pytest.Item]) -> None:
        """Remember the final (post-deselection) members of each group, in run order."""
        self.members.clear()
        for item in items:
            if GROUP_KEY in item.stash:
                self.members[item.stash[GROUP_KEY]].append(item)

    def completion(self, item: pytest.Item) -> Response:
        bench, sample = item.stash[BENCH_KEY], sample_of(item)
        key = (bench, sample.id)
        if key not in self.results:
            self._predict_group(item.stash[GROUP_KEY])
        result = self.results.get(key)
        if isinstance(result, BaseException):
            first_line = (str(result).strip().splitlines() or [""])[0]
            raise PredictionError(f"{type(result).__name__}: {first_line}") from result
        assert result is not None
        return result

    def _backend(self) -> models.Generator:
        if self.fatal is not None:
            raise self.fatal
        if self.backend is None:
            try:
                self.backend = models.load(self.config.backend, self.config, self.threads)
            except BaseException as exc:
                self.fatal = exc
                raise
        return self.backend

    def _predict_group(self, group: str) -> None:
        pending = [
            it for it in self.members[group]
            if isinstance(sample_of(it), Sample) and (it.stash[BENCH_KEY], sample_of(it).id) not in self.results
        ]
        if not pending:
            return
        bench = pending[0].stash[BENCH_KEY]
        samples = [s for s in map(sample_of, pending) if isinstance(s, Sample)]
        keys = [(bench, s.id) for s in samples]
        try:
            requests = [self.suites[bench].request(s) for s in samples]
            backend = self._backend()
            cache_keys = self._from_cache(backend, requests, keys)
            todo = [i for i, key in enumerate(keys) if key not in self.results]
            if not todo:
                return

            def arrived(j: int, response: Response) -> None:
                # Called per batch (local) or per response (API): cached before the rest of the group is done.
                i = todo[j]
                if self.cache is not None:
                    self.cache.put(cache_keys[i], backend.name, str(backend.info().get("fingerprint")),
                                   requests[i], response)
                self.results[keys[i]] = response
                self.predicted += 1

            self.batches += 1
            asked = [requests[i] for i in todo]
            desc = f"{bench} batch {group.rsplit('-', 1)[1]}"
            completions: list[Response]
            if all(isinstance(r, ChoiceRequest) for r in asked):
                scorer = models.scorer(backend)
                with self.progress(desc, len(asked)) as update:
                    completions = list(scorer.loglikelihood([r for r in asked if isinstance(r, ChoiceRequest)],
                                                            update, arrived))
            else:
                steps = self.config.generation.max_new_tokens * -(-len(asked) // self.config.eval_batch_size)
                with self.progress(desc, steps) as update:
                    completions = list(backend.generate([r for r in asked if isinstance(r, GenerationRequest)],
                                                        update, arrived))
        except models.CapabilityError as exc:
            # Not a per-sample failure: every later group would fail the same way, so the session stops.
            self.fatal = exc
            self._fail(keys, exc)
            return
        except Exception as exc:
            self._fail(keys, exc)
            return
        for j, completion in enumerate(completions):
            if keys[todo[j]] not in self.results:
                arrived(j, completion)

    def _from_cache(self, backend: models.Generator, requests: list[Any], keys: list[tuple[str, str]]) -> list[str]:
        """Fill `results` from the cache; the cache keys of all requests (empty without a cache)."""
        if self.cache is None:
            return []
        fingerprint = str(backend.info()["fingerprint"])
        cache_keys = [request_key(fingerprint, backend.name, r, self.config) for r in requests]
        for key, cache_key in zip(keys, cache_keys, strict=True):
            hit = self.cache.get(cache_key)
            if hit is not None:
                self.results[key] = hit
        return cache_keys

    def _fail(self, keys: list[tuple[str, str]], exc: BaseException) -> None:
        """Samples of the group without an answer get the error; answers that arrived before it stay."""
        for key in keys:
            if key not in self.results:
                self.results[key] = exc

    def info(self) -> dict[str, Any]:
        model = self.backend.info() if self.backend is not None else {}
        cache = {} if self.cache is None else {"cache": {"path": str(self.cache.path), "hits": self.cache.hits,
                                                         "misses": self.cache.misses}}
        return {"model": model, "predicted": self.predicted, "batches": self.batches, **cache}

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
        close = getattr(self.backend, "close", None)  # backends holding processes (vLLM's engine core)
        if close is not None:
            close()
