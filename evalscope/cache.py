"""Per-request response cache: one SQLite row (WAL mode) per answered request, committed as it arrives."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

from evalscope import utf8
from evalscope.config import ConfigError, RunConfig
from evalscope.schema import ChoiceLoglikelihoods, ChoiceRequest, Completion, GenerationRequest, Request, Response

FORMAT_VERSION = 1
"""Bump when what a request means changes (prompt rendering, stop handling, the split of continuations),
so that an older answer is never served for a request that would now be sent differently."""


def request_key(fingerprint: str, backend: str, request: Request, config: RunConfig) -> str:
    """sha256 over everything that decides the answer: model, backend, the exact request, decoding settings."""
    material = {
        "format": FORMAT_VERSION,
        "model": fingerprint,
        "backend": backend,
        "kind": type(request).__name__,
        "request": asdict(request),  # prompt + system + stop strings, or context + continuations
        "generation": asdict(config.generation) if isinstance(request, GenerationRequest) else None,
        "model_args": asdict(config.model_args),
        "seed": config.seed,
        "template": config.template,
    }
    # surrogatepass: a prompt with a lone surrogate gets a key too (valid text hashes as before)
    return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
                          ).hexdigest()


def _encode(response: Response) -> str:
    # SQLite stores UTF-8: a reply with a lone surrogate is stored escaped, and read back as it was.
    return utf8.dumps({"type": type(response).__name__, **asdict(response)})


def _decode(text: str) -> Response:
    data: dict[str, Any] = json.loads(text)
    kind = data.pop("type")
    if kind == "Completion":
        return Completion(**{**data, "texts": tuple(data.get("texts", ())),
                              "tool_calls": tuple(data.get("tool_calls", ()))})
    for name in ("loglikelihoods", "greedy", "continuation_tokens"):
        data[name] = tuple(data[name])
    return ChoiceLoglikelihoods(**data)


class CacheError(ConfigError):
    """A cache file that cannot be opened or read; the message names it, on one line."""


class ResponseCache:
    """A SQLite file shared by runs and xdist workers; every `put` is its own committed transaction. A cache that
    cannot be written any more (a full disk, a lock held too long) warns once and the run goes on without it."""

    def __init__(self, path: Path, timeout: float = 60.0) -> None:
        self.path = path
        self._lock = threading.Lock()  # API responses arrive on pool threads
        self.failed: str | None = None
        """Why writes stopped, if they did."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=timeout, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a killed process (only an OS crash may lose the last commits).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, backend TEXT, model TEXT,"
                             " kind TEXT, response TEXT NOT NULL, created REAL)")
            self._db.execute("SELECT count(*) FROM responses").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise CacheError(f"{path}: cannot open the response cache ({exc}); move it aside or use another "
                             "--use-cache") from None
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Response | None:
        try:
            with self._lock:
                row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            self._give_up(f"cannot read it any more ({exc})")
            row = None
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return _decode(row[0])

    def put(self, key: str, backend: str, model: str, request: Request, response: Response) -> None:
        kind = "loglikelihood" if isinstance(request, ChoiceRequest) else "generate"
        if self.failed is not None:
            return
        try:
            with self._lock:
                self._db.execute("INSERT OR REPLACE INTO responses (key, backend, model, kind, response, created) "
                                 "VALUES (?, ?, ?, ?, ?, ?)", (key, backend, model, kind, _encode(response),
                                                                time.time()))
        except sqlite3.Error as exc:
            self._give_up(f"cannot write it ({exc}); answers are still scored, but not kept for a rerun")

    def _give_up(self, why: str) -> None:
        if self.failed is None:
            self.failed = why
            warnings.warn(f"response cache {self.path}: {why}", stacklevel=3)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
