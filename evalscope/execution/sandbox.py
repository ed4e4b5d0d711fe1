"""Untrusted programs run one per sandbox: bubblewrap namespaces, a read-only root, no network, a clean environment,
rlimits, a memory and pids cgroup, an unprivileged uid, and a wall-clock limit that kills the whole process tree.

Each program runs as `sh (joins its cgroup) -> setpriv (uid, death signal) -> sh (stops if the harness is already
gone) -> prlimit (rlimits) -> bwrap (namespaces) -> python`, started without Python code between fork and exec (so
it is safe from threads). What it guarantees and what it does not is in the README's "Code execution" section.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalscope.execution import cgroup

UID_BASE, UID_SLOTS = 1 << 30, 64
"""Programs run as uids from 2^30 when the harness is root (root ignores RLIMIT_NPROC): harness process `pid` owns
the 64 uids from 2^30 + 64 * pid, used in turn, so a uid is not charged for the zombies of a recent program."""


def uid_for(pid: int, n: int) -> int:
    """The uid of the n-th program of harness process `pid`. Live processes have distinct pids, so harnesses side
    by side (xdist workers) never share a uid (pids stay below 2^22, the kernel's limit: the uids below 2^31)."""
    return UID_BASE + pid * UID_SLOTS + n % UID_SLOTS


class SandboxError(RuntimeError):
    """The sandbox cannot run here; the message says why and how to fix it (one line)."""


@dataclass(frozen=True)
class Limits:
    """What one program may use."""

    timeout_s: float = 10.0
    """Wall clock; the whole tree is killed at the limit."""
    memory_bytes: int = 2 << 30
    """Address space (RLIMIT_AS) of each process, and (where a cgroup is writable) the memory of the whole
    program: its processes and the files in its tmpfs."""
    processes: int = 32
    """Processes of the program (its pids cgroup, and RLIMIT_NPROC of its uid): a fork bomb stops there."""
    file_bytes: int = 16 << 20
    """Largest file it may write (RLIMIT_FSIZE), in its private tmpfs."""
    open_files: int = 256
    cpus: float = 1.0
    """CPUs a container may use (`--sandbox docker`; bubblewrap's programs are held by RLIMIT_CPU and the clock)."""
    output_bytes: int = 1 << 20
    """stdout + stderr; past it the program is killed and fails."""


@dataclass(frozen=True)
class Execution:
    """How one program ended."""

    status: str
    """`exited` (the program finished; its tests say whether it passed), `timeout`, `memory` (a MemoryError, or
    its cgroup's memory limit reached), `output` (past the output limit) or `killed` (by a signal: the CPU limit,
    or the program's own doing)."""
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
        self._numbers = itertools.count()
        self.running: dict[subprocess.Popen[bytes], int] = {}

    def command(self, script: Path, limits: Limits, number: int) -> list[str]:
        """How the `number`-th program of this runner is started."""
        raise NotImplementedError

    def stop(self, proc: subprocess.Popen[bytes], number: int) -> None:
        """Kill a program and all it started (at its end, its time limit, or the harness's)."""
        kill_tree(proc)

    def ended(self, number: int) -> str | None:
        """After a program is gone: a status that overrides its exit's (`memory`), and what it held released."""
        return None

    def run(self, source: str, stdin: str, limits: Limits) -> Execution:
        with tempfile.TemporaryDirectory(prefix="evalscope-program-") as tmp:
            script = Path(tmp) / "program.py"
            script.write_text(source, encoding="utf-8")
            os.chmod(tmp, 0o755)  # a program running as another uid reads it through its bind mount
            with self._lock:
                number = next(self._numbers)
            try:
                run = self._start(script, stdin, limits, number)
            finally:
                status = self.ended(number)
            return run if status is None else Execution(status, None, run.stdout, run.stderr, run.wall_s)

    def _start(self, script: Path, stdin: str, limits: Limits, number: int) -> Execution:
        started = time.perf_counter()
        proc = subprocess.Popen(self.command(script, limits, number), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={}, start_new_session=True)
        with self._lock:
            self.running[proc] = number
        try:
            return self._wait(proc, stdin, limits, started, number)
        finally:
            with self._lock:
                self.running.pop(proc, None)

    def _wait(self, proc: subprocess.Popen[bytes], stdin: str, limits: Limits, started: float,
              number: int) -> Execution:
        output = _Output(proc, limits.output_bytes)
        assert proc.stdin is not None
        # From a thread: a program that does not read its stdin must not hold up its time limit.
        threading.Thread(target=_feed, args=(proc.stdin, stdin.encode()), daemon=True).start()
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
        self.stop(proc, number)
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
            running = list(self.running.items())
        for proc, number in running:
            self.stop(proc, number)


def _feed(pipe: Any, data: bytes) -> None:
    with contextlib.suppress(OSError):  # BrokenPipeError: it ended without reading all of it
        pipe.write(data)
        pipe.close()


class Bubblewrap(Runner):
    """Each program in its own bubblewrap sandbox (Debian's `bubblewrap`) and, where one is writable, its own
    memory and pids cgroup; checked once when made."""

    name = "bubblewrap"

    def __init__(self) -> None:
        super().__init__()
        missing = [tool for tool in ("bwrap", "setpriv", "prlimit") if shutil.which(tool) is None]
        if missing:
            raise SandboxError(f"code execution needs {', '.join(missing)} (apt-get install bubblewrap util-linux); "
                               "or --sandbox none to run untrusted code unconfined")
        self.python = _python()
        self.root = os.geteuid() == 0
        self.used: set[int] = set()
        """The uids this sandbox's programs ran as."""
        found = cgroup.Cgroups.find()
        self.cgroups = found if isinstance(found, cgroup.Cgroups) else None
        self.no_cgroup = None if self.cgroups else found
        """Why programs run without a cgroup (their tmpfs files then count against no memory limit)."""
        self._groups: dict[int, cgroup.Group] = {}
        probe = self.run("print('ok')", "", Limits(timeout_s=30))
        if probe.stdout.strip() != "ok":
            why = (probe.stderr.strip().splitlines() or [probe.status])[-1]
            raise SandboxError(f"bubblewrap cannot run a program here ({why}); {_hint(why)}, or --sandbox none to "
                               "run untrusted code unconfined")

    def command(self, script: Path, limits: Limits, number: int) -> list[str]:
        harness = os.getpid()
        processes = limits.processes
        if self.root:  # a uid of its own (root is exempt from RLIMIT_NPROC)
            uid = str(uid_for(harness, number))
            with self._lock:
                self.used.add(int(uid))
            user = ["--reuid", uid, "--regid", uid, "--clear-groups"]
        else:  # our uid: RLIMIT_NPROC counts this user's other processes too
            user, processes = [], _nproc_for_user(limits.processes)
        joins: list[str] = []
        if self.cgroups is not None:
            group = self.cgroups.make(str(number), limits.memory_bytes, limits.processes)
            with self._lock:
                self._groups[number] = group
            joins = [str(p) for p in group.procs]
        prefix = str(Path(self.python).parents[1])
        return [
            *_launcher(joins, harness), "setpriv", *user, "--pdeathsig", "KILL", "--", *_check_parent(harness),
            *_prlimit(limits, processes), "--",
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

    def stop(self, proc: subprocess.Popen[bytes], number: int) -> None:
        kill_tree(proc)
        with self._lock:
            group = self._groups.get(number)
        if group is not None:
            group.kill()

    def ended(self, number: int) -> str | None:
        with self._lock:
            group = self._groups.pop(number, None)
        if group is None:
            return None
        group.kill()
        memory = group.out_of_memory()
        group.remove()
        return "memory" if memory else None

    def close(self) -> None:
        super().close()
        if self.cgroups is not None:
            self.cgroups.close()


def _launcher(joins: list[str], harness: int) -> list[str]:
    """Joins the program's cgroups (as the harness's user, before anything of the program runs), then runs the
    rest of the command line."""
    if not joins:
        return []
    script = ('for f; do [ "$f" = -- ] && break; echo $$ > "$f" || { echo "evalscope: cannot join cgroup $f" >&2; '
              'exit 125; }; shift; done; shift; exec "$@"')
    return ["sh", "-c", script, str(harness), *joins, "--"]


def _check_parent(harness: int) -> list[str]:
    """Runs after setpriv set the death signal: a harness that died before (the signal then never comes) has left
    this process to another parent, and the program does not start."""
    return ["sh", "-c", '[ "$PPID" = "$0" ] || exit 125; exec "$@"', str(harness)]


def _nproc_for_user(processes: int) -> int:
    """RLIMIT_NPROC for a program that keeps this user's uid: `processes` more than the user runs now (capped by
    the hard limit, which an unprivileged process cannot raise)."""
    wanted = processes + _user_processes()
    hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


def _hint(why: str) -> str:
    """How to fix a sandbox that failed its probe, from bubblewrap's last line."""
    if "Resource temporarily unavailable" in why or "EAGAIN" in why:
        return ("this user runs as many processes as its limit allows (ulimit -u); raise it (or stop some), or "
                "run as root")
    if "cgroup" in why:
        return "its cgroup cannot be joined (check the permissions under /sys/fs/cgroup)"
    return ("allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or a container run with "
            "--security-opt seccomp=unconfined)")


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

    def command(self, script: Path, limits: Limits, number: int) -> list[str]:
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
    """`--sandbox docker`: each program in a throwaway container (no network, memory, pids and CPU limits, read-only
    root, no capabilities), named so that a program past its time limit is removed with its client. Needs a Docker
    daemon and the image (`python:3.11-slim`, or EVALSCOPE_DOCKER_IMAGE)."""

    name = "docker"

    def __init__(self) -> None:
        super().__init__()
        cli = shutil.which("docker")
        if cli is None:
            raise SandboxError("--sandbox docker needs the docker CLI and a running daemon")
        self.cli = cli
        self.image = os.environ.get("EVALSCOPE_DOCKER_IMAGE", "python:3.11-slim")
        self.prefix = f"evalscope-{os.getpid()}-{secrets.token_hex(3)}"

    def check(self) -> None:
        """Raise SandboxError (one line) where no daemon answers."""
        check = subprocess.run([self.cli, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
        if check.returncode != 0:
            raise SandboxError(f"--sandbox docker: no Docker daemon answers ({check.stderr.strip()[:200]})")

    def container(self, number: int) -> str:
        return f"{self.prefix}-{number}"

    def command(self, script: Path, limits: Limits, number: int) -> list[str]:
        return [self.cli, "run", "--rm", "-i", "--name", self.container(number), "--network", "none", "--read-only",
                "--tmpfs", "/tmp", f"--memory={limits.memory_bytes}", f"--memory-swap={limits.memory_bytes}",
                f"--pids-limit={limits.processes}", f"--cpus={limits.cpus:g}", "--cap-drop", "ALL",
                "--security-opt", "no-new-privileges", "--user", "65534:65534", "-v", f"{script}:/tmp/program.py:ro",
                "-w", "/tmp", self.image, "python", "-I", "/tmp/program.py"]

    def stop(self, proc: subprocess.Popen[bytes], number: int) -> None:
        running = proc.poll() is None
        kill_tree(proc)
        if running:  # killing the client leaves its container running: remove it by name
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                subprocess.run([self.cli, "rm", "-f", self.container(number)], capture_output=True, timeout=60)


def make(kind: str, ci: bool, allow_unsafe: bool) -> Runner:
    """The sandbox `--sandbox` names; `none` is refused under CI=true unless `--allow-unsafe-exec`."""
    if kind == "bubblewrap":
        return Bubblewrap()
    if kind == "docker":
        docker = Docker()
        docker.check()
        return docker
    if kind == "none":
        if ci and not allow_unsafe:
            raise SandboxError("--sandbox none runs model-written code unconfined; under CI=true it also needs "
                               "--allow-unsafe-exec")
        return Unconfined()
    raise SandboxError(f"--sandbox: {kind!r} (choose from bubblewrap, docker, none)")
