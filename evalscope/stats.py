"""Error bars: a mean of per-sample scores with its standard error and 95% interval."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    """A score with its uncertainty."""

    mean: float
    n: int
    stderr: float | None
    """CLT standard error of the mean, sqrt(var / n) with the sample variance; None when n < 2."""
    ci_low: float | None
    ci_high: float | None
    ci_method: str
    """`wilson` for 0/1 scores (honest on small n), `t` otherwise."""


def estimate(values: np.ndarray | list[float], confidence: float = 0.95) -> Estimate:
    scores = np.asarray(values, dtype=float)
    n = int(scores.size)
    if n == 0:
        return Estimate(math.nan, 0, None, None, None, "none")
    mean = float(scores.mean())
    stderr = float(scores.std(ddof=1) / math.sqrt(n)) if n > 1 else None
    if np.isin(scores, (0.0, 1.0)).all():
        ci = stats.binomtest(int(scores.sum()), n).proportion_ci(confidence, method="wilson")
        return Estimate(mean, n, stderr, float(ci.low), float(ci.high), "wilson")
    if stderr is None:
        return Estimate(mean, n, None, None, None, "t")
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * stderr
    return Estimate(mean, n, stderr, mean - half, mean + half, "t")


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
