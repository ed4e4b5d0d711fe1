"""Metrics of a sweep point, computed with numpy from the raw records (definitions in benchmarks/perf/README.md)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from evalscope.perf.records import RequestRecord

PERCENTILES = (50, 90, 95, 99)
LATENCIES = ("ttft", "tpot", "itl", "e2e")
"""Latency metrics, in seconds; percentiles by numpy's default linear interpolation (as vLLM)."""


@dataclass(frozen=True)
class Distribution:
    """Summary statistics of one latency metric (seconds) over the measured requests (or chunks, for ITL)."""

    n: int
    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float] | np.ndarray) -> Distribution:
        a = np.asarray(values, dtype=float)
        if a.size == 0:
            nan = math.nan
            return cls(0, nan, nan, nan, nan, nan, nan, nan)
        p = np.percentile(a, PERCENTILES)
        return cls(n=int(a.size), mean=float(a.mean()), p50=float(p[0]), p90=float(p[1]), p95=float(p[2]),
                   p99=float(p[3]), min=float(a.min()), max=float(a.max()))


@dataclass(frozen=True)
class RequestMetrics:
    """The latencies of one successful request, in seconds."""

    ttft: float
    """First output-carrying chunk minus dispatch (role-only and empty chunks do not count)."""
    e2e: float
    """Last output-carrying chunk minus dispatch."""
    tpot: float
    """(e2e - ttft) / (output_tokens - 1); NaN for a single-token output."""
    itl: np.ndarray
    """Gaps between consecutive output-carrying chunks (per chunk, not per token)."""
    output_tokens: int
    """`usage.completion_tokens`, or the number of chunks when the server sent no usage."""
    input_tokens: int


def request_metrics(record: RequestRecord) -> RequestMetrics:
    chunks = np.asarray(record.chunk_ns, dtype=np.int64)
    ttft = (chunks[0] - record.dispatch_ns) / 1e9
    e2e = (chunks[-1] - record.dispatch_ns) / 1e9
    tokens = record.completion_tokens if record.completion_tokens is not None else int(chunks.size)
    tpot = (e2e - ttft) / (tokens - 1) if tokens > 1 else math.nan
    return RequestMetrics(ttft=float(ttft), e2e=float(e2e), tpot=float(tpot), itl=np.diff(chunks) / 1e9,
                          output_tokens=tokens, input_tokens=record.prompt_tokens or 0)


@dataclass(frozen=True)
class RequestSlo:
    """Per-request limits (seconds) that decide goodput: a request counts when it meets all of them."""

    ttft: float | None = None
    tpot: float | None = None
    e2e: float | None = None

    def met(self, m: RequestMetrics) -> bool:
        checks = [(self.ttft, m.ttft), (self.tpot, m.tpot), (self.e2e, m.e2e)]
        # A single-token output has no TPOT: it cannot violate a TPOT limit.
        return all(limit is None or math.isnan(value) or value <= limit for limit, value in checks)


@dataclass(frozen=True)
class Summary:
    """One sweep point's results: counts, throughput and latency distributions (JSON-safe via `to_json`)."""

    requests: int
    """Measured requests (warm-up excluded)."""
    successes: int
    errors: dict[str, int]
    """Failed requests by cause."""
    duration_s: float
    """First measured dispatch to last measured response end, on the common wall clock."""
    request_throughput: float
    """Successful requests per second of `duration_s`."""
    output_throughput: float
    """Output tokens (usage) of successful requests per second."""
    total_throughput: float
    """Input plus output tokens of successful requests per second."""
    goodput: float
    """Successful requests meeting every per-request SLO (ttft, tpot, e2e) per second."""
    input_tokens_mean: float
    output_tokens_mean: float
    length_mismatches: int
    """Successful requests whose `usage.completion_tokens` differs from the forced output length."""
    usage_missing: int
    """Successful requests without `usage` (their output tokens are counted as chunks)."""
    latency: dict[str, Distribution]
    """ttft, tpot, itl, e2e (seconds)."""
    lateness: Distribution | None = None
    """Open loop: dispatch minus scheduled time (seconds); None in closed loop."""
    events_per_s: float = 0.0
    """SSE events the client read per second of `duration_s` (client load)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        return self.successes / self.requests if self.requests else math.nan

    def flat(self) -> dict[str, float]:
        """Scalar metrics by SLO name: `ttft_p99`, `tpot_mean`, `success_rate`, `request_throughput`, ..."""
        out: dict[str, float] = {
            "success_rate": self.success_rate, "request_throughput": self.request_throughput,
            "output_throughput": self.output_throughput, "total_throughput": self.total_throughput,
            "goodput": self.goodput, "errors": float(sum(self.errors.values())),
        }
        for name, dist in self.latency.items():
            for stat in ("mean", "p50", "p90", "p95", "p99", "max"):
                out[f"{name}_{stat}"] = getattr(dist, stat)
        if self.lateness is not None:
            for stat in ("mean", "p50", "p99", "max"):
                out[f"lateness_{stat}"] = getattr(self.lateness, stat)
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["success_rate"] = self.success_rate
        return _finite(data)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Summary:
        fields: dict[str, Any] = {k: (math.nan if v is None and k.endswith(("throughput", "_mean", "goodput", "_s"))
                                      else v) for k, v in data.items() if k != "success_rate"}
        fields["latency"] = {k: Distribution(**_nan(v)) for k, v in fields["latency"].items()}
        if fields.get("lateness") is not None:
            fields["lateness"] = Distribution(**_nan(fields["lateness"]))
        return cls(**fields)


def _finite(value: Any) -> Any:
    """NaN is not JSON: write it as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def _nan(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (math.nan if v is None else v) for k, v in data.items()}


def summarize(records: Sequence[RequestRecord], slo: RequestSlo = RequestSlo()) -> Summary:
    """Aggregate the measured (non-warm-up) records of one sweep point."""
    measured = [r for r in records if not r.warmup]
    good = [r for r in measured if r.ok]
    per = [request_metrics(r) for r in good]
    if measured:
        start = min(r.dispatch_ns + r.epoch_offset_ns for r in measured)
        end = max(r.end_ns + r.epoch_offset_ns for r in measured)
        duration = max(end - start, 1) / 1e9
    else:
        duration = math.nan
    out_tokens = np.array([m.output_tokens for m in per], dtype=float)
    in_tokens = np.array([m.input_tokens for m in per], dtype=float)
    latency = {
        "ttft": Distribution.of([m.ttft for m in per]),
        "tpot": Distribution.of([m.tpot for m in per if not math.isnan(m.tpot)]),
        "itl": Distribution.of(np.concatenate([m.itl for m in per]) if per else []),
        "e2e": Distribution.of([m.e2e for m in per]),
    }
    late = [(r.dispatch_ns - r.scheduled_ns) / 1e9 for r in measured if r.scheduled_ns is not None]
    errors = Counter(str(r.error) for r in measured if not r.ok)
    return Summary(
        requests=len(measured), successes=len(good), errors=dict(sorted(errors.items())), duration_s=duration,
        request_throughput=len(good) / duration, output_throughput=float(out_tokens.sum()) / duration,
        total_throughput=float(out_tokens.sum() + in_tokens.sum()) / duration,
        goodput=sum(slo.met(m) for m in per) / duration,
        input_tokens_mean=float(in_tokens.mean()) if per else math.nan,
        output_tokens_mean=float(out_tokens.mean()) if per else math.nan,
        length_mismatches=sum(1 for r in good if r.expected_tokens is not None
                              and r.completion_tokens is not None and r.completion_tokens != r.expected_tokens),
        usage_missing=sum(1 for r in good if r.completion_tokens is None),
        latency=latency, lateness=Distribution.of(late) if late else None,
        events_per_s=sum(r.events for r in measured) / duration,
    )


def metric_names() -> tuple[str, ...]:
    """Every name `Summary.flat` can provide, for validating `--slo` before a run."""
    scalars = ("success_rate", "request_throughput", "output_throughput", "total_throughput", "goodput", "errors")
    stats = ("mean", "p50", "p90", "p95", "p99", "max")
    late = tuple(f"lateness_{s}" for s in ("mean", "p50", "p99", "max"))
    return (*scalars, *(f"{m}_{s}" for m in LATENCIES for s in stats), *late)


def knee(x: Sequence[float], y: Sequence[float]) -> int | None:
    """Index of the knee of a rising curve (Kneedle): the point farthest above the chord from the first to the
    last point, both axes scaled to [0, 1]; None with fewer than 3 points or a flat curve."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xs.size < 3 or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return None
    xn = (xs - xs.min()) / np.ptp(xs)
    yn = (ys - ys.min()) / np.ptp(ys)
    gap = yn - xn * (yn[-1] - yn[0]) - yn[0]
    best = int(np.argmax(gap))
    return best if gap[best] > 0 else None
