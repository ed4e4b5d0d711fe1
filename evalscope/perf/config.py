"""Perf options: parse the command-line strings into a typed sweep (points) and request settings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from evalscope.perf.client import Endpoint
from evalscope.perf.metrics import metric_names
from evalscope.perf.slo import Slo, SloError, parse


class PerfConfigError(ValueError):
    """A bad perf option; the message names the flag and the value."""


@dataclass(frozen=True)
class SweepPoint:
    """One load level: a pytest item of its own."""

    parallel: int
    """Concurrent users (closed loop) or the cap on requests in flight (open loop)."""
    number: int
    """Measured requests."""
    rate: float | None = None
    """Open loop: requests per second; None for closed loop."""

    @property
    def id(self) -> str:
        rate = "" if self.rate is None else f"-rate{self.rate:g}"
        return f"parallel{self.parallel}-number{self.number}{rate}"


@dataclass(frozen=True)
class PerfConfig:
    """Everything the perf suite was asked to do."""

    endpoint: Endpoint | None
    """None when neither --url nor --api-url was given (perf items then cannot run)."""
    points: tuple[SweepPoint, ...]
    dataset: str = "random"
    dataset_path: str | None = None
    min_prompt_length: int | None = None
    max_prompt_length: int | None = None
    tokenizer_path: str | None = None
    burstiness: float = 1.0
    warmup: int = 1
    locust_workers: int = 0
    locust_remote_workers: int = 0
    locust_master: tuple[str, int] = ("127.0.0.1", 0)
    """Where the Locust master listens (port 0: a free one)."""
    max_duration_s: float = 300.0
    slos: tuple[Slo, ...] = field(default_factory=tuple)


def int_list(flag: str, text: str | None, default: str) -> list[int]:
    values = []
    for part in (text or default).replace(" ", ",").split(","):
        if not part:
            continue
        try:
            value = int(part)
        except ValueError:
            raise PerfConfigError(f"{flag}: {part!r} is not an integer") from None
        if value < 1:
            raise PerfConfigError(f"{flag}: {value} is below 1")
        values.append(value)
    return values


def rate_list(text: str | None) -> list[float | None]:
    if not text:
        return [None]
    out: list[float | None] = []
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise PerfConfigError(f"--rate: {part!r} is not a number") from None
        if value <= 0:
            # EvalScope's convention: -1 (or any value <= 0) means "as fast as possible", i.e. closed loop.
            out.append(None)
        else:
            out.append(value)
    return out


def sweep(parallel: str | None, number: str | None, rate: str | None) -> tuple[SweepPoint, ...]:
    """Zip the lists (EvalScope's `--parallel 1 4 --number 10 40`); a single value applies to every point."""
    p = int_list("--parallel", parallel, "1")
    n = int_list("--number", number, "64")
    r = rate_list(rate)
    size = max(len(p), len(n), len(r))
    for flag, values in (("--parallel", p), ("--number", n), ("--rate", r)):
        if len(values) not in (1, size):
            raise PerfConfigError(f"{flag}: {len(values)} values for {size} sweep points (give 1 or {size})")
    pick = [(v * size if len(v) == 1 else v) for v in (p, n, r)]
    points = tuple(SweepPoint(int(a), int(b), c) for a, b, c in zip(*pick, strict=True))
    if len({pt.id for pt in points}) != len(points):
        raise PerfConfigError(f"duplicate sweep points: {', '.join(pt.id for pt in points)}")
    return points


def endpoint_url(url: str | None, api_url: str | None, api: str) -> str | None:
    """`--url` as given, or `--api-url` (a server base, with or without /v1) plus the API's path."""
    if url:
        return url
    if not api_url:
        return None
    base = api_url.rstrip("/")
    if base.endswith(("/chat/completions", "/completions")):
        return base
    if not base.endswith("/v1"):
        base += "/v1"
    return f"{base}/{'chat/completions' if api == 'chat' else 'completions'}"


API_NAMES = {"openai": "chat", "chat": "chat", "openai-chat": "chat", "completions": "completions",
             "openai-completions": "completions"}


def api_kind(api: str | None) -> str:
    key = (api or "openai").lower()
    if key not in API_NAMES:
        raise PerfConfigError(f"--api: {api!r} is not supported (choose from {', '.join(API_NAMES)})")
    return API_NAMES[key]


_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
"""An HTTP header name (RFC 9110's token)."""


def headers(pairs: list[str] | None, api_key: str | None) -> dict[str, str]:
    """`--api-key` as `Authorization: Bearer KEY`, then each `--headers KEY=VALUE` (the value may hold spaces:
    `Authorization=Bearer sk-...`). Errors say which value is wrong, never what it holds (it may be a token)."""
    out = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    for n, pair in enumerate(pairs or [], 1):
        key, sep, value = pair.partition("=")
        if not sep or not _TOKEN.match(key.strip()):
            what = "has no '='" if not sep else "does not start with a header name"
            raise PerfConfigError(f"--headers: value {n} of {len(pairs or [])} {what} (expected NAME=VALUE, e.g. "
                                  "'Authorization=Bearer KEY'; values are not shown, they may be secrets)")
        out[key.strip()] = value.strip()
    return out


def slos(text: str | None) -> tuple[Slo, ...]:
    try:
        return parse(text, metric_names())
    except SloError as exc:
        raise PerfConfigError(str(exc)) from None


def positive_int(flag: str, text: str | None, default: int | None, minimum: int = 1) -> int | None:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise PerfConfigError(f"{flag}: {text!r} is not an integer") from None
    if value < minimum:
        raise PerfConfigError(f"{flag}: {value} is below {minimum}")
    return value


def host_port(flag: str, text: str | None) -> tuple[str, int]:
    """`HOST:PORT` (or `HOST`, or `:PORT`) for the Locust master; defaults 127.0.0.1 and a free port."""
    if not text:
        return ("127.0.0.1", 0)
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, "0"
    try:
        number = int(port)
    except ValueError:
        raise PerfConfigError(f"{flag}: {text!r} is not HOST:PORT") from None
    if not 0 <= number < 65536:
        raise PerfConfigError(f"{flag}: port {number} out of range")
    return (host or "127.0.0.1", number)


def positive_float(flag: str, text: str | None, default: float) -> float:
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise PerfConfigError(f"{flag}: {text!r} is not a number") from None
    if not value > 0:
        raise PerfConfigError(f"{flag}: {value} must be positive")
    return value


def tokenizer_source(tokenizer_path: str | None, model: str | None) -> str | None:
    """The tokenizer for prompt lengths: --tokenizer-path, else the model when it is a local folder."""
    if tokenizer_path:
        if not Path(tokenizer_path).expanduser().exists():
            raise PerfConfigError(f"--tokenizer-path: {tokenizer_path} does not exist")
        return tokenizer_path
    if model and (Path(model).expanduser() / "tokenizer.json").is_file():
        return model
    return None
