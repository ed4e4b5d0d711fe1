"""Untrusted programs run one per sandbox: bubblewrap namespaces, a read-only root, no network, a clean environment,
rlimits, an unprivileged uid, and a wall-clock limit that kills the whole process tree.

Each program runs as `setpriv (uid, death signal) -> prlimit (rlimits) -> bwrap (namespaces) -> python`, started
without Python code between fork and exec (so it is safe from threads). What it guarantees and what it does not is
in the README's "Code execution" section.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

UID_BASE, UID_SPAN = 61000, 4000
"""Programs run as uids 61000-64999 when the harness is root, a fresh one each time: root ignores RLIMIT_NPROC,
and a uid not reused at once is not charged for the zombies of an earlier program."""


def uid_for(pid: int, n: int) -> int:
    """The uid of the n-th program of harness process `pid`: processes running side by side (xdist workers) get
    apart ranges."""
    return UID_BASE + (pid * 211 + n) % UID_SPAN


class SandboxError(RuntimeError):
    """The sandbox cannot run here; the message says why and how to fix it (one line)."""


@dataclass(frozen=True)
class Limits:
    """What one program may use."""

    timeout_s: float = 10.0
    """Wall clock; the whole tree is killed at the limit."""
    memory_bytes: int = 2 << 30
    """Address space (RLIMIT_AS) of each process."""
    processes: int = 32
    """Processes of the program's uid (RLIMIT_NPROC): a fork bomb stops there."""
    file_bytes: int = 16 << 20
    """Largest file it may write (RLIMIT_FSIZE), in its private tmpfs."""
    open_files: int = 256
    output_bytes: int = 1 << 20
    """stdout + stderr; past it the program is killed and fails."""


@dataclass(frozen=True)
class Execution:
    """How one program ended."""

    status: str
    """`exited` (the program finished; its tests say whether it passed), `timeout`, `memory`, `output` (past the
    output limit) or `killed` (by a signal: the CPU limit, or the program's own doing)."""
    exit_code: int | None
    stdout: str
    stderr: str
    wall_s: float

    @property
    def cause(self) -> str:
        """One word on the way it ended, for the record: `passed`-able exit, or why not."""
        if self.status != "exited":
            return self.status
        last = (self.stderr.strip().splitlines() or [""])[-1]
        return last.split(":", 1)[0].strip() if self.exit_code else "exited"


def _python() -> str:
    """An interpreter every uid may run: this one when its folder is world-readable, else the system's."""
    candidates = [Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}",
                  Path("/usr/bin/python3")]
    for path in candidates:
        real = path.resolve()
        if real.is_file() and all(os.stat(p).st_mode & 0o005 == 0o005 for p in [*real.parents][:-1]):
            return str(real)
    raise SandboxError("no Python interpreter that an unprivileged user can run (install python3 from the system's "
                       "packages, or make this interpreter's folder world-readable)")


class _Output:
    """Both pipes read at once into capped buffers; `over` says a program wrote past the cap."""

    def __init__(self, proc: subprocess.Popen[bytes], cap: int) -> None:
        self.cap, self.total, self.over = cap, 0, threading.Event()
        self.parts: dict[str, bytearray] = {"out": bytearray(), "err": bytearray()}
        self.threads = [threading.Thread(target=self._read, args=(pipe, key), daemon=True)
                        for key, pipe in (("out", proc.stdout), ("err", proc.stderr))]
        for t in self.threads:
            t.start()

    def _read(self, pipe: object, key: str) -> None:
        read = pipe.read1  # type: ignore[attr-defined]
        while chunk := read(1 << 16):
            self.total += len(chunk)
            room = self.cap - len(self.parts[key])
            if room > 0:
                self.parts[key] += chunk[:room]
            if self.total > self.cap:
                self.over.set()

    def join(self) -> tuple[str, str]:
        for t in self.threads:
            t.join(timeout=5)
        return (self.parts["out"].decode(errors="replace"), self.parts["err"].decode(errors="replace"))


class Runner:
    """Starts, watches and kills programs; subclasses say how a program is started (`command`)."""

    name = "runner"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running: set[subprocess.Popen[bytes]] = set()

    def command(self, script: Path, limits: Limits) -> list[str]:
        raise NotImplementedError

    def run(self, source: str, stdin: str, limits: Limits) -> Execution:
        with tempfile.TemporaryDirectory(prefix="evalscope-program-") as tmp:
            script = Path(tmp) / "program.py"
            script.write_text(source, encoding="utf-8")
            os.chmod(tmp, 0o755)  # a program running as another uid reads it through its bind mount
            started = time.perf_counter()
            proc = subprocess.Popen(self.command(script, limits), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env={}, start_new_session=True)
            with self._lock:
                self.running.add(proc)
            try:
                return self._wait(proc, stdin, limits, started)
            finally:
                with self._lock:
                    self.running.discard(proc)

    def _wait(self, proc: subprocess.Popen[bytes], stdin: str, limits: Limits, started: float) -> Execution:
        output = _Output(proc, limits.output_bytes)
        assert proc.stdin is not None
        try:
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        status = "exited"
        deadline = started + limits.timeout_s
        while proc.poll() is None:
            if output.over.is_set():
                status = "output"
                break
            if time.perf_counter() > deadline:
                status = "timeout"
                break
            output.over.wait(0.01)
        kill_tree(proc)
        proc.wait()
        out, err = output.join()
        code = proc.returncode
        if status == "exited" and code is not None and code < 0:
            status = "timeout" if -code == signal.SIGXCPU else "killed"
        if status == "exited" and "MemoryError" in (err.strip().splitlines() or [""])[-1]:
            status = "memory"
        return Execution(status, code if status == "exited" else None, out, err, time.perf_counter() - started)

    def close(self) -> None:
        """Kill every program still running (Ctrl-C, the end of the session)."""
        with self._lock:
            for proc in list(self.running):
                kill_tree(proc)


class Bubblewrap(Runner):
    """Each program in its own bubblewrap sandbox (Debian's `bubblewrap`); checked once when made."""

    name = "bubblewrap"

    def __init__(self) -> None:
        super().__init__()
        missing = [tool for tool in ("bwrap", "setpriv", "prlimit") if shutil.which(tool) is None]
        if missing:
            raise SandboxError(f"code execution needs {', '.join(missing)} (apt-get install bubblewrap util-linux); "
                               "or --sandbox none to run untrusted code unconfined")
        self.python = _python()
        self.root = os.geteuid() == 0
        self._uids = itertools.count()
        self.used: set[int] = set()
        """The uids this sandbox's programs ran as."""
        probe = self.run("print('ok')", "", Limits(timeout_s=30))
        if probe.stdout.strip() != "ok":
            why = (probe.stderr.strip().splitlines() or [probe.status])[-1]
            raise SandboxError(f"bubblewrap cannot create its namespaces here ({why}); allow unprivileged user "
                               "namespaces (sysctl kernel.unprivileged_userns_clone=1, or a container run with "
                               "--security-opt seccomp=unconfined), or --sandbox none to run untrusted code unconfined")

    def command(self, script: Path, limits: Limits) -> list[str]:
        with self._lock:
            number = uid_for(os.getpid(), next(self._uids))
            self.used.add(number)
        uid = str(number)
        # As root the program gets a uid of its own (root is exempt from RLIMIT_NPROC); otherwise it keeps ours.
        user = ["--reuid", uid, "--regid", uid, "--clear-groups"] if self.root else []
        prefix = str(Path(self.python).parents[1])
        return [
            "setpriv", *user, "--pdeathsig", "KILL", "--",  # dies with the harness, however that ends
            *_prlimit(limits, limits.processes), "--",
            "bwrap", "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
            *([] if prefix == "/usr" else ["--ro-bind", prefix, prefix]),
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind", str(script), "/tmp/program.py",
            "--chdir", "/tmp", "--clearenv", "--setenv", "HOME", "/tmp", "--setenv", "PATH", "/usr/bin:/bin",
            "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            self.python, "-I", "/tmp/program.py",
        ]


def _prlimit(limits: Limits, processes: int) -> list[str]:
    return ["prlimit", f"--nproc={processes}", f"--as={limits.memory_bytes}", f"--cpu={int(limits.timeout_s) + 1}",
            f"--fsize={limits.file_bytes}", f"--nofile={limits.open_files}", "--core=0"]


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the program's session: bwrap, and with it (its PID namespace) everything the program started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)




class Unconfined(Runner):
    """`--sandbox none`: the program runs as a plain subprocess with the same rlimits and time limit, and nothing
    else between it and this machine (its files, network and environment)."""

    name = "none"

    def command(self, script: Path, limits: Limits) -> list[str]:
        # RLIMIT_NPROC counts every process of this uid, the harness's too.
        return [*_prlimit(limits, limits.processes + _user_processes()), "--", sys.executable, "-I", str(script)]


def _user_processes() -> int:
    """Processes of this uid now."""
    uid, count = os.getuid(), 0
    for entry in Path("/proc").iterdir():
        try:
            count += entry.name.isdigit() and entry.stat().st_uid == uid
        except OSError:
            continue
    return count


class Docker(Runner):
    """`--sandbox docker`: each program in a throwaway container (no network, memory and pids limits, read-only
    root, no capabilities). Needs a Docker daemon and the image (`python:3.11-slim`, or EVALSCOPE_DOCKER_IMAGE)."""

    name = "docker"

    def __init__(self) -> None:
        super().__init__()
        if shutil.which("docker") is None:
            raise SandboxError("--sandbox docker needs the docker CLI and a running daemon")
        check = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
        if check.returncode != 0:
            raise SandboxError(f"--sandbox docker: no Docker daemon answers ({check.stderr.strip()[:200]})")
        self.image = os.environ.get("EVALSCOPE_DOCKER_IMAGE", "python:3.11-slim")

    def command(self, script: Path, limits: Limits) -> list[str]:
        return ["docker", "run", "--rm", "-i", "--network", "none", "--read-only", "--tmpfs", "/tmp",
                f"--memory={limits.memory_bytes}", f"--pids-limit={limits.processes}", "--cap-drop", "ALL",
                "--security-opt", "no-new-privileges", "--user", "65534:65534", "-v", f"{script}:/tmp/program.py:ro",
                "-w", "/tmp", self.image, "python", "-I", "/tmp/program.py"]


def make(kind: str, ci: bool, allow_unsafe: bool) -> Runner:
    """The sandbox `--sandbox` names; `none` is refused under CI=true unless `--allow-unsafe-exec`."""
    if kind == "bubblewrap":
        return Bubblewrap()
    if kind == "docker":
        return Docker()
    if kind == "none":
        if ci and not allow_unsafe:
            raise SandboxError("--sandbox none runs model-written code unconfined; under CI=true it also needs "
                               "--allow-unsafe-exec")
        return Unconfined()
    raise SandboxError(f"--sandbox: {kind!r} (choose from bubblewrap, docker, none)")
