"""Model backends: a small protocol over batches of requests, and the registry of lazily imported backends."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from evalscope.schema import ChoiceLoglikelihoods, ChoiceRequest, Completion, GenerationRequest

if TYPE_CHECKING:
    from evalscope.config import RunConfig
    from evalscope.models.identity import LocalModel

R = TypeVar("R")

Progress = Callable[[int], None] | None
"""Called with the number of steps done since the last call (decoding steps, or requests)."""


class Backend(Protocol):
    """A model that completes prompts; it sorts and batches a whole group of requests as it likes."""

    name: ClassVar[str]
    remote: ClassVar[bool]
    """Served elsewhere (an API): `--model` names a served model, not weights on this machine."""

    @classmethod
    def group_size(cls, config: RunConfig, batch: int, selected: int, workers: int) -> int:
        """Samples per backend call, decided at collection (before any backend loads): `batch` is the local
        batch for the setup, `selected` the benchmark's selected samples, `workers` the xdist processes."""
        ...

    def generate(self, requests: Sequence[GenerationRequest],
                 on_step: Progress = None) -> Iterator[tuple[int, Completion]]:
        """(index into `requests`, completion) for every request, each as soon as it exists (per batch or per
        response), so it is recorded and cached before the rest of the group is done."""
        ...

    def info(self) -> dict[str, Any]:
        """Model id, fingerprint and settings, for the report."""
        ...

    def close(self) -> None:
        """Release what the backend holds (processes, connections) at the end of the session."""
        ...


@runtime_checkable
class Scorer(Protocol):
    """A backend that can score continuations by log-probability (multiple choice by loglikelihood)."""

    def loglikelihood(self, requests: Sequence[ChoiceRequest],
                      on_step: Progress = None) -> Iterator[tuple[int, ChoiceLoglikelihoods]]:
        """(index, result) for every request as each is done, as in `Backend.generate`. Raises CapabilityError
        when called, before any request, when the backend cannot score."""
        ...


@runtime_checkable
class Identifiable(Protocol):
    """A backend class that knows its model's cache keys from the model's files, before loading it: a cached
    rerun then loads nothing (a remote backend asks its server instead, which is cheap)."""

    @classmethod
    def identify(cls, config: RunConfig) -> dict[str, Any] | None:
        """`info()` as far as the files tell (`fingerprint` and `template_sha` exactly as the loaded backend's,
        `loaded: false`), or None where only loading tells."""
        ...


class CapabilityError(RuntimeError):
    """The backend cannot serve a request type the benchmark's setup needs."""


def refuse_images(requests: Sequence[GenerationRequest], model: str) -> None:
    """A text-only model given images: one line saying so, before anything reaches its tokenizer."""
    if any(r.images for r in requests):
        raise CapabilityError(f"model {model!r} is text-only: it cannot see the images these requests carry; "
                              "evaluate a vision-language model (or a server that serves one)")


def scorer(backend: Backend) -> Scorer:
    if not isinstance(backend, Scorer):
        raise CapabilityError(f"backend {backend.name!r} cannot score loglikelihoods; "
                              "choose a generation setup for this benchmark (e.g. --dataset-args '{\"arc\": "
                              "{\"setup\": \"generation\"}}')")
    return backend


BACKENDS = {
    "transformers": "evalscope.models.transformers_local:TransformersBackend",
    "openai": "evalscope.models.openai_api:OpenAIBackend",
    "vllm": "evalscope.models.vllm_local:VllmBackend",
}
"""Backend name -> `module:class`, the single list of names; a module is imported only when its backend is used
(and none of them imports its heavy dependency at module level)."""
LOCAL_DEFAULT, REMOTE_DEFAULT = "transformers", "openai"
"""The backend without `--backend`: in process, or the API one when `--api-url` names a server."""


VISION = "evalscope.models.vision:VisionBackend"
"""The transformers backend for a local vision-language model (`resolve.is_vision_model`)."""


def _import(path: str) -> type[Backend]:
    module_name, _, attr = path.partition(":")
    cls: type[Backend] = getattr(importlib.import_module(module_name), attr)
    return cls


def backend_class(name: str) -> type[Backend]:
    return _import(BACKENDS[name])


def load(config: RunConfig, threads: int) -> Backend:
    """The backend `config` names, loaded (weights read, server checked)."""
    factory: Callable[[RunConfig, int], Backend] = backend_class(config.backend)
    from evalscope.models import resolve

    if config.backend == "transformers" and resolve.is_vision_model(config.model, config.model_args.revision):
        factory = _import(VISION)  # a vision-language folder loads through its processor
    return factory(config, threads)


def identify(config: RunConfig) -> dict[str, Any] | None:
    """The model info of what `config` names without loading it (see `Identifiable`); None: load it to know."""
    cls = backend_class(config.backend)
    return cls.identify(config) if isinstance(cls, Identifiable) else None


def in_order(results: Iterable[tuple[int, R]]) -> list[R]:
    """A backend's (index, result) pairs as a list in request order."""
    return [r for _, r in sorted(results, key=lambda pair: pair[0])]


def describe_local(backend: str, model: LocalModel, dtype: Any, **extra: Any) -> dict[str, Any]:
    """`info()` of a backend that has loaded weights in this process: what the files say (model id, fingerprint,
    folder, `template_sha`: see `LocalModel.info`), then the dtype and the rest."""
    return {**model.info(backend), "dtype": str(dtype).removeprefix("torch."), "loaded": True, **extra}
