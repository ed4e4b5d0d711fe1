"""The load client's own limit: SSE events/s one Locust process reads before its ITL measurements drift.

The calibration server streams one token per chunk every --itl seconds to N concurrent users, so the offered event
rate is N / itl. Past the client's capacity the measured ITL p50 departs from the programmed value (events read
late arrive in clumps) and TTFT p50 grows. The server runs on core 1 and the client on core 0, so the limit found
is the client's, not the server's competing for its CPU. Run alone on the machine
(`flock /work/heavy.lock python bench/perf_client_overhead.py`).
"""

from __future__ import annotations

import argparse
import os
import sys

from evalscope.perf.calibration import CalibrationServer, Program
from evalscope.perf.client import Endpoint
from evalscope.perf.metrics import summarize
from evalscope.perf.plan import LoadPlan
from evalscope.perf.runner import run_load


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ttft", type=float, default=0.02)
    p.add_argument("--itl", type=float, default=0.005)
    p.add_argument("--tokens", type=int, default=100)
    p.add_argument("--users", default="16,32,48,64,96,128")
    p.add_argument("--drift-ms", type=float, default=0.5, help="ITL p50 error counted as drift")
    p.add_argument("--ttft-drift-ms", type=float, default=2.0, help="TTFT p50 error counted as drift")
    a = p.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs two cores: one for the calibration server, one for the client")
    ok_rate = 0.0
    os.sched_setaffinity(0, {1})
    with CalibrationServer(Program(ttft=a.ttft, itl=a.itl)) as server:
        os.sched_setaffinity(0, {0})  # the Locust process inherits it
        print(f"{'users':>6s} {'offered ev/s':>13s} {'read ev/s':>10s} {'TTFT p50 ms':>12s} {'ITL p50 ms':>11s} "
              f"{'ITL p99 ms':>11s}")
        for users in (int(x) for x in a.users.split(",")):
            plan = LoadPlan(Endpoint(url=server.url(), model="m", max_tokens=a.tokens), ("x",) * (2 * users),
                            users=users, max_duration_s=120)
            s = summarize(run_load(plan))
            itl = s.latency["itl"]
            ttft = s.latency["ttft"].p50
            print(f"{users:6d} {users / a.itl:13.0f} {s.events_per_s:10.0f} {ttft * 1e3:12.3f} {itl.p50 * 1e3:11.3f} "
                  f"{itl.p99 * 1e3:11.3f}")
            if abs(itl.p50 - a.itl) * 1e3 <= a.drift_ms and abs(ttft - a.ttft) * 1e3 <= a.ttft_drift_ms:
                ok_rate = max(ok_rate, s.events_per_s)
    print(f"one client process (one core) reads up to ~{ok_rate:.0f} SSE events/s with ITL p50 within "
          f"{a.drift_ms} ms and TTFT p50 within {a.ttft_drift_ms} ms of the programmed values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
