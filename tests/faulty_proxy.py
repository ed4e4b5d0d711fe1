"""A proxy between the harness and a real server that misbehaves on a seeded schedule: delays, 429/500/503 with and
without Retry-After, connections dropped before the answer, answers cut mid-body, sockets reset.

`FaultyProxy(upstream, seed).start()` serves on 127.0.0.1; every POST draws a fault from the seeded generator, but
a request's fourth attempt always gets through (the harness tries eight times), so a run through it must end with
every sample answered. `faults` counts what was injected, by kind.
"""

from __future__ import annotations

import hashlib
import http.client
import random
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = ("delay", "429", "429-retry-after", "500", "503-retry-after", "drop", "cut", "reset")


class FaultyProxy:
    def __init__(self, upstream: str, seed: int = 0, rate: float = 0.5) -> None:
        parts = urlsplit(upstream)
        self.host, self.port_up = parts.hostname or "127.0.0.1", parts.port or 80
        self.rng = random.Random(seed)
        self.rate = rate
        self.lock = threading.Lock()
        self.faults: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()
        self.server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def draw(self, key: str) -> str | None:
        with self.lock:
            self.attempts[key] += 1
            if self.attempts[key] >= 4 or self.rng.random() >= self.rate:
                return None
            fault = self.rng.choice(FAULTS)
            if fault != "delay":  # a delay answers in the end: no retry
                self.faults[fault] += 1
            return fault

    @property
    def injected(self) -> int:
        """Faults that make the harness try again."""
        return sum(self.faults.values())

    def start(self) -> FaultyProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self, body: bytes | None) -> tuple[int, list[tuple[str, str]], bytes]:
                conn = http.client.HTTPConnection(proxy.host, proxy.port_up, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
                return response.status, response.getheaders(), data

            def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes, cut: bool = False) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if cut else data)
                self.wfile.flush()

            def _abort(self, reset: bool) -> None:
                if reset:  # RST instead of FIN
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    self.connection.shutdown(socket.SHUT_RDWR)
                # The file objects hold the descriptor too: close them all, or the client never sees the end.
                self.rfile.close()
                self.wfile.close()
                self.connection.close()
                self.close_connection = True

            def do_GET(self) -> None:
                self._reply(*self._forward(None))

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fault = proxy.draw(hashlib.sha256(body).hexdigest())
                if fault in ("drop", "reset"):
                    self._abort(reset=fault == "reset")
                    return
                if fault and fault[0] in "45":
                    headers = [("Content-Type", "application/json")]
                    if fault.endswith("retry-after"):
                        headers.append(("Retry-After", "0"))
                    self._reply(int(fault[:3]), headers, b'{"error": {"message": "injected"}}')
                    return
                if fault == "delay":
                    time.sleep(0.3)
                status, headers, data = self._forward(body)
                self._reply(status, headers, data, cut=fault == "cut")
                if fault == "cut":
                    self._abort(reset=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
