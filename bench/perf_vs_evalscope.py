"""Ours vs EvalScope's own perf tool against the calibration server: TTFT/ITL error vs the programmed truth, and
the highest open-loop request rate each sustains with its client on one core (`taskset -c 0`).

EvalScope lives in its own venv (it is not installed by this script):
    python3 -m venv /work/venv-evalscope && /work/venv-evalscope/bin/pip install 'evalscope[perf]'
    python bench/perf_vs_evalscope.py --evalscope-python /work/venv-evalscope/bin/python
Run it alone on the machine (e.g. under `flock /work/heavy.lock`): it measures time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from evalscope.perf.calibration import CalibrationServer, Program
from evalscope.perf.client import Endpoint
from evalscope.perf.metrics import summarize
from evalscope.perf.plan import LoadPlan
from evalscope.perf.runner import run_load
from evalscope.perf.schedule import arrival_offsets

ONE_CORE = ["taskset", "-c", "0"] if shutil.which("taskset") else []


def ours(url: str, parallel: int, number: int, tokens: int, rate: float | None) -> dict[str, float]:
    offsets = None if rate is None else tuple(arrival_offsets(number, rate, seed=0))
    plan = LoadPlan(Endpoint(url=url, model="m", max_tokens=tokens), ("hello world",) * number, users=parallel,
                    offsets=offsets, max_duration_s=120)
    s = summarize(run_load(plan, python=sys.executable) if not ONE_CORE else _pinned(plan))
    return {"ttft_p50": s.latency["ttft"].p50 * 1e3, "itl_p50": s.latency["itl"].p50 * 1e3,
            "req_s": s.request_throughput, "ok": s.successes}


def _pinned(plan: LoadPlan) -> list:  # type: ignore[type-arg]
    # The Locust process inherits this process's CPU affinity.
    os.sched_setaffinity(0, {0})
    try:
        return run_load(plan)
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))


def theirs(python: str, url: str, parallel: int, number: int, tokens: int, rate: float | None,
           tokenizer: str) -> dict[str, float]:
    script = Path(python).parent / "evalscope"
    with tempfile.TemporaryDirectory() as tmp:
        args = [*ONE_CORE, str(script), "perf", "--url", url, "--model", "m", "--api", "openai", "--stream",
                "--parallel", str(parallel), "--number", str(number), "--max-tokens", str(tokens),
                "--min-tokens", str(tokens), "--dataset", "random", "--min-prompt-length", "8",
                "--max-prompt-length", "32", "--tokenizer-path", tokenizer, "--outputs-dir", tmp, "--no-timestamp"]
        if rate is not None:
            args += ["--rate", str(rate)]
        # Without our PYTHONPATH: the other venv must import its own `evalscope` package, not this checkout's.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        done = subprocess.run(args, cwd=tmp, capture_output=True, text=True, timeout=600, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"EvalScope perf failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
        summary = json.loads(next(Path(tmp).glob("**/benchmark_summary.json")).read_text())
        rows = json.loads(next(Path(tmp).glob("**/benchmark_percentile.json")).read_text())
    p50 = next(r for r in rows if r["Percentiles"] == "50%")
    return {"ttft_p50": p50["TTFT (ms)"], "itl_p50": p50["ITL (ms)"], "req_s": summary["Req Throughput (req/s)"],
            "ok": summary["Success Requests"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--evalscope-python", required=True, help="python of the venv where EvalScope is installed")
    p.add_argument("--tokenizer", required=True, help="a HF folder with tokenizer.json (EvalScope's random needs it)")
    p.add_argument("--ttft", type=float, default=0.05)
    p.add_argument("--itl", type=float, default=0.01)
    p.add_argument("--tokens", type=int, default=24)
    p.add_argument("--parallel", type=int, default=16)
    p.add_argument("--number", type=int, default=64)
    p.add_argument("--rates", default="25,50,100,200", help="open-loop rates (req/s) for the throughput search")
    p.add_argument("--rate-seconds", type=float, default=3.0, help="seconds of load per rate")
    a = p.parse_args()
    with CalibrationServer(Program(ttft=a.ttft, itl=a.itl)) as server:
        url = server.url()
        print(f"programmed TTFT {a.ttft * 1e3:.1f} ms, ITL {a.itl * 1e3:.1f} ms; {a.tokens} tokens, "
              f"concurrency {a.parallel}, {a.number} requests; client pinned to one core: {bool(ONE_CORE)}")
        print(f"{'tool':10s} {'TTFT p50 ms':>12s} {'err ms':>8s} {'ITL p50 ms':>11s} {'err ms':>8s}")
        for name, run in (("evalscope", lambda: theirs(a.evalscope_python, url, a.parallel, a.number, a.tokens,
                                                         None, a.tokenizer)),
                          ("ours", lambda: ours(url, a.parallel, a.number, a.tokens, None))):
            r = run()
            print(f"{name:10s} {r['ttft_p50']:12.2f} {r['ttft_p50'] - a.ttft * 1e3:8.2f} {r['itl_p50']:11.2f} "
                  f"{r['itl_p50'] - a.itl * 1e3:8.2f}")
        print("\nopen loop (cap 512 in flight): achieved req/s at each offered rate; sustained = within 5%")
        best = {"evalscope": 0.0, "ours": 0.0}
        for rate in (float(x) for x in a.rates.split(",")):
            n = max(8, int(rate * a.rate_seconds))
            row = {"evalscope": theirs(a.evalscope_python, url, 512, n, a.tokens, rate, a.tokenizer),
                   "ours": ours(url, 512, n, a.tokens, rate)}
            for tool, r in row.items():
                if r["ok"] == n and r["req_s"] >= 0.95 * rate * (n - 1) / n:
                    best[tool] = max(best[tool], rate)
            es, us = row["evalscope"]["req_s"], row["ours"]["req_s"]
            print(f"  offered {rate:7.1f}: evalscope {es:7.1f}  ours {us:7.1f}")
        print(f"highest sustained rate: evalscope {best['evalscope']:g} req/s, ours {best['ours']:g} req/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
