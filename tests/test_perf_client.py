"""The SSE client's body reader: chunked framing and SSE lines split by hand, whatever way the bytes arrive."""

from __future__ import annotations

import http.client
import io
import json
from typing import Any

import pytest

from evalscope.perf.client import Connection, Endpoint, _Body


def _chunked(*pieces: bytes, trailer: bytes = b"") -> bytes:
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n" + trailer + b"\r\n"


def _feed_split(body: _Body, data: bytes, step: int) -> bytes:
    return b"".join(body.feed(data[i:i + step]) for i in range(0, len(data), step))


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1000])
def test_chunked_body_is_decoded_however_the_bytes_are_split(step: int) -> None:
    data = _chunked(b"data: a\n\n", b"data: bb\r\n\r\n", b"x" * 300)
    body = _Body(chunked=True, length=None)
    assert _feed_split(body, data, step) == b"data: a\n\ndata: bb\r\n\r\n" + b"x" * 300
    assert body.ended


def test_chunk_extensions_and_trailers_are_skipped() -> None:
    body = _Body(chunked=True, length=None)
    data = b"5;name=v\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"
    assert body.feed(data) == b"hello" and body.ended


def test_body_not_ended_until_the_terminator_arrives() -> None:
    body = _Body(chunked=True, length=None)
    assert body.feed(b"3\r\nabc\r\n") == b"abc" and not body.ended
    assert body.feed(b"0\r\n") == b"" and not body.ended
    assert body.feed(b"\r\n") == b"" and body.ended


def test_malformed_chunked_framing_is_a_protocol_error() -> None:
    with pytest.raises(ValueError):
        _Body(chunked=True, length=None).feed(b"zz\r\n")
    with pytest.raises(ValueError):
        _Body(chunked=True, length=None).feed(b"3\r\nabcXY")


def test_content_length_and_read_to_eof_bodies() -> None:
    sized = _Body(chunked=False, length=5)
    assert sized.feed(b"abc") == b"abc" and not sized.ended
    assert sized.feed(b"de") == b"de" and sized.ended
    unsized = _Body(chunked=False, length=None)
    assert unsized.feed(b"abc") == b"abc" and not unsized.ended
    unsized.eof()
    assert unsized.ended


class _Trickle(io.RawIOBase):
    """A socket stand-in that hands over at most `step` bytes per read."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.pos, self.step = data, 0, step

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        n = min(len(buf), self.step, len(self.data) - self.pos)
        buf[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


class _Sock:
    def __init__(self, data: bytes, step: int) -> None:
        self.raw = _Trickle(data, step)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self.raw)


def _event(payload: dict[str, Any] | str) -> bytes:
    return b"data: " + (payload if isinstance(payload, str) else json.dumps(payload)).encode() + b"\n\n"


def _read(raw: bytes, step: int) -> tuple[tuple[str, str] | None, list[str], dict[str, Any], dict[str, int], bool]:
    resp = http.client.HTTPResponse(_Sock(raw, step))  # type: ignore[arg-type]
    resp.begin()
    chunks: list[int] = []
    texts: list[str] = []
    usage: dict[str, Any] = {}
    state = {"status": resp.status, "events": 0}
    error = Connection(Endpoint(url="http://127.0.0.1:9/v1/chat/completions", model="m"))._read_stream(
        resp, chunks, texts, usage, state)
    assert len(chunks) == len(texts) and chunks == sorted(chunks)
    return error, texts, usage, state, resp.isclosed()


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
EVENTS = [
    _event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
    b": keep-alive comment\n\n",
    _event({"choices": [{"index": 0, "delta": {"content": "Hello"}}]}),
    _event({"choices": [{"index": 0, "delta": {"content": " w\u00f6rld"}}]}),
    _event({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}),
    _event("[DONE]"),
]


@pytest.mark.parametrize("step", [1, 5, 64, 1 << 16])
def test_stream_events_one_per_chunk_or_several_per_chunk(step: int) -> None:
    for body in (_chunked(*EVENTS), _chunked(b"".join(EVENTS[:3]), b"".join(EVENTS[3:]))):
        error, texts, usage, state, closed = _read(HEAD + body, step)
        assert error is None
        assert texts == ["Hello", " w\u00f6rld"]  # the role-only event carries no output
        assert usage["completion_tokens"] == 2
        assert state["events"] == 5  # data lines, [DONE] included; comments are not events
        assert closed  # read to the end: the connection can take the next request


def test_stream_cut_before_done_or_before_the_chunked_end_is_incomplete() -> None:
    body = _chunked(*EVENTS)
    cut_before_done = HEAD + _chunked(*EVENTS[:-1])[:-5]
    assert _read(cut_before_done, 64)[0] == ("incomplete", "the stream ended without [DONE]")
    error = _read(HEAD + body[:-3], 64)[0]
    assert error is not None and error[0] == "incomplete" and "chunked" in error[1]


def test_stream_error_event_is_reported() -> None:
    body = _chunked(_event({"error": {"message": "overloaded"}}), _event("[DONE]"))
    error = _read(HEAD + body, 64)[0]
    assert error is not None and error[0] == "stream_error" and "overloaded" in error[1]
