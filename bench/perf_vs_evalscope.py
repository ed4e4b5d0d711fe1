"""Ours vs EvalScope's own perf tool against the calibration server: TTFT/ITL error vs the programmed truth, and
the highest open-loop request rate each client sustains on one core.

The calibration server runs pinned to core 1 and each client to core 0 (`sched_setaffinity`, inherited by the
client's processes), so the server's work never competes with the client being measured.

Sustaining a rate is judged from each tool's raw per-request records (ours: the JSONL records; EvalScope's: its
`benchmark_data.db`), never from its summary's request throughput: that divides by a duration which includes the
ramp and the tail of responses still streaming after the last dispatch, so a short run reads low even when the
client keeps up perfectly. A rate counts as sustained when, over `--rate-seconds` of load,
  * every request succeeded,
  * the dispatch rate, (n - 1) / (last dispatch - first dispatch), is within 5% of the schedule's own rate
    (ours: Poisson offsets with seed 0; EvalScope: its Poisson offsets scaled to n / rate),
  * the steady-state throughput, responses completed in the middle 80% of the dispatch window per second, is
    within 5% of it (a client that falls behind reading its streams finishes fewer responses there), and
  * for ours, whose records carry each request's schedule, dispatch lateness p99 is under `--lateness-ms`.
A second verdict adds accuracy: TTFT and ITL p50 still within `--tolerance-ms` of the programmed values, since a
client that dispatches on time but reads its sockets late reports latencies the server never produced.

EvalScope lives in its own venv (it is not installed by this script):
    python3 -m venv /work/venv-evalscope && /work/venv-evalscope/bin/pip install 'evalscope[perf]'
    flock /work/heavy.lock python bench/perf_vs_evalscope.py --evalscope-python /work/venv-evalscope/bin/python \
        --tokenizer /root/.cache/evalscope/gguf/b179c9523d0e6a0f98a3
Run it alone on the machine (under `flock /work/heavy.lock`): it measures time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evalscope.perf.calibration import CalibrationServer, Program
from evalscope.perf.client import Endpoint
from evalscope.perf.metrics import summarize
from evalscope.perf.plan import LoadPlan
from evalscope.perf.runner import run_load
from evalscope.perf.schedule import arrival_offsets

CLIENT_CORE, SERVER_CORE = 0, 1


@dataclass(frozen=True)
class Run:
    """What one tool's raw records say about one load run (seconds on the client's clock)."""

    n: int
    ok: int
    dispatch: np.ndarray
    """Each request's dispatch time."""
    end: np.ndarray
    """Each request's completion time."""
    ttft_p50: float
    itl_p50: float
    schedule_rate: float
    """The rate the tool's own arrival schedule asked for: (n - 1) / (last offset - first offset)."""
    lateness_p99: float | None = None
    """Dispatch minus schedule, when the tool records its schedule (ours)."""

    @property
    def dispatch_rate(self) -> float:
        span = float(self.dispatch.max() - self.dispatch.min())
        return (self.n - 1) / span if span > 0 else float("nan")

    @property
    def steady_throughput(self) -> float:
        """Responses completed in the middle 80% of the dispatch window, per second."""
        t0, t1 = float(self.dispatch.min()), float(self.dispatch.max())
        lo, hi = t0 + 0.1 * (t1 - t0), t0 + 0.9 * (t1 - t0)
        return float(((self.end >= lo) & (self.end < hi)).sum()) / (hi - lo)


@contextlib.contextmanager
def pinned(core: int) -> Iterator[None]:
    """Run the block (and the processes it starts) on one core."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def ours(url: str, parallel: int, number: int, tokens: int, rate: float | None) -> Run:
    offsets = None if rate is None else tuple(arrival_offsets(number, rate, seed=0))
    plan = LoadPlan(Endpoint(url=url, model="m", max_tokens=tokens), ("hello world",) * number, users=parallel,
                    offsets=offsets, max_duration_s=300)
    with pinned(CLIENT_CORE):
        records = [r for r in run_load(plan) if not r.warmup]
    s = summarize(records)
    return Run(n=number, ok=s.successes, dispatch=np.array([r.dispatch_ns / 1e9 for r in records]),
               end=np.array([r.end_ns / 1e9 for r in records]), ttft_p50=s.latency["ttft"].p50,
               itl_p50=s.latency["itl"].p50,
               schedule_rate=(number - 1) / offsets[-1] if offsets else float("nan"),
               lateness_p99=None if s.lateness is None else s.lateness.p99)


def theirs(python: str, url: str, parallel: int, number: int, tokens: int, rate: float | None,
           tokenizer: str) -> Run:
    script = Path(python).parent / "evalscope"
    with tempfile.TemporaryDirectory() as tmp:
        args = [str(script), "perf", "--url", url, "--model", "m", "--api", "openai", "--stream",
                "--number", str(number), "--max-tokens", str(tokens), "--min-tokens", str(tokens),
                "--dataset", "random", "--min-prompt-length", "8", "--max-prompt-length", "32",
                "--tokenizer-path", tokenizer, "--outputs-dir", tmp, "--no-timestamp"]
        # EvalScope's open-loop mode dispatches on its Poisson schedule without a concurrency cap.
        args += ["--parallel", str(parallel)] if rate is None else ["--open-loop", "--rate", str(rate)]
        # Without our PYTHONPATH: the other venv must import its own `evalscope` package, not this checkout's.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        with pinned(CLIENT_CORE):
            done = subprocess.run(args, cwd=tmp, capture_output=True, text=True, timeout=900, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"EvalScope perf failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
        with contextlib.closing(sqlite3.connect(next(Path(tmp).glob("**/benchmark_data.db")))) as db:
            rows = db.execute("SELECT start_time, completed_time, success, first_chunk_latency, "
                              "inter_token_latencies FROM result").fetchall()
    good = [r for r in rows if r[2]]
    itl = np.concatenate([np.asarray(json.loads(r[4]), dtype=float) for r in good])
    return Run(n=len(rows), ok=len(good), dispatch=np.array([r[0] for r in rows]), end=np.array([r[1] for r in rows]),
               ttft_p50=float(np.median([r[3] for r in good])), itl_p50=float(np.median(itl)),
               schedule_rate=float("nan") if rate is None else rate)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--evalscope-python", required=True, help="python of the venv where EvalScope is installed")
    p.add_argument("--tokenizer", required=True, help="a HF folder with tokenizer.json (EvalScope's random needs it)")
    p.add_argument("--ttft", type=float, default=0.05)
    p.add_argument("--itl", type=float, default=0.01)
    p.add_argument("--tokens", type=int, default=24)
    p.add_argument("--parallel", type=int, default=16)
    p.add_argument("--number", type=int, default=64)
    p.add_argument("--rates", default="100,200,300,400", help="open-loop rates (req/s) for the throughput search")
    p.add_argument("--rate-seconds", type=float, default=10.0, help="seconds of load per rate")
    p.add_argument("--cap", type=int, default=512, help="our open loop's cap on requests in flight (Locust users)")
    p.add_argument("--lateness-ms", type=float, default=10.0, help="bound on our dispatch lateness p99")
    p.add_argument("--tolerance-ms", type=float, default=2.0, help="TTFT/ITL p50 error still counted accurate")
    p.add_argument("--tools", default="evalscope,ours")
    a = p.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs two cores: one for the calibration server, one for the client")
    tools: dict[str, Callable[[str, int, int, float | None], Run]] = {
        "evalscope": lambda url, par, n, rate: theirs(a.evalscope_python, url, par, n, a.tokens, rate, a.tokenizer),
        "ours": lambda url, par, n, rate: ours(url, par, n, a.tokens, rate),
    }
    names = [t for t in a.tools.split(",") if t]
    with pinned(SERVER_CORE), CalibrationServer(Program(ttft=a.ttft, itl=a.itl)) as server:
        url = server.url()
        print(f"programmed TTFT {a.ttft * 1e3:.1f} ms, ITL {a.itl * 1e3:.1f} ms; {a.tokens} tokens (one per event); "
              f"server on core {SERVER_CORE}, client on core {CLIENT_CORE}")
        print(f"\nclosed loop, concurrency {a.parallel}, {a.number} requests")
        print(f"{'tool':10s} {'TTFT p50 ms':>12s} {'err ms':>8s} {'ITL p50 ms':>11s} {'err ms':>8s}")
        for name in names:
            r = tools[name](url, a.parallel, a.number, None)
            print(f"{name:10s} {r.ttft_p50 * 1e3:12.2f} {(r.ttft_p50 - a.ttft) * 1e3:8.2f} {r.itl_p50 * 1e3:11.2f} "
                  f"{(r.itl_p50 - a.itl) * 1e3:8.2f}")
        print(f"\nopen loop, {a.rate_seconds:g} s per rate; rates in req/s (schedule: the tool's own arrival schedule)")
        print(f"{'offered':>8s} {'tool':10s} {'ok':>6s} {'schedule':>9s} {'dispatch':>9s} {'steady':>8s} "
              f"{'late p99 ms':>12s} {'TTFT err ms':>12s} {'ITL err ms':>11s}  verdict")
        best = {name: 0.0 for name in names}
        best_accurate = {name: 0.0 for name in names}
        for rate in (float(x) for x in a.rates.split(",")):
            n = int(rate * a.rate_seconds)
            for name in names:
                r = tools[name](url, a.cap, n, rate)
                ttft_err, itl_err = (r.ttft_p50 - a.ttft) * 1e3, (r.itl_p50 - a.itl) * 1e3
                kept_up = (r.ok == n and r.dispatch_rate >= 0.95 * r.schedule_rate
                           and r.steady_throughput >= 0.95 * r.schedule_rate
                           and (r.lateness_p99 is None or r.lateness_p99 * 1e3 <= a.lateness_ms))
                accurate = abs(ttft_err) <= a.tolerance_ms and abs(itl_err) <= a.tolerance_ms
                if kept_up:
                    best[name] = max(best[name], rate)
                    if accurate:
                        best_accurate[name] = max(best_accurate[name], rate)
                late = "-" if r.lateness_p99 is None else f"{r.lateness_p99 * 1e3:.1f}"
                verdict = ("sustained" if kept_up else "behind") + ("" if accurate else ", drifted")
                print(f"{rate:8.0f} {name:10s} {r.ok:6d} {r.schedule_rate:9.1f} {r.dispatch_rate:9.1f} "
                      f"{r.steady_throughput:8.1f} {late:>12s} {ttft_err:12.2f} {itl_err:11.2f}  {verdict}")
        print("\nhighest rate sustained (on schedule, all served): "
              + ", ".join(f"{k} {v:g} req/s" for k, v in best.items()))
        print(f"... and with TTFT/ITL p50 within {a.tolerance_ms:g} ms: "
              + ", ".join(f"{k} {v:g} req/s" for k, v in best_accurate.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
