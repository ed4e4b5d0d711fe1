"""Run a load plan in Locust subprocesses (one local process, or a master and N workers), bounded in time.

Workers may also run on other machines (`evalscope perf-worker --master HOST:PORT`): the master sends them the plan
and they send their records back over Locust's own connection, so nothing but the package is needed there. The plan
names its request headers without their values (a key never crosses the network): each worker is given them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from evalscope.perf.plan import LoadPlan, headers_env
from evalscope.perf.records import RequestRecord, read_jsonl

GRACE_S = 60.0
"""Beyond the plan's own bound (measured phase plus warm-up), before the processes are killed."""


class LoadError(RuntimeError):
    """The load processes failed; the message carries the tail of their log."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_load(plan: LoadPlan, out_dir: Path | None = None, python: str = sys.executable) -> list[RequestRecord]:
    """Generate the plan's load and return every record (warm-up included), merged from all processes."""
    with tempfile.TemporaryDirectory(prefix="evalscope-perf-") as tmp:
        work = Path(tmp)
        plan.write(work / "plan.json")
        driver = [python, "-m", "evalscope.perf.driver"]
        planned = [*driver, "--plan", str(work / "plan.json"), "--out", str(work)]
        port = str(plan.master_port or _free_port())
        here = "127.0.0.1" if plan.master_host in ("0.0.0.0", "::", "") else plan.master_host
        commands = [[*planned, "--role", "local"]] if not plan.all_workers else [
            [*planned, "--role", "master", "--master-host", plan.master_host, "--master-port", port],
            *[[*driver, "--role", "worker", "--master-host", here, "--master-port", port]] * plan.workers,
        ]
        log_path = (out_dir or work) / "locust.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        procs: list[subprocess.Popen[bytes]] = []
        bound = plan.max_duration_s * 2 + 60.0 * plan.warmup + GRACE_S
        with log_path.open("ab") as log:
            try:
                for command in commands:
                    # A session of its own: on timeout the whole group goes, so no process is left behind.
                    # Header values go through the environment, never in the plan file or its messages.
                    procs.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                                  start_new_session=True, env=headers_env(plan.endpoint.headers)))
                for proc in procs:
                    proc.wait(timeout=bound)
            except subprocess.TimeoutExpired:
                raise LoadError(f"load processes still running after {bound:.0f}s; killed (log: {log_path})") from None
            finally:
                _stop(procs)
        failed = [p.returncode for p in procs if p.returncode != 0]
        if failed:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise LoadError(f"load process exited with {failed[0]}; log {log_path}:\n{tail}")
        records = [r for path in sorted(work.glob("records-*.jsonl")) for r in read_jsonl(path)]
    measured = sum(1 for r in records if not r.warmup)
    if measured != len(plan.prompts):
        raise LoadError(f"{measured} of {len(plan.prompts)} planned requests were recorded (log: {log_path})")
    return records
