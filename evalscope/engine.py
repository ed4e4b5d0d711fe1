"""Batched inference behind per-sample test items.

The first item of a batch group (see groups.py) to run predicts every selected sample of that group in one
backend call; its mates then only look the prediction up. Every response is recorded (and cached) as the backend
hands it over, so a failure later in the group keeps what arrived before it. (In-process vLLM takes a worker's
whole share as one group, which its scheduler batches.)
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from evalscope import models
from evalscope.cache import ResponseCache, request_key
from evalscope.config import RunConfig
from evalscope.groups import BENCH_KEY, GROUP_KEY, sample_of
from evalscope.progress import ProgressFactory
from evalscope.schema import ChoiceRequest, GenerationRequest, Request, Response, Sample
from evalscope.suite import Suite


def _model_key(info: dict[str, Any]) -> str:
    """The model as it answers, in every cache key: its weights and tokenizer files, and the chat template it
    renders with."""
    return f"{info['fingerprint']}|template:{info.get('template_sha')}"


class PredictionError(RuntimeError):
    """The backend failed on the batch that held this sample."""


class Engine:
    """This process's predictions. The cache keys come from the model's files where the backend can read them
    there (`models.identify`), so the backend loads (weights read, server contacted) only for the first request
    that no store answers: a rerun whose answers are all kept never loads the model."""

    def __init__(self, config: RunConfig, suites: dict[str, Suite], threads: int, progress: ProgressFactory,
                 store: Path | None = None) -> None:
        self.config = config
        self.suites = suites
        self.threads = threads
        self.progress = progress
        self.members: dict[str, list[pytest.Item]] = defaultdict(list)
        self.results: dict[tuple[str, str], Response | BaseException] = {}
        self.backend: models.Backend | None = None
        self.identity: dict[str, Any] | None = None
        """The model info that keys the stores while the backend is not loaded (`loaded: false`)."""
        self.fatal: BaseException | None = None
        """A backend that failed to load (or cannot serve the setup) fails every later group at once."""
        self.predicted = 0
        """Samples this process sent to the backend (the exactly-once check sums this over workers)."""
        self.batches = 0
        self.cache = ResponseCache(config.cache) if config.cache is not None else None
        """`--use-cache`'s cache, shared across runs."""
        self.store_path = store
        self.store: ResponseCache | None = None
        """The run's own responses (`<run>/responses.sqlite`), opened when the first answer arrives: what
        `--resume` reuses."""

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

    def _backend(self) -> models.Backend:
        if self.fatal is not None:
            raise self.fatal
        if self.backend is None:
            try:
                self.backend = models.load(self.config, self.threads)
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
        if self.suites[bench].bench.external:
            self._answer_external(bench, group, samples, keys)
            return
        try:
            requests = [self.suites[bench].request(s) for s in samples]
        except Exception as exc:
            self._fail(keys, exc)
            return
        self.predict(f"{bench} batch {group.rsplit('-', 1)[1]}", keys, requests,
                     lambda i: self._prepare(bench, samples[i]))

    def predict(self, label: str, keys: list[tuple[str, str]], requests: list[Request],
                on_answer: Callable[[int], None] | None = None) -> None:
        """Answer `requests` (all of one kind) into `results[keys[i]]`: from the stores where they hold the
        answer, the rest in one backend call, each answer stored as it arrives; `on_answer(i)` as each is there.
        A failure gives the keys still unanswered its error."""
        try:
            info = self._model()
            cache_keys = self._from_cache(info, requests, keys, range(len(keys)))
            todo = self._unanswered(keys, range(len(keys)), on_answer)
            if not todo:
                return
            backend = self._backend()
            if _model_key(backend.info()) != _model_key(info):
                # The files told less than the loaded model does (see `models.Identifiable`): the rest are looked
                # up and kept under the keys of what answers them.
                info = backend.info()
                cache_keys.update(self._from_cache(info, requests, keys, todo))
                todo = self._unanswered(keys, todo, on_answer)
                if not todo:
                    return
            self.batches += 1
            asked = [requests[i] for i in todo]
            steps = len(asked) if isinstance(asked[0], ChoiceRequest) else \
                self.config.generation.max_new_tokens * -(-len(asked) // self.config.eval_batch_size)
            with self.progress(label, steps) as update:
                for j, response in self._ask(backend, asked, update):
                    i = todo[j]
                    for cache in self._caches():
                        cache.put(cache_keys[i], backend.name, str(info["fingerprint"]), requests[i], response)
                    self.results[keys[i]] = response
                    self.predicted += 1
                    if on_answer is not None:
                        on_answer(i)
            self._fail(keys, RuntimeError(f"the {backend.name} backend returned no answer"))
        except models.CapabilityError as exc:
            # Not a per-sample failure: every later group would fail the same way, so the session stops.
            self.fatal = exc
            self._fail(keys, exc)
        except Exception as exc:
            self._fail(keys, exc)

    def _answer_external(self, bench: str, group: str, samples: list[Sample], keys: list[tuple[str, str]]) -> None:
        """A group of a benchmark that another harness answers and judges (see `Benchmark.external`), its files
        in `<run>/<benchmark>/<group>`; nothing is cached: that harness keeps its own outputs."""
        assert self.store_path is not None
        try:
            self.batches += 1
            answers = self.suites[bench].bench.external_answers(samples, self.store_path.parent / bench / group)
            for i, response in answers:
                self.results[keys[i]] = response
                self.predicted += 1
            self._fail(keys, RuntimeError(f"{bench} gave no answer"))
        except Exception as exc:
            self._fail(keys, exc)

    def _prepare(self, bench: str, sample: Sample) -> None:
        """Let the benchmark start slow scoring (programs to run) while the model goes on; if that fails, scoring
        the item fails the same way, with its own message."""
        response = self.results.get((bench, sample.id))
        if response is not None and not isinstance(response, BaseException):
            with contextlib.suppress(Exception):
                self.suites[bench].prepare(sample, response)

    @staticmethod
    def _ask(backend: models.Backend, asked: list[Request], update: Any) -> Iterator[tuple[int, Response]]:
        """The backend's answers as they arrive: loglikelihoods for choice requests, else generations."""
        if isinstance(asked[0], ChoiceRequest):
            return models.scorer(backend).loglikelihood([r for r in asked if isinstance(r, ChoiceRequest)], update)
        return backend.generate([r for r in asked if isinstance(r, GenerationRequest)], update)

    def _caches(self) -> list[ResponseCache]:
        """Where answers are kept: the run's own store, then `--use-cache`'s."""
        if self.store is None and self.store_path is not None:
            self.store = ResponseCache(self.store_path)
        return [c for c in (self.store, self.cache) if c is not None]

    def _model(self) -> dict[str, Any]:
        """The model info that keys the stores: the loaded backend's, else what the files tell (the model stays
        unloaded), else (a remote backend, a tokenizer with code of its own) the backend loaded to tell it."""
        if self.backend is None and self.identity is None and self.fatal is None:
            try:
                self.identity = models.identify(self.config)
            except BaseException as exc:  # a model that is not there: every later group fails at once, as a load
                self.fatal = exc
                raise
        if self.backend is None and self.identity is not None:
            return self.identity
        return self._backend().info()

    def _from_cache(self, info: dict[str, Any], requests: list[Request], keys: list[tuple[str, str]],
                    which: Iterable[int]) -> dict[int, str]:
        """Fill `results` from the stores for the requests at `which`; their cache keys, by place. An answer found
        only in the shared cache is copied into the run's store, so a resumed run has it too."""
        backend = str(info["backend"])
        cache_keys = {i: request_key(_model_key(info), backend, requests[i], self.config) for i in which}
        caches = self._caches()
        for i, cache_key in cache_keys.items():
            for n, cache in enumerate(caches):
                hit = cache.get(cache_key)
                if hit is not None:
                    self.results[keys[i]] = hit
                    if n and caches[0] is self.store:
                        caches[0].put(cache_key, backend, str(info["fingerprint"]), requests[i], hit)
                    break
        return cache_keys

    def _unanswered(self, keys: list[tuple[str, str]], which: Iterable[int],
                    on_answer: Callable[[int], None] | None) -> list[int]:
        """The places in `which` still without an answer; `on_answer` for the others."""
        todo = []
        for i in which:
            if keys[i] not in self.results:
                todo.append(i)
            elif on_answer is not None:
                on_answer(i)
        return todo

    def _fail(self, keys: list[tuple[str, str]], exc: BaseException) -> None:
        """Samples of the group without an answer get the error; answers that arrived before it stay."""
        for key in keys:
            if key not in self.results:
                self.results[key] = exc

    def info(self) -> dict[str, Any]:
        model = self.backend.info() if self.backend is not None else dict(self.identity or {})
        kept = {name: {"path": str(c.path), "hits": c.hits, "misses": c.misses}
                for name, c in (("cache", self.cache), ("store", self.store)) if c is not None}
        # Counts that differ per process: added up over the workers in the report's `run` section.
        per_process: dict[str, Any] = {key: model.pop(key) for key in ("retries", "endpoints") if key in model}
        return {"model": model, "predicted": self.predicted, "batches": self.batches, **kept, **per_process}

    def close(self) -> None:
        for cache in (self.cache, self.store):
            if cache is not None:
                cache.close()
        if self.backend is not None:
            self.backend.close()
