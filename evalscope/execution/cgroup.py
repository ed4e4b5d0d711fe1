"""A memory and process-count cgroup per sandboxed program: its files in a tmpfs count against its memory, its
processes are capped as a whole, and it is killed as a whole. cgroup v1 (memory, pids) or v2, under this process's
own cgroup, where that is writable."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX = "evalscope-"


@dataclass(frozen=True)
class Group:
    """One program's cgroup: a folder in each controller's hierarchy (one folder on v2)."""

    folders: tuple[Path, ...]
    v2: bool

    @property
    def procs(self) -> tuple[Path, ...]:
        """The files a process writes its pid to, to join (the program's launcher does, before it starts)."""
        return tuple(folder / "cgroup.procs" for folder in self.folders)

    def out_of_memory(self) -> bool:
        """Whether the kernel killed a process of it at its memory limit."""
        folder = self.folders[0]
        try:
            text = (folder / ("memory.events" if self.v2 else "memory.oom_control")).read_text()
        except OSError:
            return False
        counts = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
        if "oom_kill" in counts:
            return int(counts["oom_kill"]) > 0
        return not self.v2 and int((folder / "memory.failcnt").read_text()) > 0  # kernels before 4.13

    def kill(self) -> None:
        """SIGKILL every process in it, until none is left (bounded: an unkillable one is left to `remove`)."""
        if self.v2:
            with contextlib.suppress(OSError):
                (self.folders[0] / "cgroup.kill").write_text("1")
        for _ in range(200):
            pids: set[int] = set()
            for procs in self.procs:
                with contextlib.suppress(OSError):
                    pids.update(int(p) for p in procs.read_text().split())
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)

    def remove(self) -> None:
        for folder in self.folders:
            _rmdir(folder)


class Cgroups:
    """Where programs' cgroups are made: `evalscope-<pid>/<n>` under this process's cgroup in each controller."""

    def __init__(self, parents: tuple[Path, ...], v2: bool) -> None:
        self.parents, self.v2 = parents, v2

    @classmethod
    def find(cls) -> Cgroups | str:
        """This process's cgroups, made ready for children; or one line on why there are none to use."""
        try:
            own = _own_cgroups()
            mounts = _mounts()
        except OSError as exc:
            return f"cannot read this process's cgroups ({exc})"
        if "memory" in mounts and "memory" in own:  # v1
            parents = [mounts[c] / own[c].lstrip("/") for c in ("memory", "pids") if c in mounts and c in own]
            return cls._made([p / f"{PREFIX}{os.getpid()}" for p in dict.fromkeys(parents)], v2=False)
        if "" in mounts and "" in own:  # v2: the controllers must be enabled for our children
            parent = mounts[""] / own[""].lstrip("/")
            try:
                if "memory" not in (parent / "cgroup.controllers").read_text().split():
                    return f"cgroup v2 at {parent} has no memory controller"
                _enable(parent)
            except OSError as exc:
                return f"cannot enable the memory controller for {parent}'s children ({exc.strerror})"
            return cls._made([parent / f"{PREFIX}{os.getpid()}"], v2=True)
        return "no cgroup memory controller is mounted"

    @classmethod
    def _made(cls, folders: list[Path], v2: bool) -> Cgroups | str:
        for folder in folders:
            _sweep(folder.parent)
            try:
                folder.mkdir(exist_ok=True)
                if v2:
                    _enable(folder)
            except OSError as exc:
                return f"cannot make a cgroup in {folder.parent} ({exc.strerror})"
        return cls(tuple(folders), v2)

    def make(self, name: str, memory_bytes: int, processes: int) -> Group:
        """A fresh cgroup for one program: at most `memory_bytes` of memory (its tmpfs files included, no swap)
        and `processes` tasks."""
        folders = []
        for parent in self.parents:
            folder = parent / name
            folder.mkdir()
            folders.append(folder)
            if self.v2:
                (folder / "memory.max").write_text(str(memory_bytes))
                with contextlib.suppress(FileNotFoundError):  # no swap accounting configured
                    (folder / "memory.swap.max").write_text("0")
            elif (folder / "memory.limit_in_bytes").exists():
                (folder / "memory.limit_in_bytes").write_text(str(memory_bytes))
                with contextlib.suppress(FileNotFoundError):  # memsw: present where swap is accounted
                    (folder / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
            if (folder / "pids.max").exists():  # else RLIMIT_NPROC alone holds a fork bomb
                (folder / "pids.max").write_text(str(processes))
        return Group(tuple(folders), self.v2)

    def close(self) -> None:
        for parent in self.parents:
            _rmdir(parent)


def _enable(folder: Path) -> None:
    """Give `folder`'s children the memory controller, and pids where there is one (v2)."""
    (folder / "cgroup.subtree_control").write_text("+memory")
    if "pids" in (folder / "cgroup.controllers").read_text().split():
        (folder / "cgroup.subtree_control").write_text("+pids")


def _own_cgroups() -> dict[str, str]:
    """controller -> this process's cgroup path (`""` for v2's unified hierarchy)."""
    found = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            found[controller] = path
    return found


def _mounts() -> dict[str, Path]:
    """controller -> where its hierarchy is mounted (`""` for cgroup2)."""
    found: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, right = line.split(" - ", 1)
        fstype, _, options = right.split()[:3]
        if fstype == "cgroup2":
            found.setdefault("", Path(left.split()[4]))
        elif fstype == "cgroup":
            for option in options.split(","):
                found.setdefault(option, Path(left.split()[4]))
    return found


def _sweep(parent: Path) -> None:
    """Remove the cgroups left by harnesses that died (their programs died with them)."""
    with contextlib.suppress(OSError):
        for folder in parent.glob(f"{PREFIX}*"):
            pid = folder.name.removeprefix(PREFIX)
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                _rmdir(folder)


def _rmdir(folder: Path) -> None:
    """Remove a cgroup folder and its children (a cgroup with processes left is left too)."""
    with contextlib.suppress(OSError):
        for child in folder.iterdir():
            if child.is_dir():
                _rmdir(child)
    for _ in range(100):  # a killed process leaves its cgroup a moment after it is reaped
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                return
            time.sleep(0.01)
