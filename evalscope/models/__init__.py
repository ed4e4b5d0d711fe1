"""Model backends: a small protocol over batches of requests, and a registry of lazily imported factories."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from evalscope.config import RunConfig
from evalscope.schema import Completion, GenerationRequest


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


BACKENDS = {"transformers": "evalscope.models.hf:TransformersBackend"}
"""Backend name -> `module:factory`; modules are imported only when that backend is used."""


def load(name: str, config: RunConfig, threads: int) -> Generator:
    module_name, _, factory = BACKENDS[name].partition(":")
    module = importlib.import_module(module_name)
    backend: Generator = getattr(module, factory)(config, threads)
    return backend
