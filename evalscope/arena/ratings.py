"""Ratings from pairwise battles: Bradley-Terry by maximum likelihood with question-level bootstrap intervals,
Wilson intervals on win rates, the one-sided sign test, and online Elo (a compatibility column only)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

SCALE = 400.0
"""Elo points per factor of 10 in the odds, as arena-hard and FastChat report."""
ANCHOR_RATING = 1000.0


@dataclass(frozen=True)
class Battle:
    """One reconciled verdict between two models on one question."""

    question: str
    model_a: str
    model_b: str
    score_a: float
    """1 for a win of `model_a`, 0 for a loss, 0.5 for a tie (half a win each, arena-hard's convention)."""
    weight: float = 1.0
    """How many battles this verdict counts as (arena-hard counts a strong verdict, A>>B, as 3)."""


@dataclass(frozen=True)
class Rating:
    rating: float
    low: float
    high: float
    """The 95% bootstrap interval."""


def _models(battles: Sequence[Battle]) -> list[str]:
    return sorted({b.model_a for b in battles} | {b.model_b for b in battles})


def bradley_terry(battles: Sequence[Battle], anchor: str | None = None) -> dict[str, float]:
    """Maximum-likelihood Bradley-Terry ratings on the Elo scale, `anchor` (default: the first model by name) at
    1000. A model that never loses has no finite maximum; a vanishing ridge (1e-8 per rating) keeps it finite and
    far above the rest."""
    models = _models(battles)
    if not models:
        return {}
    anchor = anchor if anchor is not None else models[0]
    if anchor not in models:
        raise ValueError(f"anchor {anchor!r} fought no battle")
    free = [m for m in models if m != anchor]
    index = {m: i for i, m in enumerate(free)}
    a = np.array([index.get(b.model_a, -1) for b in battles])
    b = np.array([index.get(b.model_b, -1) for b in battles])
    score = np.array([x.score_a for x in battles], dtype=float)
    weight = np.array([x.weight for x in battles], dtype=float)

    def negative_log_likelihood(theta: np.ndarray) -> tuple[float, np.ndarray]:
        strength = np.append(theta, 0.0)  # index -1: the anchor, fixed at 0
        diff = strength[a] - strength[b]
        p = 1.0 / (1.0 + np.exp(-diff))
        nll = -np.sum(weight * (score * np.log(p + 1e-300) + (1 - score) * np.log(1 - p + 1e-300)))
        residual = weight * (p - score)  # d nll / d diff
        grad = np.zeros(len(free) + 1)
        np.add.at(grad, a, residual)
        np.add.at(grad, b, -residual)
        return float(nll + 1e-8 * theta @ theta), grad[:-1] + 2e-8 * theta

    fit = optimize.minimize(negative_log_likelihood, np.zeros(len(free)), jac=True, method="L-BFGS-B")
    points = SCALE / math.log(10)
    ratings = {m: ANCHOR_RATING + points * float(fit.x[index[m]]) for m in free}
    return {anchor: ANCHOR_RATING, **ratings}


def bootstrap(battles: Sequence[Battle], anchor: str | None = None, rounds: int = 500, seed: int = 0,
              confidence: float = 0.95) -> dict[str, Rating]:
    """Bradley-Terry ratings with percentile intervals from a seeded bootstrap over questions: a question's
    battles (every pair, both orders) are drawn together, as they share the question's difficulty."""
    by_question: dict[str, list[Battle]] = {}
    for battle in battles:
        by_question.setdefault(battle.question, []).append(battle)
    questions = sorted(by_question)
    point = bradley_terry(battles, anchor)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {m: [] for m in point}
    for _ in range(rounds):
        picked = rng.integers(0, len(questions), len(questions))
        sample = [b for i in picked for b in by_question[questions[i]]]
        fitted = bradley_terry(sample, anchor)
        for model in point:  # a model absent from a resample keeps no draw from it
            if model in fitted:
                draws[model].append(fitted[model])
    tail = (1 - confidence) / 2 * 100
    return {m: Rating(r, float(np.percentile(draws[m], tail)), float(np.percentile(draws[m], 100 - tail)))
            for m, r in point.items()}


def wilson(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (a tie counted as half a success is allowed)."""
    if n == 0:
        return 0.0, 1.0
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def sign_test(wins: int, losses: int) -> float:
    """One-sided p-value that the first model is no better than the second: the binomial test on the battles
    that were not ties (a tie says nothing about which is better)."""
    if wins + losses == 0:
        return 1.0
    return float(stats.binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue)


def online_elo(battles: Sequence[Battle], k: float = 32.0) -> dict[str, float]:
    """EvalScope 0.5's rating: Elo updated battle by battle in the given order (so it depends on the order,
    and has no interval). Reported beside Bradley-Terry for comparison only."""
    ratings: dict[str, float] = {m: ANCHOR_RATING for m in _models(battles)}
    for battle in battles:
        ra, rb = ratings[battle.model_a], ratings[battle.model_b]
        expected = 1.0 / (1.0 + 10 ** ((rb - ra) / SCALE))
        delta = k * battle.weight * (battle.score_a - expected)
        ratings[battle.model_a], ratings[battle.model_b] = ra + delta, rb - delta
    return ratings


def win_rates(battles: Sequence[Battle]) -> Mapping[tuple[str, str], tuple[float, float, float, int]]:
    """(model, opponent) -> (win, tie, loss share, battles) of `model` against `opponent`, both orientations."""
    tally: dict[tuple[str, str], list[float]] = {}
    for battle in battles:
        for me, other, score in ((battle.model_a, battle.model_b, battle.score_a),
                                 (battle.model_b, battle.model_a, 1 - battle.score_a)):
            row = tally.setdefault((me, other), [0.0, 0.0, 0.0, 0])
            row[0 if score == 1 else 2 if score == 0 else 1] += battle.weight
            row[3] += battle.weight
    return {key: (w / n, t / n, lo / n, int(n)) for key, (w, t, lo, n) in tally.items()}


@dataclass(frozen=True)
class Standing:
    """A model's row of the leaderboard: its rating, and how it fared against the baseline."""

    model: str
    rating: Rating
    win: float
    tie: float
    loss: float
    battles: int
    """Battles against the baseline (weighted), 0 for the baseline itself."""
    win_interval: tuple[float, float]
    """Wilson 95% interval of the win share against the baseline."""
    p_better: float
    """One-sided sign test that the model is no better than the baseline (small: it is better)."""
    p_worse: float
    """One-sided sign test that the model is no worse than the baseline (small: it is worse)."""
    separated: bool
    """Whether its rating interval and the baseline's do not overlap."""


def leaderboard(battles: Sequence[Battle], baseline: str, rounds: int = 500, seed: int = 0) -> list[Standing]:
    """Every model, best rated first, with its record against `baseline` (the anchor, 1000)."""
    ratings = bootstrap(battles, anchor=baseline, rounds=rounds, seed=seed)
    rates = win_rates(battles)
    base = ratings[baseline]
    rows = []
    for model, rating in ratings.items():
        win, tie, loss, n = rates.get((model, baseline), (0.0, 0.0, 0.0, 0))
        wins, losses = round(win * n), round(loss * n)
        apart = rating.high < base.low or rating.low > base.high
        rows.append(Standing(model, rating, win, tie, loss, n, wilson(wins, n), sign_test(wins, losses),
                             sign_test(losses, wins), model != baseline and apart))
    return sorted(rows, key=lambda row: -row.rating.rating)
