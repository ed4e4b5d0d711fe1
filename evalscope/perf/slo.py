"""SLO gates: parse `--slo "ttft_p99<=500ms,success_rate>=0.99"` and check a sweep point's summary against it."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from evalscope.perf.metrics import LATENCIES, RequestSlo

OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt,
}
UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
_TERM = re.compile(r"^\s*([a-z_0-9]+)\s*(<=|>=|<|>)\s*([0-9.eE+-]+)\s*([a-z]*)\s*$")


class SloError(ValueError):
    """A malformed `--slo` term; the message names it."""


@dataclass(frozen=True)
class Slo:
    """One gate: `metric op threshold`; latency thresholds are stored in seconds."""

    metric: str
    op: str
    threshold: float
    text: str

    def holds(self, value: float) -> bool:
        return not math.isnan(value) and OPS[self.op](value, self.threshold)

    def describe(self, value: float) -> str:
        shown = _show(self.metric, value)
        return f"{self.text}: measured {shown} ({'ok' if self.holds(value) else 'VIOLATED'})"


def _is_latency(metric: str) -> bool:
    return metric.split("_", 1)[0] in (*LATENCIES, "lateness")


def _show(metric: str, value: float) -> str:
    return f"{value * 1e3:.2f}ms" if _is_latency(metric) else f"{value:.4g}"


def parse(text: str | None, known: Sequence[str]) -> tuple[Slo, ...]:
    """Parse comma-separated terms; `known` lists the metric names a summary provides."""
    if not text:
        return ()
    slos = []
    for term in text.split(","):
        match = _TERM.match(term)
        if match is None:
            raise SloError(f"--slo: cannot parse {term.strip()!r} "
                           "(expected e.g. ttft_p99<=500ms or success_rate>=0.99)")
        metric, op, number, unit = match.groups()
        if metric not in known:
            raise SloError(f"--slo: unknown metric {metric!r} in {term.strip()!r}; known: {', '.join(known)}")
        try:
            value = float(number)
        except ValueError:
            raise SloError(f"--slo: {number!r} is not a number in {term.strip()!r}") from None
        if _is_latency(metric):
            if unit not in UNITS:
                raise SloError(f"--slo: {term.strip()!r} needs a time unit (s, ms or us)")
            value *= UNITS[unit]
        elif unit:
            raise SloError(f"--slo: {metric} takes no unit, got {unit!r}")
        slos.append(Slo(metric, op, value, term.strip()))
    return tuple(slos)


def violations(slos: Sequence[Slo], values: Mapping[str, float]) -> list[str]:
    """One line per gate, measured value included; empty when all hold."""
    lines = [slo.describe(values[slo.metric]) for slo in slos]
    return lines if any(not slo.holds(values[slo.metric]) for slo in slos) else []


def request_slo(slos: Sequence[Slo]) -> RequestSlo:
    """Per-request limits for goodput, from the latency gates' upper bounds (the tightest per metric)."""
    limits: dict[str, float] = {}
    for slo in slos:
        name = slo.metric.split("_", 1)[0]
        if name in ("ttft", "tpot", "e2e") and slo.op in ("<=", "<"):
            limits[name] = min(limits.get(name, math.inf), slo.threshold)
    return RequestSlo(**limits)
