"""A calibration server: OpenAI-compatible streaming with programmed TTFT and inter-chunk delay, honest usage.

Run it in its own process (`python -m evalscope.perf.calibration --ttft 0.05 --itl 0.01`) so it never shares a
GIL with the client it calibrates; `CalibrationServer` does that and stops it. Chunk c of a response is written
at `t0 + ttft + c * itl` (absolute deadlines, so scheduling delays never accumulate), where t0 is when the request
body was read; a chat stream first sends a role-only chunk at once, as vLLM does, which must not count as TTFT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import select
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from evalscope.perf.prompts import WORDS, approx_tokens


@dataclass(frozen=True)
class Program:
    """What the server is programmed to do."""

    ttft: float = 0.05
    """Seconds from request to the first output chunk."""
    itl: float = 0.01
    """Seconds between consecutive output chunks."""
    tokens_per_chunk: int = 1
    error_every: int = 0
    """Answer every n-th completion request with HTTP 500 (0: never)."""
    eos_after: int = 0
    """Without `ignore_eos`/`min_tokens`, stop after this many tokens (0: always produce max_tokens)."""
    key: str = ""
    """Answer completion requests without `Authorization: Bearer KEY` with HTTP 401 ("": any)."""


MAX_WAKE = 0.001
"""The largest timer overshoot the server corrects for (s)."""


class _StampedReader(asyncio.StreamReader):
    """Notes when a request's first bytes arrive (in the loop's read callback, before any handler runs), so the
    programmed delays count from the request's arrival: when 16 requests land at once, the 16th handler gets its
    turn a few ms later, and that wait is the server's, not the client's measuring error."""

    arrived: float | None = None

    def feed_data(self, data: Any) -> None:
        if self.arrived is None:
            self.arrived = time.monotonic()
        super().feed_data(data)

    def take_arrival(self) -> float:
        """When the request just read began to arrive; the next one on this keep-alive connection stamps anew."""
        arrived, self.arrived = self.arrived, None
        return time.monotonic() if arrived is None else arrived


class _Server:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.count = 0
        self.wake = 0.0
        """How late this loop's timers fire (moving mean, s; ~0.45 ms on these VMs, capped at MAX_WAKE): sleeps
        end that much early, so chunks leave on schedule rather than a timer's overshoot late. No spinning: under
        heavy load the loop's own backlog must not turn into busy-waiting."""

    async def until(self, target: float) -> None:
        """Sleep until loop time `target`, less the learned timer overshoot."""
        loop = asyncio.get_running_loop()
        delay = target - loop.time() - self.wake
        if delay > 0:
            await asyncio.sleep(delay)
            late = loop.time() - target  # after the correction: the estimate's error
            self.wake = min(max(self.wake + 0.2 * late, 0.0), MAX_WAKE)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:] if ":" in x)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                t0 = reader.take_arrival() if isinstance(reader, _StampedReader) else time.monotonic()
                if self.program.key and headers.get("authorization") != f"Bearer {self.program.key}":
                    self._write(writer, 401, "application/json", b'{"error": "invalid api key"}')
                    continue
                await self.respond(method, path, body, t0, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def respond(self, method: str, path: str, body: bytes, t0: float, writer: asyncio.StreamWriter) -> None:
        if method == "GET" and path in ("/health", "/v1/models"):
            data = b"{}" if path == "/health" else json.dumps({"data": [{"id": "calibration"}]}).encode()
            return self._write(writer, 200, "application/json", data)
        if method != "POST" or path not in ("/v1/chat/completions", "/v1/completions"):
            return self._write(writer, 404, "application/json", b'{"error": "not found"}')
        self.count += 1
        if self.program.error_every and self.count % self.program.error_every == 0:
            return self._write(writer, 500, "application/json", b'{"error": "programmed failure"}')
        req = json.loads(body)
        chat = path.endswith("chat/completions")
        prompt = " ".join(m["content"] for m in req["messages"]) if chat else str(req["prompt"])
        n = int(req.get("max_tokens") or 16)
        if self.program.eos_after and not req.get("ignore_eos") and int(req.get("min_tokens") or 0) < n:
            n = min(n, self.program.eos_after)
        usage = {"prompt_tokens": approx_tokens(prompt), "completion_tokens": n,
                 "total_tokens": approx_tokens(prompt) + n}
        k = self.program.tokens_per_chunk
        pieces = ["".join(f" {WORDS[(i + j) % len(WORDS)]}" for j in range(min(k, n - i))) for i in range(0, n, k)]
        loop = asyncio.get_running_loop()
        start = loop.time() - (time.monotonic() - t0)
        if not req.get("stream"):
            await self.until(start + self.program.ttft + (len(pieces) - 1) * self.program.itl)
            text = "".join(pieces)
            choice = {"index": 0, "finish_reason": "length",
                      **({"message": {"role": "assistant", "content": text}} if chat else {"text": text})}
            whole = json.dumps({"id": "cal", "object": "chat.completion", "choices": [choice], "usage": usage})
            return self._write(writer, 200, "application/json", whole.encode())
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        if chat:  # vLLM opens with a role-only delta
            self._event(writer, {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
            await writer.drain()
        for c, piece in enumerate(pieces):
            await self.until(start + self.program.ttft + c * self.program.itl)
            last = c == len(pieces) - 1
            event: dict[str, Any] = {"index": 0, "finish_reason": "length" if last else None}
            event.update({"delta": {"content": piece}} if chat else {"text": piece})
            self._event(writer, {"id": "cal", "choices": [event]})
            await writer.drain()
        if (req.get("stream_options") or {}).get("include_usage"):
            self._event(writer, {"id": "cal", "choices": [], "usage": usage})
        writer.write(self._chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        await writer.drain()

    @staticmethod
    def _chunk(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    def _event(self, writer: asyncio.StreamWriter, payload: dict[str, Any]) -> None:
        writer.write(self._chunk(b"data: " + json.dumps(payload).encode() + b"\n\n"))

    @staticmethod
    def _write(writer: asyncio.StreamWriter, status: int, ctype: str, data: bytes) -> None:
        reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 500: "Internal Server Error"}[status]
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(data)}\r\n\r\n"
                     .encode() + data)


async def serve(program: Program, port: int = 0) -> None:
    server = _Server(program)
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: asyncio.StreamReaderProtocol(_StampedReader(), server.handle),
                                   "127.0.0.1", port, backlog=1024)
    bound = srv.sockets[0].getsockname()[1]
    print(f"READY http://127.0.0.1:{bound}", flush=True)
    async with srv:
        await srv.serve_forever()


class CalibrationServer:
    """The calibration server in a subprocess: `with CalibrationServer(Program(...)) as server: server.base`."""

    def __init__(self, program: Program = Program(), python: str = sys.executable) -> None:
        self.program = program
        self.python = python
        self.base = ""
        self._proc: subprocess.Popen[str] | None = None

    def url(self, api: str = "chat") -> str:
        return f"{self.base}/v1/{'chat/completions' if api == 'chat' else 'completions'}"

    def __enter__(self) -> CalibrationServer:
        p = self.program
        args = [self.python, "-m", "evalscope.perf.calibration", "--ttft", str(p.ttft), "--itl", str(p.itl),
                "--tokens-per-chunk", str(p.tokens_per_chunk), "--error-every", str(p.error_every),
                "--eos-after", str(p.eos_after)]
        env = {**os.environ, "CALIBRATION_KEY": p.key}  # not on the command line, where `ps` shows it
        self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env,
                                      start_new_session=True)
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], 30)
        line = self._proc.stdout.readline() if ready else ""
        if not line.startswith("READY "):
            self.__exit__()
            raise RuntimeError(f"calibration server did not start (got {line!r})")
        self.base = line.split()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None


@contextlib.contextmanager
def calibration_server(**program: Any) -> Iterator[CalibrationServer]:
    with CalibrationServer(Program(**program)) as server:
        yield server


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evalscope.perf.calibration", description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ttft", type=float, default=Program.ttft)
    p.add_argument("--itl", type=float, default=Program.itl)
    p.add_argument("--tokens-per-chunk", type=int, default=1)
    p.add_argument("--error-every", type=int, default=0)
    p.add_argument("--eos-after", type=int, default=0)
    a = p.parse_args(argv)
    if a.tokens_per_chunk < 1 or a.ttft < 0 or a.itl < 0 or not math.isfinite(a.ttft + a.itl):
        p.error("need --tokens-per-chunk >= 1 and non-negative finite delays")
    program = Program(a.ttft, a.itl, a.tokens_per_chunk, a.error_every, a.eos_after,
                      os.environ.get("CALIBRATION_KEY", ""))
    # select() takes microsecond timeouts; epoll rounds each wait up to a whole millisecond, which makes
    # the default loop's chunk times drift in a 0-2 ms sawtooth. (select serves up to 1024 connections.)
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    with contextlib.suppress(KeyboardInterrupt):
        loop.run_until_complete(serve(program, a.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
