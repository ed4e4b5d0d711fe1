"""A load plan: the endpoint, the prompts, the load shape and its bounds; written as JSON for the load processes."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalscope.perf.client import Endpoint


@dataclass(frozen=True)
class LoadPlan:
    """Everything a Locust process needs to generate one sweep point's load."""

    endpoint: Endpoint
    prompts: tuple[str, ...]
    """One per measured request, in dispatch order."""
    users: int
    """Concurrent Locust users: the closed loop's concurrency, the open loop's cap on requests in flight."""
    offsets: tuple[float, ...] | None = None
    """Open loop: each request's scheduled dispatch in seconds after the warm-up; None for closed loop."""
    warmup: int = 1
    """Warm-up requests per user (opens its keep-alive connection); excluded from metrics."""
    max_duration_s: float = 600.0
    """Hard bound on the measured phase; requests still running are cancelled, those not sent are recorded."""
    workers: int = 0
    """Locust worker processes started here (0 with no remote workers: one local process)."""
    remote_workers: int = 0
    """Workers started elsewhere (`evalscope perf-worker --master HOST:PORT`) that the master waits for."""
    master_host: str = "127.0.0.1"
    """Where the Locust master listens: 127.0.0.1, or an interface other machines reach for remote workers."""
    master_port: int = 0
    """Its port (0: a free one; remote workers need a fixed one)."""

    @property
    def all_workers(self) -> int:
        return self.workers + self.remote_workers

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError(f"--parallel must be at least 1, got {self.users}")
        if self.offsets is not None and len(self.offsets) != len(self.prompts):
            raise ValueError("one arrival offset per prompt is needed")
        if self.all_workers and self.users < self.all_workers:
            raise ValueError(f"{self.all_workers} Locust workers need --parallel >= {self.all_workers} (one user each)")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadPlan:
        data = dict(data)
        data["endpoint"] = Endpoint(**data["endpoint"])
        data["prompts"] = tuple(data["prompts"])
        data["offsets"] = None if data.get("offsets") is None else tuple(data["offsets"])
        return cls(**data)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json()), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> LoadPlan:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
