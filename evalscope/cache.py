"""Per-request response cache: one SQLite row (WAL mode) per answered request, committed as it arrives.

A loglikelihood row keeps its scores and the id of its frame (the chat template's text around the context, one row
of `frames` per template and system prompt), not the rendered prompt: the context is the request's own, hashed
into the key and held by every lookup. Rows written with the whole prompt (before this layout) read as they are."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalscope import utf8
from evalscope.config import ConfigError, RunConfig
from evalscope.schema import (
    ChoiceLoglikelihoods,
    ChoiceRequest,
    Completion,
    GenerationRequest,
    Request,
    Response,
    plain,
)

FORMAT_VERSION = 1
"""The request format the keys hash. Bump when what a request means changes (prompt rendering, stop handling, the
split of continuations), so that an older answer is never served for a request that would now be sent differently.
A row's own layout needs no bump: rows of every layout are read (see `_decode`)."""


def request_key(fingerprint: str, backend: str, request: Request, config: RunConfig) -> str:
    """sha256 over everything that decides the answer: model, backend, the exact request, decoding settings."""
    material = {
        "format": FORMAT_VERSION,
        "model": fingerprint,
        "backend": backend,
        "kind": type(request).__name__,
        "request": _request(request),  # prompt + system + stop strings (+ images), or context + continuations
        **_settings(config, isinstance(request, GenerationRequest)),
    }
    # surrogatepass: a prompt with a lone surrogate gets a key too (valid text hashes as before); an image's bytes
    # count by their sha256 (its content, whatever its name)
    return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False, default=_content).encode(
        "utf-8", "surrogatepass")).hexdigest()


_LATER = ("images", "image_at", "messages", "tools")
"""GenerationRequest's fields added after its first keys were written: left out of a key when empty, so a plain
text request keeps the key it always had."""


def _request(request: Request) -> dict[str, Any]:
    fields: dict[str, Any] = plain(request)
    if isinstance(request, GenerationRequest):
        for name in _LATER:
            if not fields[name]:
                del fields[name]
        for image in fields.get("images", ()):
            image.pop("name")  # the same picture under another name is the same request
    return fields


def _content(value: Any) -> str:
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    raise TypeError(f"{type(value).__name__} in a request")


_SETTINGS: dict[tuple[int, bool], tuple[RunConfig, dict[str, Any]]] = {}


def _settings(config: RunConfig, generation: bool) -> dict[str, Any]:
    """The run's part of a key, the same for every request of a kind: worked out once per config (a frozen one,
    but not hashable: it holds dicts)."""
    known = _SETTINGS.get((id(config), generation))
    if known is not None and known[0] is config:
        return known[1]
    settings = {
        "generation": plain(config.generation) if generation else None,
        # which loop decodes is left out (greedy text is the same, as for another batch size): keys stay as before
        "model_args": {k: v for k, v in plain(config.model_args).items() if k != "decoding"},
        "seed": config.seed,
        "template": config.template,
    }
    if len(_SETTINGS) > 64:  # a long-lived process that builds many configs (tests)
        _SETTINGS.clear()
    _SETTINGS[(id(config), generation)] = config, settings
    return settings


def _frame(request: Request, response: Response) -> tuple[str, str] | None:
    """A loglikelihood's rendered prompt as the text around its request's context (the chat template's head and
    tail; both empty for a raw prompt), or None where the context is not in it as it is."""
    if not isinstance(response, ChoiceLoglikelihoods) or not isinstance(request, ChoiceRequest):
        return None
    at = response.rendered_prompt.find(request.context)
    if at < 0:
        return None
    return response.rendered_prompt[:at], response.rendered_prompt[at + len(request.context):]


def _encode(response: Response, frame: str | None) -> str:
    data = {"type": type(response).__name__, **plain(response)}
    if frame is not None:
        # The context is the request's, which the key hashes and every lookup holds: the row keeps the frame's
        # id instead (most MMLU rows were 95% their 5-shot context).
        del data["rendered_prompt"]
        data["frame"] = frame
    # SQLite stores UTF-8: a reply with a lone surrogate is stored escaped, and read back as it was.
    return utf8.dumps(data, separators=(",", ":"))


def _decode(data: dict[str, Any], request: Request, frames: dict[str, tuple[str, str]]) -> Response:
    kind = data.pop("type")
    if kind == "Completion":
        return Completion(**{**data, "texts": tuple(data.get("texts", ())),
                              "tool_calls": tuple(data.get("tool_calls", ()))})
    for name in ("loglikelihoods", "greedy", "continuation_tokens"):
        data[name] = tuple(data[name])
    if "frame" in data:  # rows written before format 2 hold `rendered_prompt` itself, and read as they are
        assert isinstance(request, ChoiceRequest), "a loglikelihood row is found by a ChoiceRequest's key"
        head, tail = frames[data.pop("frame")]
        data["rendered_prompt"] = head + request.context + tail
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
            # A chat template's text around each context, once per template and system prompt.
            self._db.execute("CREATE TABLE IF NOT EXISTS frames (id TEXT PRIMARY KEY, head TEXT NOT NULL, "
                             "tail TEXT NOT NULL)")
            self._db.execute("SELECT count(*) FROM responses").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise CacheError(f"{path}: cannot open the response cache ({exc}); move it aside or use another "
                             "--use-cache") from None
        self.hits = 0
        self.misses = 0
        self._frames: dict[str, tuple[str, str]] = {}

    def get(self, key: str, request: Request) -> Response | None:
        """The answer kept under `key`, which is `request`'s (a loglikelihood row gets its context back from it)."""
        return self.get_many({key: request}).get(key)

    def get_many(self, requests: Mapping[str, Request]) -> dict[str, Response]:
        """The answers kept under these keys (each `request`'s), in one query per few hundred keys."""
        found: dict[str, Any] = {}
        keys = list(requests)
        try:
            with self._lock:
                for start in range(0, len(keys), 500):  # SQLite's bound on parameters is 999 in old builds
                    chunk = keys[start : start + 500]
                    found.update(self._db.execute(f"SELECT key, response FROM responses WHERE key IN "
                                                  f"({','.join('?' * len(chunk))})", chunk).fetchall())
                data = {key: json.loads(text) for key, text in found.items()}
                if any(d.get("frame", "") not in ("", *self._frames) for d in data.values()):
                    self._read_frames()  # written by another process, or before this one opened the file
        except sqlite3.Error as exc:
            self._give_up(f"cannot read it any more ({exc})")
            data = {}
        self.hits += len(data)
        self.misses += len(requests) - len(data)
        return {key: _decode(d, requests[key], self._frames) for key, d in data.items()}

    def _read_frames(self) -> None:
        # Frames are few (one per template and system prompt): all of them, once, and again when one is new.
        self._frames.update((i, (h, t)) for i, h, t in self._db.execute("SELECT id, head, tail FROM frames"))

    def put(self, key: str, backend: str, model: str, request: Request, response: Response) -> None:
        self.put_many(backend, model, [(key, request, response)])

    def put_many(self, backend: str, model: str, rows: Sequence[tuple[str, Request, Response]]) -> None:
        """Keep these answers (key, request, response), committed together."""
        if self.failed is not None or not rows:
            return
        frames: dict[str, tuple[str, str]] = {}
        values = []
        for key, request, response in rows:
            kind = "loglikelihood" if isinstance(request, ChoiceRequest) else "generate"
            frame = _frame(request, response)
            frame_id = None if frame is None else hashlib.sha256(utf8.dumps(frame).encode()).hexdigest()[:16]
            if frame is not None and frame_id not in self._frames:
                frames[str(frame_id)] = frame
            values.append((key, backend, model, kind, _encode(response, frame_id), time.time()))
        try:
            with self._lock:
                self._db.execute("BEGIN")
                try:
                    # a frame before the rows that name it: a reader never meets a row without its frame
                    self._db.executemany("INSERT OR IGNORE INTO frames (id, head, tail) VALUES (?, ?, ?)",
                                         [(i, *f) for i, f in frames.items()])
                    self._db.executemany("INSERT OR REPLACE INTO responses (key, backend, model, kind, response, "
                                         "created) VALUES (?, ?, ?, ?, ?, ?)", values)
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
                self._frames.update(frames)
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
