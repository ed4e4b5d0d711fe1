"""Model backends: a small protocol over batches of requests, and a registry of lazily imported factories."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from evalscope.config import RunConfig
from evalscope.schema import ChoiceLoglikelihoods, ChoiceRequest, Completion, GenerationRequest


class Generator(Protocol):
    """A backend that completes prompts; it sorts and batches a whole group of requests as it likes."""

    name: str

    def generate(
        self, requests: Sequence[GenerationRequest], on_step: Callable[[int], None] | None = None
    ) -> list[Completion]:
        """One completion per request, in request order; `on_step` reports decoding progress."""
        ...

    def info(self) -> dict[str, Any]:
        """Model id, fingerprint and settings, for the report."""
        ...


@runtime_checkable
class Scorer(Protocol):
    """A backend that can score continuations by log-probability (multiple choice by loglikelihood)."""

    def loglikelihood(
        self, requests: Sequence[ChoiceRequest], on_step: Callable[[int], None] | None = None
    ) -> list[ChoiceLoglikelihoods]:
        """One result per request, in request order; `on_step` reports requests done."""
        ...


class CapabilityError(RuntimeError):
    """The backend cannot serve a request type the benchmark's setup needs."""


def scorer(backend: Generator) -> Scorer:
    if not isinstance(backend, Scorer):
        raise CapabilityError(f"backend {backend.name!r} cannot score loglikelihoods; "
                              "choose a generation setup for this benchmark (e.g. --dataset-args '{\"arc\": "
                              "{\"setup\": \"generation\"}}')")
    return backend


BACKENDS = {"transformers": "evalscope.models.hf:TransformersBackend"}
"""Backend name -> `module:factory`; modules are imported only when that backend is used."""


def load(name: str, config: RunConfig, threads: int) -> Generator:
    module_name, _, factory = BACKENDS[name].partition(":")
    module = importlib.import_module(module_name)
    backend: Generator = getattr(module, factory)(config, threads)
    return backend
