"""JSON over HTTP to an OpenAI-compatible server: the standard library's keep-alive connections, one per thread and
server, each request sent in one write.

Why not the OpenAI SDK: its typed request transform, its HTTP stack and its reply objects cost about 1.5 ms of CPU
a request, ten times a request's own cost to a plain client (bench/fleet_and_merge.py), which capped one harness
process near 500 requests/s on two cores. The API backend needs POST JSON / GET JSON, status codes and
Retry-After; this is that.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import threading
from typing import Any
from urllib.parse import unquote, urlsplit


class HttpError(Exception):
    """The server answered with an error status."""

    def __init__(self, status: int, message: str, retry_after: str | None) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after


class ConnectionFailed(Exception):
    """No answer: refused (nothing listens), timed out, or the connection dropped mid-request."""

    def __init__(self, message: str, refused: bool = False, timeout: bool = False, stale: bool = False) -> None:
        super().__init__(message)
        self.refused = refused
        self.timeout = timeout
        self.stale = stale
        """Dropped on a kept-alive connection before any answer: the server may have closed it while it was idle,
        so the request deserves a fresh connection at once, and the server no blame."""


_DROPPED = (http.client.RemoteDisconnected, http.client.IncompleteRead, http.client.BadStatusLine,
            ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class JsonClient:
    """One server's base URL (`http://host:port/v1`); credentials in the URL become HTTP basic auth, else the key is
    sent as a Bearer token."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float) -> None:
        parts = urlsplit(base_url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if parts.username is not None or parts.password is not None:
            pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()
            self.headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        elif api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self._local = threading.local()
        self._context = ssl.create_default_context() if self.https else None

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection, and whether it served a request before (a kept-alive one may have been closed
        by the server while idle)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self._context) \
            if self.https else http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self._local.conn = conn
        return conn, False

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The reply's JSON; HttpError for an error status, ConnectionFailed when no answer came."""
        data = None if body is None else json.dumps(body).encode()
        conn, reused = self._connection()
        try:
            conn.request(method, self.prefix + path, body=data, headers=self.headers)
            response = conn.getresponse()
            payload = response.read()
        except ConnectionRefusedError:
            self._drop()
            raise ConnectionFailed(f"connection refused ({self.host}:{self.port})", refused=True) from None
        except TimeoutError:  # socket.timeout is TimeoutError since Python 3.10
            self._drop()
            raise ConnectionFailed(f"timed out after {self.timeout:g} s", timeout=True) from None
        except _DROPPED as exc:
            self._drop()
            raise ConnectionFailed(f"connection dropped ({type(exc).__name__})",
                                   stale=reused and not isinstance(exc, http.client.IncompleteRead)) from None
        except OSError as exc:
            self._drop()
            raise ConnectionFailed(f"{type(exc).__name__}: {exc}") from None
        if response.will_close:
            self._drop()
        if response.status >= 400:
            raise HttpError(response.status, _error_message(payload), response.getheader("retry-after"))
        try:
            return json.loads(payload)
        except ValueError:
            raise ConnectionFailed(f"a reply that is not JSON ({len(payload)} bytes)") from None

    def close(self) -> None:
        self._drop()


def _error_message(payload: bytes) -> str:
    """The server's own words (`{"error": {"message": ...}}` or the body), on one line."""
    text = payload.decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:300]
    inner = body.get("error", body) if isinstance(body, dict) else body
    message = inner.get("message") if isinstance(inner, dict) else inner
    return " ".join(str(message or body).split())[:300]
