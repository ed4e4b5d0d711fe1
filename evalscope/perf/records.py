"""Raw per-request records, the source of truth every metric is computed from (one JSONL line each)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    """What the client saw of one request; all times are the sending process's `perf_counter_ns`."""

    index: int
    """Position in the request plan (warm-up requests count from -1 downwards)."""
    warmup: bool
    """Warm-up requests open the connections and are excluded from every metric."""
    worker: int
    """Load-generator process (Locust worker index; 0 without workers)."""
    dispatch_ns: int
    """Just before the request's first byte is written to the socket."""
    chunk_ns: tuple[int, ...]
    """Arrival of each streamed event that carries output (content, reasoning or tool-call delta, or text)."""
    chunk_text: tuple[str, ...]
    """The output delta of each of those events (the whole text in non-streaming mode)."""
    end_ns: int
    """When the response was read to its end (`[DONE]`, the body, or the error)."""
    status: int
    """HTTP status; 0 when no response came."""
    error: str | None = None
    """Cause of a failure (`connect`, `timeout`, `http_<status>`, `protocol`, `cancelled`, ...); None on success."""
    error_detail: str = ""
    scheduled_ns: int | None = None
    """Open loop: when the arrival process scheduled this dispatch; None in closed loop."""
    prompt_tokens: int | None = None
    """The server's `usage.prompt_tokens`."""
    completion_tokens: int | None = None
    """The server's `usage.completion_tokens`; None when the server sent no usage."""
    expected_tokens: int | None = None
    """The forced output length (`max_tokens` with `min_tokens`/`ignore_eos`), None when not forced."""
    events: int = 0
    """SSE events read, including role-only, usage and `[DONE]` events (client throughput)."""
    epoch_offset_ns: int = 0
    """`time_ns() - perf_counter_ns()` in the sending process: aligns processes on one wall clock."""

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestRecord:
        data = dict(data)
        data["chunk_ns"] = tuple(data.get("chunk_ns", ()))
        data["chunk_text"] = tuple(data.get("chunk_text", ()))
        return cls(**data)


def write_jsonl(path: Path, records: Iterable[RequestRecord]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> Iterator[RequestRecord]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield RequestRecord.from_json(json.loads(line))
