"""Serving performance: one test per sweep point (`pytest benchmarks/perf -m perf --api-url URL --parallel 1,4`)."""

import pytest

pytestmark = pytest.mark.perf


def test_perf(perf_point, perf) -> None:
    result = perf.run(perf_point)  # Locust in subprocesses; raw records -> numpy metrics -> summary.json
    perf.gate(result)  # fails on a violated --slo, no success at all, or an output of the wrong length
