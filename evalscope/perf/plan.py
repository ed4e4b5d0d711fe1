"""A load plan: the endpoint, the prompts, the load shape and its bounds; written as JSON for the load processes.

The JSON names the request headers but holds none of their values (an `Authorization` token, say): the plan goes to
every Locust worker that connects to the master, and to a file. Each load process gets the values from its own
environment (`HEADERS_ENV`), set by the runner for the processes it starts and by `evalscope perf-worker` from its
own `--api-key`/`--headers`."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalscope.perf.client import Endpoint

HEADERS_ENV = "EVALSCOPE_PERF_HEADERS"
"""A load process's request headers, as a JSON object: what the plan names, with their values."""


class MissingHeaders(ValueError):
    """The plan names headers this process was not given; the message names them (never a value)."""


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
        """The plan as JSON, its headers by name only."""
        data = dataclasses.asdict(self)
        data["endpoint"]["headers"] = sorted(self.endpoint.headers)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], headers: dict[str, str] | None = None) -> LoadPlan:
        """A plan from its JSON, the headers it names taken from `headers` (default: this process's
        environment, `HEADERS_ENV`); MissingHeaders if one is not there."""
        data = dict(data)
        given = local_headers() if headers is None else headers
        names = list(data["endpoint"].get("headers") or [])
        missing = [n for n in names if n not in given]
        if missing:
            raise MissingHeaders(f"the plan sends header{'s' if len(missing) > 1 else ''} {', '.join(missing)}, "
                                 "which this process was not given (`evalscope perf-worker --api-key KEY` for "
                                 "Authorization, `--headers NAME=VALUE` for others, or env EVALSCOPE_API_KEY)")
        data["endpoint"] = Endpoint(**{**data["endpoint"], "headers": {n: given[n] for n in names}})
        data["prompts"] = tuple(data["prompts"])
        data["offsets"] = None if data.get("offsets") is None else tuple(data["offsets"])
        return cls(**data)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json()), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> LoadPlan:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def local_headers() -> dict[str, str]:
    """This process's header values (`HEADERS_ENV`; none if unset)."""
    text = os.environ.get(HEADERS_ENV)
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise MissingHeaders(f"{HEADERS_ENV} is not a JSON object of header names and values")
    return {str(k): str(v) for k, v in value.items()}


def headers_env(headers: dict[str, str]) -> dict[str, str]:
    """The environment of a load process started here: this one's, with the plan's header values."""
    return {**os.environ, HEADERS_ENV: json.dumps(headers)}
