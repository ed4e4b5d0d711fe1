"""Paired comparison of two runs on the same samples: difference, interval, one-sided p-value, detectable size."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

ALPHA = 0.05
"""One-sided significance level of the regression test."""
POWER = 0.80
"""Power at which the minimum detectable difference is quoted."""
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
MIN_BOOTSTRAP_PAIRS = 10
"""Fewer pairs than this (or differences that never vary) give the resampling nothing to go on: no verdict."""


@dataclass(frozen=True)
class Paired:
    """Candidate minus baseline on the samples both runs scored. The test is one-sided: H0 "the candidate is
    not worse" (mean paired difference >= 0) against H1 "the candidate is worse"."""

    n: int
    """Samples scored in both runs (the pairs)."""
    candidate: float
    baseline: float
    diff: float
    """Mean of candidate - baseline over the pairs (negative: a drop)."""
    ci_low: float
    ci_high: float
    """Two-sided 95% interval of the mean paired difference."""
    p_value: float
    """One-sided p-value for "the candidate is worse"."""
    method: str
    """`mcnemar-exact` (0/1 scores: exact binomial test on the discordant pairs; interval: paired t) or
    `paired-bootstrap` (other scores: seeded resampling of pairs, percentile interval)."""
    mde: float | None
    """Smallest true drop this n detects with 80% power at one-sided alpha 0.05, from the spread of the paired
    differences (from the two runs' variances when every pair agrees, which is an upper bound); None when
    neither run varies at all (e.g. both score 0 everywhere) or n < 2."""
    worse: int | None = None
    """0/1 scores: pairs the baseline got right and the candidate wrong."""
    better: int | None = None
    """0/1 scores: pairs the candidate got right and the baseline wrong."""
    only_candidate: tuple[str, ...] = ()
    """Sample ids scored only in the candidate run."""
    only_baseline: tuple[str, ...] = ()
    """Sample ids scored only in the baseline run."""
    note: str | None = None
    """Why there is no verdict (`not enough pairs ...`): p is then 1, never significant."""

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["only_candidate"], data["only_baseline"] = list(self.only_candidate), list(self.only_baseline)
        return data

    def describe(self) -> str:
        """One line for the terminal or a log."""
        text = (f"diff {self.diff:+.4f} ({self.candidate:.4f} vs baseline {self.baseline:.4f}), 95% CI "
                f"[{self.ci_low:+.4f}, {self.ci_high:+.4f}], p = {self.p_value:.4g} ({self.method}, one-sided), "
                f"n = {self.n} pairs, min detectable drop {'-' if self.mde is None else f'{self.mde:.4f}'}")
        if self.worse is not None:
            text += f", discordant {self.worse} worse / {self.better} better"
        if self.note:
            text += f"; {self.note}"
        if self.only_candidate or self.only_baseline:
            text += (f"; unpaired: {len(self.only_candidate)} only in this run, "
                     f"{len(self.only_baseline)} only in baseline")
        return text


def _binary(values: np.ndarray) -> bool:
    return bool(np.isin(values, (0.0, 1.0)).all())


def _t_interval(d: np.ndarray) -> tuple[float, float]:
    mean = float(d.mean())
    if d.size < 2 or float(d.std(ddof=1)) == 0.0:
        return mean, mean
    low, high = stats.t.interval(0.95, d.size - 1, loc=mean, scale=stats.sem(d))
    return float(low), float(high)


def minimum_detectable(d: np.ndarray, a: np.ndarray, b: np.ndarray) -> float | None:
    """(z_{1-alpha} + z_power) * SD(d) / sqrt(n); SD(d) from Var(a) + Var(b) when the pairs never differ."""
    n = d.size
    if n < 2:
        return None
    sd = float(d.std(ddof=1)) if np.ptp(d) else 0.0  # ptp: identical differences have no spread, exactly
    if sd == 0.0:
        sd = math.sqrt(float(a.var(ddof=1)) + float(b.var(ddof=1))) if np.ptp(a) or np.ptp(b) else 0.0
    if sd == 0.0:
        return None
    return float((stats.norm.ppf(1 - ALPHA) + stats.norm.ppf(POWER)) * sd / math.sqrt(n))


def compare(candidate: Mapping[str, float], baseline: Mapping[str, float]) -> Paired:
    """Pair two runs' per-sample scores by sample id and test whether the candidate is worse."""
    common = sorted(set(candidate) & set(baseline))
    only_c = tuple(sorted(set(candidate) - set(baseline)))
    only_b = tuple(sorted(set(baseline) - set(candidate)))
    a = np.array([candidate[i] for i in common], dtype=float)
    b = np.array([baseline[i] for i in common], dtype=float)
    if not common:
        nan = math.nan
        return Paired(0, nan, nan, nan, nan, nan, 1.0, "none", None, None, None, only_c, only_b)
    d = a - b
    mde = minimum_detectable(d, a, b)
    if _binary(a) and _binary(b):
        worse, better = int(((b == 1) & (a == 0)).sum()), int(((a == 1) & (b == 0)).sum())
        # Under H0 a discordant pair is equally likely to go either way: worse ~ Binomial(worse + better, 1/2).
        p = 1.0 if worse + better == 0 else float(stats.binomtest(worse, worse + better, 0.5,
                                                                  alternative="greater").pvalue)
        low, high = _t_interval(d)
        return Paired(len(common), float(a.mean()), float(b.mean()), float(d.mean()), low, high, p,
                      "mcnemar-exact", mde, worse, better, only_c, only_b)
    if d.size < MIN_BOOTSTRAP_PAIRS or float(np.ptp(d)) == 0.0:
        why = (f"not enough pairs for the paired bootstrap ({d.size} < {MIN_BOOTSTRAP_PAIRS})"
               if d.size < MIN_BOOTSTRAP_PAIRS else "not enough pairs: every paired difference is the same, so "
               "resampling says nothing about its spread")
        mean = float(d.mean())
        return Paired(len(common), float(a.mean()), float(b.mean()), mean, mean, mean, 1.0, "paired-bootstrap",
                      mde, None, None, only_c, only_b, why)
    means = bootstrap_means(d)
    low, high = (float(q) for q in np.percentile(means, [2.5, 97.5]))
    return Paired(len(common), float(a.mean()), float(b.mean()), float(d.mean()), low, high,
                  bootstrap_p_worse(d, means), "paired-bootstrap", mde, None, None, only_c, only_b)


def bootstrap_means(d: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """Means of `resamples` resamples (with replacement) of the paired differences; seeded."""
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // d.size)  # bounded memory on large benchmarks
    parts = [d[rng.integers(0, d.size, size=(min(chunk, resamples - start), d.size))].mean(axis=1)
             for start in range(0, resamples, chunk)]
    return np.concatenate(parts)


def bootstrap_p_worse(d: np.ndarray, means: np.ndarray) -> float:
    """One-sided p for H1 "mean difference < 0": the bootstrap distribution shifted to mean 0 (the null) falls
    at or below the observed mean this often (add-one, so never exactly 0)."""
    observed = float(d.mean())
    null = means - observed
    return float((np.count_nonzero(null <= observed) + 1) / (means.size + 1))
