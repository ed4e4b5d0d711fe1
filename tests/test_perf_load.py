"""Load generation in Locust subprocesses: closed and open loop, warm-up, workers, bounds, errors by cause."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from evalscope.perf.client import Endpoint
from evalscope.perf.metrics import summarize
from evalscope.perf.plan import LoadPlan
from evalscope.perf.runner import run_load
from evalscope.perf.schedule import arrival_offsets

# Timing and process counts: run alone (`make test` runs serial tests after the parallel phase).
pytestmark = pytest.mark.serial


def _drivers() -> list[str]:
    """Load processes still alive on this machine (none may outlive a run)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "evalscope.perf.driver" in cmd and str(os.getpid()) != proc.name:
            found.append(cmd)
    return found


def test_closed_loop_warms_up_each_user_and_sends_each_request_once(calibration) -> None:
    server = calibration(ttft=0.005, itl=0.001)
    plan = LoadPlan(Endpoint(url=server.url(), model="m", max_tokens=8), tuple(f"p{i}" for i in range(20)),
                    users=4, warmup=2)
    records = run_load(plan)
    warm = [r for r in records if r.warmup]
    assert len(warm) == 8 and all(r.index < 0 for r in warm)
    assert sorted(r.index for r in records if not r.warmup) == list(range(20))
    assert all(r.ok and r.completion_tokens == 8 == r.expected_tokens and r.scheduled_ns is None for r in records)
    # Measured requests start after the last warm-up ended (the barrier).
    assert min(r.dispatch_ns for r in records if not r.warmup) >= max(r.end_ns for r in warm) - 1
    assert summarize(records).requests == 20


def test_open_loop_records_schedule_and_lateness_when_the_cap_binds(calibration) -> None:
    server = calibration(ttft=0.02, itl=0.01)
    offsets = tuple(arrival_offsets(8, rate=1000.0, seed=0))  # far beyond what one user can serve
    plan = LoadPlan(Endpoint(url=server.url(), model="m", max_tokens=10), ("x",) * 8, users=1, offsets=offsets)
    records = [r for r in run_load(plan) if not r.warmup]
    assert all(r.scheduled_ns is not None for r in records)
    s = summarize(records)
    assert s.lateness is not None
    # One user and ~110 ms per request: the 8th dispatch is at least 6 responses late.
    assert s.lateness.max >= 6 * 0.11


def test_locust_master_and_workers_share_the_plan(calibration) -> None:
    server = calibration(ttft=0.005, itl=0.001)
    plan = LoadPlan(Endpoint(url=server.url(), model="m", max_tokens=4), ("x",) * 12, users=4, workers=2)
    records = [r for r in run_load(plan) if not r.warmup]
    assert sorted(r.index for r in records) == list(range(12))
    assert {r.worker for r in records} == {0, 1}
    assert all(r.ok for r in records)
    assert not _drivers()


def test_time_bound_cancels_in_flight_and_records_unsent(calibration) -> None:
    server = calibration(ttft=0.01, itl=0.1)  # 5 s per request
    plan = LoadPlan(Endpoint(url=server.url(), model="m", max_tokens=50), ("x",) * 6, users=2, warmup=0,
                    max_duration_s=1.0)
    start = time.monotonic()
    records = run_load(plan)
    assert time.monotonic() - start < 30
    causes = sorted(str(r.error) for r in records)
    assert causes == ["cancelled"] * 2 + ["not_dispatched"] * 4
    assert not _drivers()


def test_errors_by_cause(calibration) -> None:
    server = calibration(ttft=0.001, itl=0.001, error_every=3)
    records = run_load(LoadPlan(Endpoint(url=server.url(), model="m", max_tokens=2), ("x",) * 9, users=1,
                                warmup=0))
    assert summarize(records).errors == {"http_500": 3}
    dead = server.url().rsplit(":", 1)[0] + ":9/v1/chat/completions"  # the discard port: nothing listens
    records = run_load(LoadPlan(Endpoint(url=dead, model="m"), ("x",) * 3, users=1, warmup=0))
    assert summarize(records).errors == {"connect": 3}


def test_unforced_output_length_is_caught_by_usage(calibration) -> None:
    server = calibration(ttft=0.001, itl=0.001, eos_after=3)
    forced = run_load(LoadPlan(Endpoint(url=server.url(), model="m", max_tokens=8), ("x",) * 2, users=1))
    assert summarize(forced).length_mismatches == 0
    unforced = Endpoint(url=server.url(), model="m", max_tokens=8, ignore_eos=False, min_tokens=8)
    assert summarize(run_load(LoadPlan(unforced, ("x",) * 2, users=1))).length_mismatches == 0
    loose = Endpoint(url=server.url(), model="m", max_tokens=8, ignore_eos=False)
    assert loose.expected_tokens is None
    records = run_load(LoadPlan(loose, ("x",) * 2, users=1))
    assert all(r.completion_tokens == 3 for r in records)
