"""The load client's own limit: SSE events/s one Locust process reads before its ITL measurements drift.

The calibration server streams one token per chunk every --itl seconds to N concurrent users, so the offered event
rate is N / itl. Past the client's capacity the measured ITL p50 departs from the programmed value. Run alone on
the machine (e.g. `flock /work/heavy.lock python bench/perf_client_overhead.py`).
"""

from __future__ import annotations

import argparse
import sys

from evalscope.perf.calibration import CalibrationServer, Program
from evalscope.perf.client import Endpoint
from evalscope.perf.metrics import summarize
from evalscope.perf.plan import LoadPlan
from evalscope.perf.runner import run_load


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--itl", type=float, default=0.005)
    p.add_argument("--tokens", type=int, default=100)
    p.add_argument("--users", default="8,16,32,64,128")
    p.add_argument("--drift-ms", type=float, default=0.5, help="ITL p50 error counted as drift")
    a = p.parse_args()
    ok_rate = 0.0
    with CalibrationServer(Program(ttft=0.0, itl=a.itl)) as server:
        print(f"{'users':>6s} {'offered ev/s':>13s} {'read ev/s':>10s} {'ITL p50 ms':>11s} {'ITL p99 ms':>11s}")
        for users in (int(x) for x in a.users.split(",")):
            plan = LoadPlan(Endpoint(url=server.url(), model="m", max_tokens=a.tokens), ("x",) * (2 * users),
                            users=users, max_duration_s=120)
            s = summarize(run_load(plan))
            itl = s.latency["itl"]
            print(f"{users:6d} {users / a.itl:13.0f} {s.events_per_s:10.0f} {itl.p50 * 1e3:11.3f} "
                  f"{itl.p99 * 1e3:11.3f}")
            if abs(itl.p50 - a.itl) * 1e3 <= a.drift_ms:
                ok_rate = max(ok_rate, s.events_per_s)
    print(f"one client process reads up to ~{ok_rate:.0f} SSE events/s with ITL p50 within {a.drift_ms} ms "
          "(the server shares the machine: its limit may come first)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
