"""Paired comparison statistics against scipy and direct computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sst

from evalscope.paired import ALPHA, POWER, compare


def _runs(candidate: list[float], baseline: list[float]) -> tuple[dict[str, float], dict[str, float]]:
    ids = [f"main-{i:04d}" for i in range(len(candidate))]
    return dict(zip(ids, candidate, strict=True)), dict(zip(ids, baseline, strict=True))


def test_mcnemar_exact_p_value_matches_scipy_and_the_binomial_sum() -> None:
    # 7 samples the baseline got right and the candidate wrong, 2 the other way, 41 agreeing.
    baseline = [1.0] * 7 + [0.0] * 2 + [1.0] * 20 + [0.0] * 21
    candidate = [0.0] * 7 + [1.0] * 2 + [1.0] * 20 + [0.0] * 21
    result = compare(*_runs(candidate, baseline))
    assert result.method == "mcnemar-exact" and (result.worse, result.better, result.n) == (7, 2, 50)
    assert result.p_value == pytest.approx(sst.binomtest(7, 9, 0.5, alternative="greater").pvalue)
    assert result.p_value == pytest.approx(sum(math.comb(9, k) for k in range(7, 10)) / 2**9)
    assert result.diff == pytest.approx(-5 / 50)
    assert result.significant is False  # p = 0.0898: a 10-point drop on 9 discordant pairs is not evidence


def test_paired_interval_of_binary_scores_is_scipys_paired_t_interval() -> None:
    rng = np.random.default_rng(3)
    baseline = (rng.random(300) < 0.6).astype(float)
    candidate = np.where(rng.random(300) < 0.2, 1 - baseline, baseline)
    result = compare(*_runs(candidate.tolist(), baseline.tolist()))
    ci = sst.ttest_rel(candidate, baseline).confidence_interval(0.95)
    assert (result.ci_low, result.ci_high) == pytest.approx((ci.low, ci.high))
    assert result.ci_low <= result.diff <= result.ci_high


def test_identical_runs_pass_with_p_one_and_a_finite_detectable_difference() -> None:
    scores = [1.0, 0.0] * 50
    result = compare(*_runs(scores, scores))
    assert result.p_value == 1.0 and result.diff == 0.0 and (result.ci_low, result.ci_high) == (0.0, 0.0)
    # no pair differs: the detectable difference falls back to the runs' own variances (an upper bound)
    sd = math.sqrt(2 * np.var(scores, ddof=1))
    assert result.mde == pytest.approx((sst.norm.ppf(1 - ALPHA) + sst.norm.ppf(POWER)) * sd / 10)


def test_minimum_detectable_difference_is_the_power_formula_on_paired_differences() -> None:
    rng = np.random.default_rng(1)
    baseline = (rng.random(1000) < 0.5).astype(float)
    candidate = np.where(rng.random(1000) < 0.3, 1 - baseline, baseline)
    result = compare(*_runs(candidate.tolist(), baseline.tolist()))
    d = candidate - baseline
    assert result.mde == pytest.approx((sst.norm.ppf(0.95) + sst.norm.ppf(0.8)) * d.std(ddof=1) / math.sqrt(1000))
    # 30% of answers flipping: ~0.04 detectable on 1000 questions, the order the literature quotes
    assert 0.02 < result.mde < 0.06


def test_paired_bootstrap_for_continuous_scores_agrees_with_scipy() -> None:
    rng = np.random.default_rng(7)
    baseline = rng.random(200)
    candidate = np.clip(baseline - 0.05 + rng.normal(0, 0.1, 200), 0, 1)
    result = compare(*_runs(candidate.tolist(), baseline.tolist()))
    assert result.method == "paired-bootstrap" and result.worse is None
    ref = sst.bootstrap((candidate, baseline), lambda a, b, axis: np.mean(a - b, axis=axis), paired=True,
                        method="percentile", n_resamples=10_000, rng=np.random.default_rng(0))
    assert result.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.003)
    assert result.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.003)
    assert result.p_value < 0.001  # a clear drop
    improved = compare(*_runs(baseline.tolist(), candidate.tolist()))
    assert improved.p_value > 0.99  # the same data read the other way is no drop at all
    assert compare(*_runs(candidate.tolist(), baseline.tolist())) == result  # seeded: reproducible


def test_samples_in_only_one_run_are_reported() -> None:
    candidate = {"a": 1.0, "b": 0.0, "c": 1.0}
    baseline = {"b": 1.0, "c": 1.0, "d": 0.0}
    result = compare(candidate, baseline)
    assert result.n == 2 and result.only_candidate == ("a",) and result.only_baseline == ("d",)
    assert "1 only in this run, 1 only in baseline" in result.describe()
