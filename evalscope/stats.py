"""Error bars: a mean of per-sample scores with its standard error and 95% interval (clustered when asked)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

CLUSTER_KEY = "cluster"
"""A sample's `metadata[CLUSTER_KEY]` names the passage or context it shares with other samples."""


@dataclass(frozen=True)
class Estimate:
    """A score with its uncertainty."""

    mean: float
    n: int
    stderr: float | None
    """CLT standard error of the mean, sqrt(var / n) with the sample variance (clustered: see `clustered_stderr`);
    None when n < 2."""
    ci_low: float | None
    ci_high: float | None
    ci_method: str
    """`wilson` for 0/1 scores (honest on small n), `t` otherwise, `cluster-t` when samples share contexts."""
    clusters: int | None = None
    """Number of clusters when the clustered standard error was used."""


def clustered_stderr(values: np.ndarray, clusters: Sequence[object]) -> float:
    """Cluster-robust standard error of the mean (the sandwich estimator with the G/(G-1) correction):
    sqrt(G/(G-1) * sum_g (sum_{i in g} (s_i - mean))^2) / n. With one sample per cluster this is the CLT one."""
    residuals = pd.Series(values - values.mean())
    sums = residuals.groupby(np.asarray(clusters, dtype=object), sort=False).sum().to_numpy()
    g = sums.size
    return float(math.sqrt(g / (g - 1) * float(np.square(sums).sum())) / values.size)


def _within_shares(scores: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """A t interval of scores that are shares (all in [0, 1]) kept within [0, 1]: small n gives wide bands."""
    if ((scores >= 0.0) & (scores <= 1.0)).all():
        return max(low, 0.0), min(high, 1.0)
    return low, high


def estimate(values: np.ndarray | list[float], confidence: float = 0.95,
             clusters: Sequence[object] | None = None) -> Estimate:
    """Mean, standard error and interval. `clusters` (one key per value, None = its own cluster) switches to the
    clustered standard error and a t interval on G-1 degrees of freedom when some cluster holds several samples."""
    scores = np.asarray(values, dtype=float)
    n = int(scores.size)
    if n == 0:
        return Estimate(math.nan, 0, None, None, None, "none")
    mean = float(scores.mean())
    if clusters is not None:
        keys = [f"sample:{i}" if c is None else f"cluster:{c}" for i, c in enumerate(clusters)]
        groups = len(set(keys))
        if groups < n:
            if groups < 2:
                return Estimate(mean, n, None, None, None, "cluster-t", groups)
            se = clustered_stderr(scores, keys)
            half = float(stats.t.ppf(0.5 + confidence / 2, groups - 1)) * se
            low, high = _within_shares(scores, mean - half, mean + half)
            return Estimate(mean, n, se, low, high, "cluster-t", groups)
    stderr = float(scores.std(ddof=1) / math.sqrt(n)) if n > 1 else None
    if np.isin(scores, (0.0, 1.0)).all():
        ci = stats.binomtest(int(scores.sum()), n).proportion_ci(confidence, method="wilson")
        return Estimate(mean, n, stderr, float(ci.low), float(ci.high), "wilson")
    if stderr is None:
        return Estimate(mean, n, None, None, None, "t")
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * stderr
    low, high = _within_shares(scores, mean - half, mean + half)
    return Estimate(mean, n, stderr, low, high, "t")


def macro(parts: list[Estimate], confidence: float = 0.95) -> Estimate:
    """Unweighted mean of subset scores; its standard error treats the subsets as independent samples
    (sqrt(sum se_i^2) / k) and the interval is normal. Undefined stderr when a subset has n < 2."""
    k = len(parts)
    mean = float(np.mean([p.mean for p in parts]))
    n = sum(p.n for p in parts)
    if any(p.stderr is None for p in parts):
        return Estimate(mean, n, None, None, None, "normal")
    stderr = math.sqrt(sum(float(p.stderr) ** 2 for p in parts if p.stderr is not None)) / k
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * stderr
    low, high = mean - half, mean + half
    if all(p.ci_method == "wilson" for p in parts):  # a mean of proportions stays in [0, 1]
        low, high = max(low, 0.0), min(high, 1.0)
    return Estimate(mean, n, stderr, low, high, "normal")
