"""The program as it runs in the sandbox: the model's code in a child process, the tests in this one.

Run as a script by the sandbox's interpreter (standalone: no evalscope import), with `main(code)` appended. This
process forks the child before it reads anything secret, then reads the nonce and the tests from stdin. The child
loads the model's code as module `solution` (so an `if __name__ == "__main__":` block does not run) and answers
requests over two pipes: call this, get that attribute, iterate this. Only plain values of builtin types cross
(anything else stays in the child and is seen here as a `Remote`, whose equality is identity), so the tests compare
plain values with builtin equality, and nothing the model's code does can reach the nonce, the tests or the result
line: they live in this process, which is not dumpable (the child cannot read its memory or its file descriptors
through /proc, nor ptrace it).
"""

from __future__ import annotations

import builtins
import json
import os
import signal
import sys
import time
import types

TYPE_CHECKING = False  # not typing's: importing typing, like collections, costs every program's start milliseconds
if TYPE_CHECKING:
    from typing import Any

_ATOMS = (type(None), bool, int, float, str)
_PLAIN = (bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset)
_LIBRARY = ("Counter", "OrderedDict", "defaultdict", "deque")  # collections' types that cross
_BIG = 1 << 63  # ints past it cross in hex (json's decimal conversion has a digit limit)


def _encode(value: Any, keep: Any) -> Any:
    """`value` as JSON data: builtin values of their exact type, tagged; anything else becomes `keep(value)`."""
    kind = type(value)
    if kind is int and not -_BIG < value < _BIG:
        return {"int": format(value, "x")}
    if kind in _ATOMS:
        return value
    if kind is list:
        return [_encode(v, keep) for v in value]
    if kind is tuple or kind is set or kind is frozenset:
        return {kind.__name__: [_encode(v, keep) for v in value]}
    if kind is dict:
        return {"dict": [[_encode(k, keep), _encode(v, keep)] for k, v in value.items()]}
    if kind is bytes:
        return {"bytes": value.hex()}
    if kind is complex:
        return {"complex": [value.real, value.imag]}
    library = sys.modules.get("collections")  # a value of its types means the program imported it
    if library is not None and kind.__name__ in _LIBRARY and kind is getattr(library, kind.__name__):
        if kind.__name__ == "deque":
            return {"deque": [_encode(v, keep) for v in value]}
        return {kind.__name__: [[_encode(k, keep), _encode(v, keep)] for k, v in value.items()]}
    if isinstance(value, tuple) and kind.__eq__ is tuple.__eq__ and type(getattr(kind, "_fields", None)) is tuple:
        return {"namedtuple": [kind.__name__, list(kind._fields), [_encode(v, keep) for v in value]]}
    base = next((b for b in _PLAIN if isinstance(value, b)), None)
    if base is not None and kind.__eq__ is base.__eq__ and kind.__ne__ is base.__ne__:
        return _encode(base(value), keep)  # a subclass that keeps its base's equality crosses as the base
    return keep(value)


def _decode(data: Any, remote: Any) -> Any:
    """The inverse of `_encode`; `remote(number)` makes a handle's value."""
    kind = type(data)
    if kind in _ATOMS:
        return data
    if kind is list:
        return [_decode(v, remote) for v in data]
    if kind is not dict or len(data) != 1:
        raise ValueError("malformed value")
    (tag, body), = data.items()
    if tag in ("tuple", "set", "frozenset"):
        return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](_decode(v, remote) for v in body)
    if tag == "dict":
        return {_decode(k, remote): _decode(v, remote) for k, v in body}
    if tag in _LIBRARY:
        import collections
        if tag == "deque":
            return collections.deque(_decode(v, remote) for v in body)
        pairs = [(_decode(k, remote), _decode(v, remote)) for k, v in body]
        return collections.defaultdict(None, pairs) if tag == "defaultdict" else getattr(collections, tag)(dict(pairs))
    if tag == "namedtuple":
        name, fields, values = body
        return _namedtuple(str(name), tuple(map(str, fields)))(*(_decode(v, remote) for v in values))
    if tag == "int":
        return int(body, 16)
    if tag == "bytes":
        return bytes.fromhex(body)
    if tag == "complex":
        return complex(float(body[0]), float(body[1]))
    if tag == "handle" and type(body) is int:
        return remote(body)
    raise ValueError("malformed value")


_NAMEDTUPLES: dict[tuple[str, tuple[str, ...]], Any] = {}


def _namedtuple(name: str, fields: tuple[str, ...]) -> Any:
    if (name, fields) not in _NAMEDTUPLES:
        import collections
        _NAMEDTUPLES[name, fields] = collections.namedtuple(name, fields, rename=True)
    return _NAMEDTUPLES[name, fields]


def _child(code: str, requests: int, answers: int) -> None:
    """Load the model's code and answer requests until the parent stops reading; never returns."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # the parent's stdin (the tests, the nonce) is not the program's
    os.close(null)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115  # the program's stdin, open for its life
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # what it printed survives its kill
    reader, writer = os.fdopen(requests, "r", encoding="utf-8"), os.fdopen(answers, "w", encoding="utf-8")
    handles: list[Any] = []

    def keep(value: Any) -> Any:
        handles.append(value)
        return {"handle": len(handles) - 1}

    def answer(message: dict[str, Any]) -> None:
        writer.write(json.dumps(message) + "\n")
        writer.flush()

    module = types.ModuleType("solution")
    module.__file__ = "solution.py"
    sys.modules["solution"] = module
    try:
        exec(compile(code, "solution.py", "exec"), module.__dict__)
        names = {k: v for k, v in vars(module).items() if not k.startswith("__")}
        answer({"ok": _encode(names, keep)})
    except Exception as exc:
        _print_exc()
        sys.stderr.flush()
        answer({"raise": [type(exc).__name__, str(exc)[:1000]]})
        os._exit(0)
    ops: dict[str, Any] = {
        "call": lambda o, a, k: o(*a, **k), "getattr": getattr, "setattr": setattr, "getitem": lambda o, k: o[k],
        "len": len, "iter": iter, "next": next, "str": str, "repr": repr}
    for line in reader:
        try:
            request = json.loads(line)
            args = [_decode(a, handles.__getitem__) for a in request["args"]]
            kwargs = {str(k): _decode(v, handles.__getitem__) for k, v in request.get("kwargs", {}).items()}
            result = ops[request["op"]](*args, kwargs) if request["op"] == "call" else ops[request["op"]](*args)
            answer({"ok": _encode(result, keep)})
        except Exception as exc:  # SystemExit and the like end the program, as they would end a plain run
            answer({"raise": [type(exc).__name__, str(exc)[:1000]]})
    os._exit(0)


def _print_exc() -> None:
    import traceback  # only where something failed: it costs every program's start 4 ms
    traceback.print_exc()


class Gone(BaseException):
    """The model's process ended (or broke the protocol) before the tests finished: no result."""


class Remote:
    """A value that stays in the model's process: calls, attributes, items and iteration go there; equality and
    hashing are this handle's identity, so a value whose type defines its own equality compares unequal, and
    `x in value` iterates it and compares here (the model's `__contains__` would be told what to answer)."""

    __slots__ = ("_number",)

    def __init__(self, number: int) -> None:
        object.__setattr__(self, "_number", number)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _ask("call", self, list(args), kwargs)

    def __getattr__(self, name: str) -> Any:
        return _ask("getattr", self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        _ask("setattr", self, name, value)

    def __getitem__(self, key: Any) -> Any:
        return _ask("getitem", self, key)

    def __len__(self) -> int:
        return int(_ask("len", self))

    def __iter__(self) -> Any:
        return _ask("iter", self)

    def __next__(self) -> Any:
        return _ask("next", self)

    def __str__(self) -> str:
        return str(_ask("str", self))

    def __repr__(self) -> str:
        return str(_ask("repr", self))


class _Link:
    """This side of the pipes."""

    def __init__(self, pid: int, requests: int, answers: int) -> None:
        self.pid = pid
        self.writer = os.fdopen(requests, "w", encoding="utf-8")
        self.reader = os.fdopen(answers, "r", encoding="utf-8")

    def receive(self) -> Any:
        line = self.reader.readline()
        if not line.endswith("\n"):
            raise Gone
        try:
            message = json.loads(line)
        except ValueError:
            raise Gone from None
        if type(message) is not dict or len(message) != 1:
            raise Gone
        if "raise" in message:
            name, text = (str(part) for part in message["raise"])
            found = getattr(builtins, name, None)
            kind = found if isinstance(found, type) and issubclass(found, Exception) else \
                type(name if name.isidentifier() else "ProgramError", (Exception,), {})
            raise kind(text)
        try:
            return _decode(message["ok"], Remote)
        except (ValueError, KeyError, TypeError, RecursionError):
            raise Gone from None


_LINK: list[_Link] = []


def _plain(value: Any) -> Any:
    def refuse(other: Any) -> Any:
        if type(other) is Remote:
            return {"handle": object.__getattribute__(other, "_number")}
        raise TypeError(f"cannot pass a {type(other).__name__} to the program")
    return _encode(value, refuse)


def _ask(op: str, *args: Any) -> Any:
    link = _LINK[0]
    kwargs = args[-1] if op == "call" else {}
    args = args[:-1] if op == "call" else args
    request = {"op": op, "args": [_plain(a) for a in args], "kwargs": {k: _plain(v) for k, v in kwargs.items()}}
    try:
        link.writer.write(json.dumps(request) + "\n")
        link.writer.flush()
    except OSError:
        raise Gone from None
    return link.receive()


def _ended(pid: int) -> str:
    """Why the model's process is gone: `timeout` (its CPU limit), `killed` (a signal), or `no result` (it exited,
    or broke the protocol)."""
    for _ in range(100):  # the pipe closes a moment before the process can be waited for
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return "no result"
        if done:
            break
        time.sleep(0.005)
    else:  # alive: it closed its end of the pipe or wrote garbage
        return "no result"
    if os.WIFSIGNALED(status):
        return "timeout" if os.WTERMSIG(status) == signal.SIGXCPU else "killed"
    return "no result"


def main(code: str) -> None:
    import ctypes
    if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE 0: the child cannot read us
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE)")
    requests, answers = os.pipe(), os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        os.close(requests[1])
        os.close(answers[0])
        try:
            _child(code, requests[0], answers[1])
        finally:
            os._exit(1)
    os.close(requests[0])
    os.close(answers[1])
    link = _Link(pid, requests[1], answers[0])
    _LINK.append(link)
    data = sys.stdin.buffer.read().decode("utf-8")
    nonce, tests = data.split("\n", 1)
    results: dict[int, str] = {}

    def record(i: int, outcome: str) -> None:
        if results.get(i, "passed") == "passed":
            results[i] = outcome

    error = None
    try:
        try:
            names = link.receive()
        except Exception as exc:  # the model's code did not load; the child printed its traceback
            names, error = {}, type(exc).__name__
        if error is None:
            namespace = {k: v for k, v in names.items() if type(k) is str}
            namespace.update({"__name__": "tests", "__builtins__": builtins, "__evalscope_record": record})
            exec(compile(tests, "tests.py", "exec"), namespace)
    except Gone:
        error = _ended(pid)
    except Exception as exc:
        _print_exc()
        error = type(exc).__name__
    try:  # noqa: SIM105  # (contextlib costs each start 2 ms) kill it before the result line, written alone
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    sys.stderr.flush()
    sys.stdout.write("\n" + nonce + json.dumps({"tests": results, "error": error}) + "\n")
    sys.stdout.flush()
    os._exit(0)
