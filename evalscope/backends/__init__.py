"""Evaluation backends: other harnesses (OpenCompass, ...) run by the seed's `eval_backend` name, each in a venv of
its own, their per-sample results turned into our items. A backend module is imported only when it is named."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Protocol

BACKENDS = {
    "opencompass": "evalscope.backends.opencompass",
}
"""Lower-cased `eval_backend` name -> its module (each gives `pytest_args`); `Native` is our own harness."""
NATIVE = "native"


class BackendError(RuntimeError):
    """A backend that cannot run: not installed, an unknown dataset of its own, its run failed (one line)."""


class BackendModule(Protocol):
    def pytest_args(self, params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The seed's parameters (with `eval_config`) -> our parameters for run.py and extra pytest arguments."""
        ...


def module(name: str) -> ModuleType:
    """The module of the backend called `name` (any case); ValueError naming the known ones."""
    key = name.strip().lower()
    if key not in BACKENDS:
        known = ", ".join(["Native", *sorted(BACKENDS)])
        raise ValueError(f"unknown eval_backend {name!r} (known: {known})")
    return importlib.import_module(BACKENDS[key])


def pytest_args(params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """run.py's parameters and extra pytest arguments for a seed task that names an `eval_backend` (unchanged
    for Native or none)."""
    name = params.get("eval_backend")
    rest = {k: v for k, v in params.items() if k != "eval_backend"}
    if not name or str(name).strip().lower() == NATIVE:
        return rest, []
    chosen: BackendModule = module(str(name))
    return chosen.pytest_args(rest)
