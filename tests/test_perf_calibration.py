"""Calibration: the whole measuring path (Locust subprocess, SSE client, numpy metrics) against a server whose
TTFT and inter-chunk delay are programmed. p50 within 2 ms at concurrency 1 and 16, one and several tokens per
chunk. Timing tests: run them alone on the machine (`flock /work/heavy.lock pytest tests/test_perf_calibration.py`).
"""

from __future__ import annotations

import pytest

from evalscope.perf.client import Endpoint
from evalscope.perf.metrics import summarize
from evalscope.perf.plan import LoadPlan
from evalscope.perf.runner import run_load

# Millisecond timing: run alone (`make test` runs serial tests after the parallel phase).
pytestmark = pytest.mark.serial

TTFT, ITL, TOKENS = 0.050, 0.010, 24
TOLERANCE = 0.002


@pytest.mark.parametrize("tokens_per_chunk", [1, 4])
@pytest.mark.parametrize(("users", "number"), [(1, 12), (16, 64)])
def test_measured_ttft_and_itl_match_the_programmed_values(calibration, users: int, number: int,
                                                           tokens_per_chunk: int) -> None:
    server = calibration(ttft=TTFT, itl=ITL, tokens_per_chunk=tokens_per_chunk)
    plan = LoadPlan(Endpoint(url=server.url(), model="calibration", max_tokens=TOKENS), ("calibrate me",) * number,
                    users=users, max_duration_s=60)
    records = run_load(plan)
    s = summarize(records)
    assert s.successes == number and s.length_mismatches == 0 and s.usage_missing == 0
    chunks = -(-TOKENS // tokens_per_chunk)
    assert all(len(r.chunk_ns) == chunks for r in records)  # role-only and usage events are not output chunks
    ttft, itl, tpot = s.latency["ttft"].p50, s.latency["itl"].p50, s.latency["tpot"].p50
    report = f"c{users} k{tokens_per_chunk}: TTFT p50 {ttft * 1e3:.3f} ms, ITL p50 {itl * 1e3:.3f} ms"
    print(report)
    assert abs(ttft - TTFT) <= TOLERANCE, report
    assert abs(itl - ITL) <= TOLERANCE, report
    # TPOT excludes the first token: (chunks - 1) gaps spread over (tokens - 1) tokens.
    assert abs(tpot - (chunks - 1) * ITL / (TOKENS - 1)) <= TOLERANCE, report


def test_completions_api_and_non_streaming(calibration) -> None:
    server = calibration(ttft=0.02, itl=0.005)
    stream = run_load(LoadPlan(Endpoint(url=server.url("completions"), model="m", api="completions", max_tokens=5),
                               ("hi",) * 3, users=1))
    assert all(r.ok and len(r.chunk_ns) == 5 and r.completion_tokens == 5 for r in stream)
    whole = run_load(LoadPlan(Endpoint(url=server.url(), model="m", stream=False, max_tokens=5), ("hi",) * 3,
                              users=1))
    # Without streaming there is one chunk: TTFT is the whole latency, and the output text is all there.
    assert all(r.ok and len(r.chunk_ns) == 1 and len(r.chunk_text[0].split()) == 5 for r in whole)
