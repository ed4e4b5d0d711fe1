"""Model backends: a small protocol over batches of requests, and a registry of lazily imported factories."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from evalscope.config import RunConfig
from evalscope.schema import ChoiceLoglikelihoods, ChoiceRequest, Completion, GenerationRequest


class Generator(Protocol):
    """A backend that completes prompts; it sorts and batches a whole group of requests as it likes."""

    name: str

    def generate(
        self, requests: Sequence[GenerationRequest], on_step: Callable[[int], None] | None = None,
        on_result: Callable[[int, Completion], None] | None = None,
    ) -> list[Completion]:
        """One completion per request, in request order; `on_step` reports decoding progress; `on_result(i, c)`
        is called as soon as request i's completion exists (per batch or per response), so it can be cached
        before the rest of the group is done."""
        ...

    def info(self) -> dict[str, Any]:
        """Model id, fingerprint and settings, for the report."""
        ...


@runtime_checkable
class Scorer(Protocol):
    """A backend that can score continuations by log-probability (multiple choice by loglikelihood)."""

    def loglikelihood(
        self, requests: Sequence[ChoiceRequest], on_step: Callable[[int], None] | None = None,
        on_result: Callable[[int, ChoiceLoglikelihoods], None] | None = None,
    ) -> list[ChoiceLoglikelihoods]:
        """One result per request, in request order; `on_step` reports requests done; `on_result` as in
        `Generator.generate`. Raises CapabilityError before any request when the backend cannot score."""
        ...


class CapabilityError(RuntimeError):
    """The backend cannot serve a request type the benchmark's setup needs."""


def scorer(backend: Generator) -> Scorer:
    if not isinstance(backend, Scorer):
        raise CapabilityError(f"backend {backend.name!r} cannot score loglikelihoods; "
                              "choose a generation setup for this benchmark (e.g. --dataset-args '{\"arc\": "
                              "{\"setup\": \"generation\"}}')")
    return backend


BACKENDS = {
    "transformers": "evalscope.models.hf:TransformersBackend",
    "openai": "evalscope.models.openai_api:OpenAIBackend",
    "vllm": "evalscope.models.vllm_local:VllmBackend",
}
"""Backend name -> `module:factory`; modules are imported only when that backend is used."""


SERVER_GROUP = 4
"""A server gets this many times `--concurrency` samples per call, so requests stay in flight through most of it."""


def group_size(config: RunConfig, batch: int, selected: int, workers: int) -> int:
    """Samples per backend call, decided at collection (before any backend loads): `batch` for a local model;
    a server gets SERVER_GROUP x `--concurrency`; in-process vLLM a worker's whole share (`selected` samples
    over `workers` processes), which its scheduler batches continuously."""
    if config.backend == "openai":
        return max(batch, SERVER_GROUP * config.concurrency)
    if config.backend == "vllm":
        return max(batch, -(-selected // max(workers, 1)))
    return batch


def describe_local(backend: str, model_id: str, fingerprint: str, folder: Path, dtype: Any,
                   chat_template: str | None, **extra: Any) -> dict[str, Any]:
    """`info()` of a backend that loads weights in this process (model id, fingerprint, folder, dtype, ...)."""
    return {"backend": backend, "id": model_id, "fingerprint": fingerprint, "path": str(folder),
            "dtype": str(dtype).removeprefix("torch."), "chat_template": chat_template is not None, **extra}


def load(name: str, config: RunConfig, threads: int) -> Generator:
    module_name, _, factory = BACKENDS[name].partition(":")
    module = importlib.import_module(module_name)
    backend: Generator = getattr(module, factory)(config, threads)
    return backend
