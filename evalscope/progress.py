"""Live progress of each batch: a tqdm bar drawn past pytest's output capture, on the controller only."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

ProgressFactory = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]
"""(description, total steps) -> context giving an `update(n)` function."""


@contextlib.contextmanager
def no_progress(desc: str, total: int) -> Iterator[Callable[[int], None]]:
    yield lambda n: None


def terminal_progress(config: pytest.Config) -> ProgressFactory:
    """Bars on the terminal pytest writes to (xdist workers have none: they draw nothing)."""
    if hasattr(config, "workerinput"):
        return no_progress

    @contextlib.contextmanager
    def progress(desc: str, total: int) -> Iterator[Callable[[int], None]]:
        from tqdm import tqdm

        capture = config.pluginmanager.getplugin("capturemanager")
        live = capture.global_and_fixture_disabled if capture else contextlib.nullcontext
        with live():
            bar = tqdm(total=total, desc=desc, unit="step", leave=False, disable=None, file=sys.stderr)

        def update(n: int) -> None:
            if not bar.disable:
                with live():
                    bar.update(n)

        try:
            yield update
        finally:
            with live():
                bar.close()

    return progress
