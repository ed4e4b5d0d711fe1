"""Metrics from raw records: definitions, the nasty cases, SLO parsing and gates, the knee."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalscope.perf.metrics import RequestSlo, knee, metric_names, request_metrics, summarize
from evalscope.perf.records import RequestRecord, read_jsonl, write_jsonl
from evalscope.perf.slo import SloError, parse, request_slo, violations

MS = 1_000_000


def rec(index: int, dispatch_ms: float, chunks_ms: list[float], tokens: int | None = None, *,
        error: str | None = None, warmup: bool = False, scheduled_ms: float | None = None,
        expected: int | None = None, offset: int = 0) -> RequestRecord:
    chunk_ns = tuple(int(c * MS) for c in chunks_ms)
    return RequestRecord(
        index=index, warmup=warmup, worker=0, dispatch_ns=int(dispatch_ms * MS), chunk_ns=chunk_ns,
        chunk_text=tuple("x" for _ in chunk_ns), end_ns=int((chunks_ms[-1] if chunks_ms else dispatch_ms) * MS) + 1,
        status=0 if error else 200, error=error, completion_tokens=tokens, prompt_tokens=10,
        expected_tokens=expected, scheduled_ns=None if scheduled_ms is None else int(scheduled_ms * MS),
        events=len(chunk_ns) + 2, epoch_offset_ns=offset)


def test_ttft_tpot_itl_e2e_of_one_request() -> None:
    # 4 tokens in 3 chunks (the second carries two): TPOT divides by tokens - 1, ITL is per chunk.
    m = request_metrics(rec(0, 0, [50, 60, 80], tokens=4))
    assert m.ttft == pytest.approx(0.050)
    assert m.e2e == pytest.approx(0.080)
    assert m.tpot == pytest.approx(0.030 / 3)
    assert m.itl.tolist() == pytest.approx([0.010, 0.020])


def test_single_token_output_has_no_tpot_and_does_not_break_goodput() -> None:
    m = request_metrics(rec(0, 0, [50], tokens=1))
    assert math.isnan(m.tpot) and m.itl.size == 0
    assert RequestSlo(tpot=0.001).met(m)
    s = summarize([rec(0, 0, [50], tokens=1)])
    assert s.latency["tpot"].n == 0 and math.isnan(s.latency["tpot"].p50)
    assert s.to_json()["latency"]["tpot"]["p50"] is None  # NaN is written as null


def test_missing_usage_counts_chunks_and_is_reported() -> None:
    s = summarize([rec(0, 0, [10, 20, 30], tokens=None)])
    assert s.output_tokens_mean == 3 and s.usage_missing == 1


def test_percentiles_are_numpy_linear_over_measured_successes_only() -> None:
    ttfts = [10, 20, 30, 40, 1000]
    records = [rec(i, 0, [t, t + 5], tokens=2) for i, t in enumerate(ttfts)]
    records += [rec(-1, 0, [5000, 5001], tokens=2, warmup=True), rec(9, 0, [], error="http_500")]
    s = summarize(records)
    assert s.requests == 6 and s.successes == 5 and s.errors == {"http_500": 1}
    assert s.success_rate == pytest.approx(5 / 6)
    assert s.latency["ttft"].p50 == pytest.approx(0.030)
    assert s.latency["ttft"].p99 == pytest.approx(np.percentile(ttfts, 99) / 1e3)
    assert s.latency["itl"].n == 5


def test_throughput_window_spans_processes_on_the_wall_clock() -> None:
    # Two processes whose perf_counter origins differ by 1 s: aligned through epoch_offset_ns.
    a = rec(0, 0, [100, 200], tokens=10)
    b = rec(1, 1000, [1100, 1500], tokens=30, offset=-1000 * MS)  # same wall-clock dispatch as a
    s = summarize([a, b])
    assert s.duration_s == pytest.approx(0.5, abs=1e-6)
    assert s.request_throughput == pytest.approx(4.0, rel=1e-4)
    assert s.output_throughput == pytest.approx(80.0, rel=1e-4)
    assert s.total_throughput == pytest.approx(120.0, rel=1e-4)


def test_goodput_counts_requests_meeting_every_per_request_slo() -> None:
    records = [rec(0, 0, [50, 60], tokens=2), rec(1, 0, [300, 310], tokens=2), rec(2, 0, [50, 450], tokens=2)]
    s = summarize(records, RequestSlo(ttft=0.1, tpot=0.1))
    assert s.goodput * s.duration_s == pytest.approx(1.0)


def test_length_mismatch_and_errors_by_cause() -> None:
    records = [rec(0, 0, [5, 6], tokens=2, expected=4), rec(1, 0, [5, 6, 7, 8], tokens=4, expected=4),
               rec(2, 0, [], error="timeout"), rec(3, 0, [], error="timeout"), rec(4, 0, [], error="connect")]
    s = summarize(records)
    assert s.length_mismatches == 1
    assert s.errors == {"connect": 1, "timeout": 2}


def test_open_loop_lateness() -> None:
    s = summarize([rec(0, 10, [20], tokens=1, scheduled_ms=0), rec(1, 100, [120], tokens=1, scheduled_ms=100)])
    assert s.lateness is not None and s.lateness.max == pytest.approx(0.010)
    assert summarize([rec(0, 0, [1], tokens=1)]).lateness is None


def test_records_round_trip_through_jsonl(tmp_path) -> None:
    records = [rec(0, 0, [1, 2], tokens=2), rec(1, 0, [], error="connect")]
    write_jsonl(tmp_path / "r.jsonl", records)
    assert list(read_jsonl(tmp_path / "r.jsonl")) == records


def test_slo_parsing_units_and_gates() -> None:
    slos = parse("ttft_p99<=500ms, tpot_p50<50ms,success_rate>=0.99,e2e_max<=2s", metric_names())
    assert [s.threshold for s in slos] == pytest.approx([0.5, 0.05, 0.99, 2.0])
    values = {"ttft_p99": 0.612, "tpot_p50": 0.01, "success_rate": 1.0, "e2e_max": 1.0}
    lines = violations(slos, values)
    assert "ttft_p99<=500ms: measured 612.00ms (VIOLATED)" in lines
    assert "success_rate>=0.99: measured 1 (ok)" in lines
    assert violations(slos, {**values, "ttft_p99": 0.4}) == []
    assert request_slo(slos) == RequestSlo(ttft=0.5, tpot=0.05, e2e=2.0)


@pytest.mark.parametrize(("text", "message"), [
    ("ttft_p99=500ms", "cannot parse"), ("ttft_p42<=1s", "unknown metric"), ("ttft_p99<=500", "time unit"),
    ("success_rate>=99%", "cannot parse"), ("success_rate>=0.9ms", "takes no unit"),
])
def test_bad_slo_terms_name_the_culprit(text: str, message: str) -> None:
    with pytest.raises(SloError, match=message):
        parse(text, metric_names())


def test_nan_measurement_violates_its_gate() -> None:
    (slo,) = parse("tpot_p50<=50ms", metric_names())
    assert violations([slo], {"tpot_p50": math.nan})


def test_knee_of_a_saturating_curve() -> None:
    assert knee([1, 2, 4, 8, 16], [100, 200, 380, 420, 430]) == 2
    assert knee([1, 2], [1, 2]) is None
    assert knee([1, 2, 3], [5, 5, 5]) is None
