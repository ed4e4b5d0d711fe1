"""A deadline per answer check: checks that can run long run in a worker process, killed and replaced past it."""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import functools
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, Pipe
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

CAUSE = "checker timeout"
"""The cause a sample's record gives when one of its checks ran out of time (it then counts as wrong)."""
DEFAULT_LIMIT_S = 10.0
START_LIMIT_S = 300.0
"""How long a worker may take to start and import what a check needs (not counted in the deadline: nltk alone
takes seconds on a busy machine)."""

# Why a process and not a thread or a signal: sympy spends minutes inside one C call (a power of a huge
# integer) that holds the GIL, so no thread can time it out, and signals reach only the main thread while the
# harness may score elsewhere. Why one persistent worker and not a fork per check: a check costs
# microseconds; a process start costs a second. The worker is started with a fresh interpreter (not
# multiprocessing's spawn, which re-runs the user's __main__ script) and dies with its parent.

_limit_s = DEFAULT_LIMIT_S
_in_worker = False
_noted: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("evalscope_timed_out", default=None)


def set_limit(seconds: float) -> None:
    """Seconds one check may run (`--checker-timeout`); set per process by the plugin."""
    global _limit_s
    if not seconds > 0:
        raise ValueError(f"checker timeout {seconds!r} must be positive")
    _limit_s = float(seconds)


def limit() -> float:
    return _limit_s


@contextlib.contextmanager
def noting() -> Iterator[list[str]]:
    """Collect the names of the checks that time out inside the block (in this thread or task)."""
    names: list[str] = []
    token = _noted.set(names)
    try:
        yield names
    finally:
        _noted.reset(token)


class CheckerDied(RuntimeError):
    """The worker process ended in the middle of a check (killed from outside, or out of memory)."""


class _Worker:
    """One checker process, talking over a socket pair: a request is (module, name, args, kwargs); it answers
    ("started",) once the function and its warm-up imports are loaded, then ("ok", value) or ("error", exc)."""

    def __init__(self) -> None:
        mine, theirs = Pipe(duplex=True)
        boot = ("import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
                "from evalscope.deadline import serve; serve(int(sys.argv[2]), int(sys.argv[3]))")
        # The parent's import path first, so the worker loads this same evalscope (a checkout, PYTHONPATH).
        self.process = subprocess.Popen(
            [sys.executable, "-c", boot, json.dumps(sys.path), str(theirs.fileno()), str(os.getpid())],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        theirs.close()
        self.conn: Connection = mine

    def alive(self) -> bool:
        return self.process.poll() is None

    def _wait(self, seconds: float, name: str) -> tuple[Any, ...] | None:
        """The worker's next message, or None when none came within `seconds`."""
        if not self.conn.poll(seconds):
            return None
        try:
            message: tuple[Any, ...] = self.conn.recv()
        except (EOFError, OSError):
            code = self.process.wait()
            raise CheckerDied(f"the answer checker's process ended (exit code {code}) while checking {name}") \
                from None
        return message

    def call(self, module: str, name: str, args: Any, kwargs: Any, seconds: float) -> tuple[bool, Any]:
        """(True, the result) or (False, None) when the check ran past `seconds`; the check's own exception is
        raised here."""
        self.conn.send((module, name, args, kwargs))
        if self._wait(START_LIMIT_S, name) is None:
            return False, None
        reply = self._wait(seconds, name)
        if reply is None:
            return False, None
        if reply[0] == "error":
            raise reply[1]
        return True, reply[1]

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()
        self.conn.close()


_worker: _Worker | None = None
_lock = threading.Lock()


def _run(module: str, name: str, args: Any, kwargs: Any) -> tuple[bool, Any]:
    """Run module.name(*args, **kwargs) in the worker under the deadline; the worker is replaced after one that
    overran (or died)."""
    global _worker
    with _lock:
        if _worker is None or not _worker.alive():
            _worker = _Worker()
        try:
            done, value = _worker.call(module, name, args, kwargs, _limit_s)
        except BaseException as exc:
            if not isinstance(exc, Exception) or isinstance(exc, CheckerDied | OSError):
                # Ctrl-C mid-check, or a broken channel: the worker's state is unknown, so it goes
                _worker.kill()
                _worker = None
            raise
        if not done:
            _worker.kill()
            _worker = None
        return done, value


def shutdown() -> None:
    """Stop this process's checker worker (the end of a session); the next check starts a new one."""
    global _worker
    with _lock:
        if _worker is not None:
            _worker.kill()
            _worker = None


def bounded(on_timeout: Callable[..., R], warm: tuple[str, ...] = ()) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Make a module-level check run in the checker process, at most `limit()` seconds: past it the process is
    killed (and replaced for the next check), the check is noted as timed out (see `noting`) and
    `on_timeout(*args)` is its answer, a wrong one. `warm`: modules the worker imports before the clock starts.
    Inside the worker, checks call each other directly. The check must be importable by its module's name in a
    fresh interpreter (evalscope's own modules; not a benchmark folder's), its arguments and result picklable."""

    def decorate(check: Callable[P, R]) -> Callable[P, R]:
        module, name = check.__module__, check.__qualname__

        @functools.wraps(check)
        def bounded_check(*args: P.args, **kwargs: P.kwargs) -> R:
            if _in_worker:
                return check(*args, **kwargs)
            done, value = _run(module, name, args, kwargs)
            if done:
                return value
            noted = _noted.get()
            if noted is not None:
                noted.append(f"{module.rpartition('.')[2]}.{name}")
            return on_timeout(*args, **kwargs)

        bounded_check.warm = warm  # type: ignore[attr-defined]
        return bounded_check

    return decorate


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent ends (a check in a C loop never looks up)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    if os.getppid() != parent:  # the parent ended before the death signal was set
        os._exit(1)


def serve(fd: int, parent: int) -> None:
    """The worker's loop: run each requested check, answer over `fd`, until the parent closes it."""
    global _in_worker
    _in_worker = True
    _die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it then ends us
    conn = Connection(fd)
    while True:
        try:
            module, name, args, kwargs = conn.recv()
        except (EOFError, OSError):
            return
        try:
            check: Any = importlib.import_module(module)
            for part in name.split("."):
                check = getattr(check, part)
            for warm in getattr(check, "warm", ()):
                importlib.import_module(warm)
        except Exception as exc:
            conn.send(("started",))
            conn.send(("error", _sendable(exc)))
            continue
        conn.send(("started",))
        try:
            reply: tuple[str, Any] = ("ok", check(*args, **kwargs))
        except Exception as exc:
            reply = ("error", _sendable(exc))
        conn.send(reply)


def _sendable(exc: Exception) -> Exception:
    """The exception itself where it survives pickling, else a RuntimeError with its text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc
