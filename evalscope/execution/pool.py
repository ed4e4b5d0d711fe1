"""Model-written programs run beside generation: one pool of sandboxed runs per process, made when first used."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from evalscope.config import RunConfig
from evalscope.execution import cgroup, sandbox

UNCONFINED = "--sandbox none: model-written code runs unconfined, with this user's files, network and environment"


def no_cgroup() -> str | None:
    """One line where programs get no cgroup here (their /tmp files then count against no memory limit)."""
    found = cgroup.Cgroups.find()
    if isinstance(found, cgroup.Cgroups):
        found.close()
        return None
    return (f"no writable cgroup ({found}): each program's processes are limited (RLIMIT_AS, RLIMIT_NPROC) but "
            "not the files it writes into its /tmp, which count against this machine's memory")


class Pool:
    """`exec_workers` programs at once, each in its own sandboxed process; the sandbox is checked on first use."""

    def __init__(self, config: RunConfig, ci: bool) -> None:
        self.config = config
        self.ci = ci
        self.limits = sandbox.Limits(timeout_s=config.exec_timeout)
        self._runner: sandbox.Runner | None = None
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=config.exec_workers, thread_name_prefix="evalscope-exec")

    @property
    def runner(self) -> sandbox.Runner:
        """The sandbox (raises SandboxError, one line, where it cannot run)."""
        with self._lock:
            if self._runner is None:
                self._runner = sandbox.make(self.config.sandbox, self.ci, self.config.allow_unsafe_exec)
            return self._runner

    def submit(self, source: str, stdin: str = "") -> Future[sandbox.Execution]:
        runner = self.runner
        return self._executor.submit(runner.run, source, stdin, self.limits)

    def close(self) -> None:
        """Stop at once: queued programs are dropped and running ones killed (Ctrl-C, the end of the session)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._runner is not None:
            self._runner.close()


_ACTIVE: list[Pool] = []


def install(pool: Pool) -> None:
    """Make `pool` the one this process's benchmarks run programs in (the plugin does, at configure)."""
    _ACTIVE[:] = [pool]


def active() -> Pool:
    if not _ACTIVE:
        raise sandbox.SandboxError("no execution pool in this process (code benchmarks run under the pytest plugin)")
    return _ACTIVE[0]
