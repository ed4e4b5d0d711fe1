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


def test_clustered_standard_error_matches_a_direct_computation() -> None:
    values = np.array([1, 1, 0, 0, 0, 1, 1, 1, 0, 1], dtype=float)
    clusters = ["a", "a", "b", "b", "b", "c", "c", "d", "d", "e"]
    est = estimate(values, clusters=clusters)
    mean, n = values.mean(), len(values)
    sums = {c: 0.0 for c in clusters}
    for v, c in zip(values, clusters, strict=True):
        sums[c] += v - mean
    g = len(sums)
    expected = math.sqrt(g / (g - 1) * sum(s * s for s in sums.values())) / n
    assert est.ci_method == "cluster-t" and est.clusters == g == 5
    assert est.stderr == pytest.approx(expected)
    half = sst.t.ppf(0.975, g - 1) * expected
    assert mean - half < 0 and mean + half > 1  # five clusters: the t band is wider than [0, 1] ...
    assert (est.ci_low, est.ci_high) == (0.0, 1.0)  # ... and a share's interval stays in [0, 1]
    shifted = estimate(values + 5, clusters=clusters)  # not shares: the t band as it is
    assert (shifted.ci_low, shifted.ci_high) == pytest.approx((mean + 5 - half, mean + 5 + half))


def test_one_sample_per_cluster_is_the_plain_estimate() -> None:
    values = np.array([0.2, 0.5, 0.9, 0.4, 0.7])
    assert estimate(values, clusters=["a", "b", "c", "d", "e"]) == estimate(values)
    assert estimate(values, clusters=[None] * 5) == estimate(values)
    # and the clustered formula itself reduces to scipy's standard error
    from evalscope.stats import clustered_stderr

    assert clustered_stderr(values, ["a", "b", "c", "d", "e"]) == pytest.approx(sst.sem(values))


def test_shared_contexts_widen_the_interval() -> None:
    # Questions on the same passage succeed or fail together: 10 passages of 5 questions each.
    values = np.repeat([1, 0, 1, 1, 0, 0, 1, 0, 1, 0], 5).astype(float)
    clusters = np.repeat(np.arange(10), 5).tolist()
    naive, clustered = estimate(values), estimate(values, clusters=clusters)
    assert clustered.stderr is not None and naive.stderr is not None
    assert clustered.stderr > 2 * naive.stderr
    assert clustered.ci_high - clustered.ci_low > naive.ci_high - naive.ci_low  # type: ignore[operator]


def test_score_table_uses_clusters_from_the_results() -> None:
    from evalscope.report.tables import sample_frame, score_table
    from evalscope.schema import SampleResult

    def result(i: int, correct: bool, cluster: str | None) -> SampleResult:
        return SampleResult("race", "high", f"high-{i:04d}", i, {"acc": float(correct)}, "acc", {"acc": None},
                            "A", "p", "o", 1, 1, "stop", cluster=cluster)

    results = [result(i, i % 4 < 2, f"passage-{i // 4}") for i in range(12)]
    row = score_table(sample_frame(results)).iloc[0]
    assert row["ci_method"] == "cluster-t" and row["n"] == 12
    values = np.array([float(i % 4 < 2) for i in range(12)])
    assert row["stderr"] == pytest.approx(estimate(values, clusters=[i // 4 for i in range(12)]).stderr)
    plain = score_table(sample_frame([result(i, i % 4 < 2, None) for i in range(12)])).iloc[0]
    assert plain["ci_method"] == "wilson"
