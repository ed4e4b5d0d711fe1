"""Error bars agree with scipy's own interval functions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sst

from evalscope.stats import estimate


@pytest.mark.parametrize(("k", "n"), [(0, 4), (3, 20), (250, 500), (20, 20)])
def test_binary_scores_get_wilson_intervals(k: int, n: int) -> None:
    est = estimate([1.0] * k + [0.0] * (n - k))
    ci = sst.binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert est.ci_method == "wilson" and est.n == n and est.mean == pytest.approx(k / n)
    assert (est.ci_low, est.ci_high) == pytest.approx((ci.low, ci.high))
    # Wilson's closed form, as a second witness
    p, z = k / n, sst.norm.ppf(0.975)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert (est.ci_low, est.ci_high) == pytest.approx((centre - half, centre + half))


def test_standard_error_is_the_clt_one() -> None:
    values = np.array([1, 0, 1, 1, 0, 1, 0, 1], dtype=float)
    assert estimate(values).stderr == pytest.approx(sst.sem(values))


def test_continuous_scores_get_t_intervals() -> None:
    values = np.array([0.2, 0.5, 0.9, 0.4, 0.7])
    est = estimate(values)
    low, high = sst.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=sst.sem(values))
    assert est.ci_method == "t" and (est.ci_low, est.ci_high) == pytest.approx((low, high))


def test_degenerate_sizes() -> None:
    assert estimate([]).n == 0
    single = estimate([0.5])
    assert single.stderr is None and single.ci_low is None
