"""One streamed OpenAI-compatible request over a keep-alive connection, timestamped as each SSE event arrives.

Plain `http.client` (made cooperative by gevent inside Locust) sends the request and parses the response head;
the streamed body is then read with one `read1` per arrival (whatever one `recv` brings) and its chunked framing
and SSE lines are split here. Unlike geventhttpclient's `iter_lines`/`iter_content`, which wait for 1-4 KB and
clump small events, every event is timestamped when its bytes come in; and unlike `HTTPResponse.readline`, which
walks the chunked framing through several buffered-IO calls per line, the per-event cost is a few bytes
operations, which is what lets one process read ~20k events/s (bench/perf_client_overhead.py).
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from evalscope.perf.records import RequestRecord


@dataclass(frozen=True)
class Endpoint:
    """Where and how requests are sent."""

    url: str
    """The full endpoint, e.g. http://127.0.0.1:8000/v1/chat/completions."""
    model: str
    api: str = "chat"
    """`chat` (/v1/chat/completions, messages) or `completions` (/v1/completions, prompt)."""
    stream: bool = True
    max_tokens: int = 128
    min_tokens: int | None = None
    ignore_eos: bool = True
    """Ask the server to ignore EOS (vLLM, SGLang), so the output length is exactly max_tokens."""
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 120.0
    """Socket timeout of one read or connect."""

    @property
    def expected_tokens(self) -> int | None:
        forced = self.ignore_eos or self.min_tokens == self.max_tokens
        return self.max_tokens if forced else None

    def body(self, prompt: str) -> bytes:
        data: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens, "stream": self.stream,
                                "temperature": 0.0}
        if self.api == "chat":
            data["messages"] = [{"role": "user", "content": prompt}]
        else:
            data["prompt"] = prompt
        if self.stream:
            data["stream_options"] = {"include_usage": True}
        if self.min_tokens is not None:
            data["min_tokens"] = self.min_tokens
        if self.ignore_eos:
            data["ignore_eos"] = True
        return json.dumps(data).encode()


def _delta(payload: dict[str, Any], api: str) -> str:
    """The output an event carries; a role-only or empty delta carries none."""
    choices = payload.get("choices") or []
    if not choices:
        return ""
    choice = choices[0]
    if api != "chat":
        return str(choice.get("text") or "")
    delta = choice.get("delta") or choice.get("message") or {}
    for key in ("content", "reasoning_content", "reasoning"):
        if delta.get(key):
            return str(delta[key])
    return json.dumps(delta["tool_calls"]) if delta.get("tool_calls") else ""


class Connection:
    """A keep-alive HTTP/1.1 connection to one endpoint, reopened after a failure."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        parts = urlsplit(endpoint.url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http:// endpoints are supported, got {endpoint.url!r}")
        self._host, self._port = parts.hostname, parts.port or 80
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._conn: http.client.HTTPConnection | None = None
        self.cancelled: RequestRecord | None = None
        """The record of a request interrupted by GreenletExit/KeyboardInterrupt (which `send` re-raises)."""
        self._headers = {"Content-Type": "application/json", "Accept": "text/event-stream", **endpoint.headers}

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def open(self) -> http.client.HTTPConnection:
        if self._conn is None:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.endpoint.timeout_s)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = conn
        return self._conn

    def send(self, prompt: str, index: int, *, warmup: bool = False, worker: int = 0,
             scheduled_ns: int | None = None) -> RequestRecord:
        """Send one request and read its response to the end; never raises for a failed request."""
        ep = self.endpoint
        body = ep.body(prompt)
        chunks: list[int] = []
        texts: list[str] = []
        usage: dict[str, Any] = {}
        state = {"status": 0, "events": 0}
        offset = time.time_ns() - time.perf_counter_ns()
        dispatch = time.perf_counter_ns()
        error: tuple[str, str] | None = None
        try:
            try:
                conn = self.open()
            except OSError as exc:
                error = ("connect", repr(exc))
            else:
                dispatch = time.perf_counter_ns()  # the handshake (if any) is not part of the request
                conn.request("POST", self._path, body=body, headers=self._headers)
                resp = conn.getresponse()
                state["status"] = resp.status
                if resp.status != 200:
                    detail = resp.read()[:300].decode(errors="replace")
                    error = (f"http_{resp.status}", detail)
                elif ep.stream:
                    error = self._read_stream(resp, chunks, texts, usage, state)
                else:
                    raw = resp.read()
                    chunks.append(time.perf_counter_ns())
                    payload = json.loads(raw)
                    texts.append(_delta(payload, ep.api))
                    usage.update(payload.get("usage") or {})
                    state["events"] = 1
                if error is None and not any(texts):
                    error = ("empty_output", "no chunk carried output")
        except TimeoutError as exc:
            error = ("timeout", repr(exc))
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            error = ("connection", repr(exc))
        except (ValueError, KeyError, TypeError) as exc:
            error = ("protocol", repr(exc))
        except BaseException as exc:  # GreenletExit, KeyboardInterrupt: keep the record, then let it go on
            self.close()
            self.cancelled = self._record(index, warmup, worker, scheduled_ns, dispatch, chunks, texts, usage, state,
                                     ("cancelled", type(exc).__name__), offset)
            raise
        if error is not None:
            self.close()
        return self._record(index, warmup, worker, scheduled_ns, dispatch, chunks, texts, usage, state, error,
                            offset)

    def _read_stream(self, resp: http.client.HTTPResponse, chunks: list[int], texts: list[str],
                     usage: dict[str, Any], state: dict[str, int]) -> tuple[str, str] | None:
        api = self.endpoint.api
        fp = resp.fp
        assert fp is not None
        body = _Body(resp.chunked, resp.length)
        pending = b""
        done = False
        while not body.ended:
            data = fp.read1(65536)
            now = time.perf_counter_ns()  # every event in these bytes arrived now
            if not data:
                body.eof()
                break
            if done:
                body.feed(data)  # the chunked terminator after [DONE]
                continue
            lines = (pending + body.feed(data)).split(b"\n")
            pending = lines.pop()
            for line in lines:
                if not line.startswith(b"data:"):
                    continue  # blank separators, `event:` and `:` comment lines
                state["events"] += 1
                payload_bytes = line[5:].strip()
                if payload_bytes == b"[DONE]":
                    done = True
                    break
                payload = json.loads(payload_bytes)
                if payload.get("error"):
                    return ("stream_error", json.dumps(payload["error"])[:300])
                if payload.get("usage"):
                    usage.update(payload["usage"])
                text = _delta(payload, api)
                if text:
                    chunks.append(now)
                    texts.append(text)
        if not done:
            return ("incomplete", "the stream ended without [DONE]")
        if not body.ended:
            return ("incomplete", "the connection closed before the end of the chunked body")
        resp.close()  # the body is consumed: the connection takes the next request
        return None

    def _record(self, index: int, warmup: bool, worker: int, scheduled_ns: int | None, dispatch: int,
                chunks: list[int], texts: list[str], usage: dict[str, Any], state: dict[str, int],
                error: tuple[str, str] | None, offset: int) -> RequestRecord:
        return RequestRecord(
            index=index, warmup=warmup, worker=worker, dispatch_ns=dispatch, chunk_ns=tuple(chunks),
            chunk_text=tuple(texts), end_ns=time.perf_counter_ns(), status=state["status"],
            error=None if error is None else error[0], error_detail="" if error is None else error[1],
            scheduled_ns=scheduled_ns, prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"), expected_tokens=self.endpoint.expected_tokens,
            events=state["events"], epoch_offset_ns=offset)


class _Body:
    """Incremental decoder of a response body: HTTP/1.1 chunked transfer coding, a Content-Length, or neither
    (read to EOF). `feed` returns the body bytes within the transfer bytes given; `ended` once the body is whole."""

    def __init__(self, chunked: bool, length: int | None) -> None:
        self.chunked = chunked
        self.length = length
        self.ended = not chunked and length == 0
        self._buf = b""
        self._left = 0
        """Data bytes left in the current chunk."""
        self._crlf = False
        """The CRLF closing a chunk's data is due."""
        self._trailer = False
        """The last (zero-size) chunk was read: trailer lines follow, up to an empty one."""

    def eof(self) -> None:
        """The connection closed: that ends a body framed by neither chunks nor a length."""
        if not self.chunked and self.length is None:
            self.ended = True

    def feed(self, data: bytes) -> bytes:
        if not self.chunked:
            if self.length is not None:
                data = data[:self.length]
                self.length -= len(data)
                self.ended = self.length == 0
            return data
        buf = self._buf + data if self._buf else data
        out: list[bytes] = []
        pos = 0
        while not self.ended:
            if self._left:
                piece = buf[pos:pos + self._left]
                out.append(piece)
                pos += len(piece)
                self._left -= len(piece)
                if self._left:
                    break
                self._crlf = True
            if self._crlf:
                if len(buf) - pos < 2:
                    break
                if buf[pos:pos + 2] != b"\r\n":
                    raise ValueError("malformed chunked body: chunk data not followed by CRLF")
                pos += 2
                self._crlf = False
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            line, pos = buf[pos:eol], eol + 2
            if self._trailer:
                self.ended = not line
                continue
            size = int(line.split(b";", 1)[0], 16)  # ValueError on garbage: a protocol error
            if size == 0:
                self._trailer = True
            self._left = size
        self._buf = buf[pos:]
        return b"".join(out)
