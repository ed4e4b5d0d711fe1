"""Hooks through which other plugins (the arena's, a user's) take part in the core's decisions."""

from __future__ import annotations

import pytest


def pytest_evalscope_gate_prefixes(config: pytest.Config) -> list[str]:
    """Prefixes of the `--gate` expressions this plugin judges itself (the arena: `arena.`); the core leaves gates
    that start with one of them alone. Every plugin's answer counts."""
    return []


@pytest.hookspec(firstresult=True)
def pytest_evalscope_owns_baseline(config: pytest.Config) -> bool | None:
    """True when this plugin reads `--baseline` itself in this session (an arena: a contestant's name, not a
    previous run), so the core does not load it as a run folder. The first non-None answer counts."""
    return None


@pytest.hookspec(firstresult=True)
def pytest_evalscope_owns_judge(config: pytest.Config) -> bool | None:
    """True when this plugin reads `--judge` itself in this session (an arena: `rule` or its judge's SPEC), so the
    core does not build benchmark judges from it. The first non-None answer counts."""
    return None
