"""A fleet of OpenAI-compatible endpoints serving one model: each request goes to the endpoint with the fewest
requests outstanding; one that fails is taken out for a while and tried again later; counts and latencies per
endpoint for the report."""

from __future__ import annotations

import bisect
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

FAILURES_TO_TAKE_OUT = 2
"""Consecutive failed attempts (5xx after the server's own retries, timeouts, dropped connections) after which an
endpoint is taken out; a refused connection takes it out at once (nothing listens there)."""
COOLDOWN_S = 2.0
"""How long an endpoint first stays out; doubled each time it is taken out again without a success between."""
COOLDOWN_CAP_S = 60.0

# Latency histogram: log-spaced bucket edges from 1 ms to ~1000 s (5% apart), mergeable across processes.
_EDGES = tuple(0.001 * 1.05**k for k in range(284))


def _bucket(seconds: float) -> int:
    return bisect.bisect_left(_EDGES, seconds)


def quantile(histogram: dict[int, int], q: float) -> float | None:
    """The q-quantile of a latency histogram (its bucket's upper edge: within 5%); None when empty."""
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = math.ceil(q * total), 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return _EDGES[min(bucket, len(_EDGES) - 1)]
    return None


@dataclass
class Endpoint:
    """One server of the fleet, with its own client and counts."""

    url: str
    """What messages and the report show (no credentials)."""
    client: Any
    outstanding: int = 0
    down_until: float = 0.0
    """Taken out until this time.monotonic() (0: in service)."""
    failures: int = 0
    """Consecutive failed attempts."""
    cooldown: float = COOLDOWN_S
    requests: int = 0
    failed: int = 0
    taken_out: int = 0
    latency_sum: float = 0.0
    histogram: dict[int, int] = field(default_factory=dict)
    """Bucket -> answered requests (see `quantile`)."""

    def stats(self) -> dict[str, Any]:
        answered = sum(self.histogram.values())
        return {"requests": self.requests, "failed": self.failed, "taken_out": self.taken_out,
                "answered": answered, "latency_sum_s": self.latency_sum,
                "histogram": {str(k): v for k, v in sorted(self.histogram.items())}}


class Fleet:
    """The endpoints of one backend, shared by its request threads."""

    def __init__(self, endpoints: list[Endpoint]) -> None:
        assert endpoints
        self.endpoints = endpoints
        self._lock = threading.Lock()
        self._turn = 0
        """Ties go round-robin from here, so idle endpoints share a trickle of requests too."""

    def acquire(self) -> Endpoint:
        """The endpoint for the next attempt: the least busy of those in service, else (all out) the one due back
        first, so that a fleet whose servers all restart is tried again rather than given up on."""
        with self._lock:
            now = time.monotonic()
            n = len(self.endpoints)
            order = [self.endpoints[(self._turn + i) % n] for i in range(n)]
            live = [e for e in order if e.down_until <= now]
            chosen = min(live, key=lambda e: e.outstanding) if live else min(order, key=lambda e: e.down_until)
            self._turn = (self.endpoints.index(chosen) + 1) % n
            chosen.outstanding += 1
            chosen.requests += 1
            return chosen

    def succeeded(self, endpoint: Endpoint, seconds: float) -> None:
        with self._lock:
            endpoint.outstanding -= 1
            endpoint.failures, endpoint.down_until, endpoint.cooldown = 0, 0.0, COOLDOWN_S
            endpoint.latency_sum += seconds
            bucket = _bucket(seconds)
            endpoint.histogram[bucket] = endpoint.histogram.get(bucket, 0) + 1

    def finished(self, endpoint: Endpoint) -> None:
        """An attempt that ended with an answer that is not the endpoint's fault (e.g. a 400 for this request)."""
        with self._lock:
            endpoint.outstanding -= 1
            endpoint.failures = 0

    def failed(self, endpoint: Endpoint, refused: bool) -> None:
        with self._lock:
            endpoint.outstanding -= 1
            endpoint.failed += 1
            endpoint.failures += 1
            if (refused or endpoint.failures >= FAILURES_TO_TAKE_OUT) and endpoint.down_until <= time.monotonic():
                endpoint.down_until = time.monotonic() + endpoint.cooldown
                endpoint.cooldown = min(endpoint.cooldown * 2, COOLDOWN_CAP_S)
                endpoint.taken_out += 1

    def all_out(self) -> bool:
        now = time.monotonic()
        return all(e.down_until > now for e in self.endpoints)

    def stats(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {e.url: e.stats() for e in self.endpoints}


def merge_stats(parts: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per-endpoint counts of several processes (xdist workers) added up, with the latency summary the report
    shows: mean, p50 and p95 of answered requests."""
    out: dict[str, dict[str, Any]] = {}
    for part in parts:
        for url, s in part.items():
            into = out.setdefault(url, {"requests": 0, "failed": 0, "taken_out": 0, "answered": 0,
                                        "latency_sum_s": 0.0, "histogram": {}})
            for key in ("requests", "failed", "taken_out", "answered", "latency_sum_s"):
                into[key] += s[key]
            for bucket, n in s["histogram"].items():
                into["histogram"][bucket] = into["histogram"].get(bucket, 0) + n
    for s in out.values():
        histogram = {int(k): v for k, v in s.pop("histogram").items()}
        s["latency_mean_s"] = s.pop("latency_sum_s") / s["answered"] if s["answered"] else None
        s["latency_p50_s"], s["latency_p95_s"] = quantile(histogram, 0.5), quantile(histogram, 0.95)
    return out
