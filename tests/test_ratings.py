"""Arena statistics against direct computations: Bradley-Terry, the bootstrap, Wilson, the sign test, online Elo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evalscope.arena.ratings import Battle, bootstrap, bradley_terry, online_elo, sign_test, wilson, win_rates


def table(pair: tuple[str, str], wins: int, losses: int, ties: int, start: int = 0) -> list[Battle]:
    scores = [1.0] * wins + [0.0] * losses + [0.5] * ties
    return [Battle(f"q{start + i}", *pair, s) for i, s in enumerate(scores)]


def test_two_models_have_the_closed_form_rating() -> None:
    battles = table(("base", "tuned"), wins=3, losses=7, ties=4)
    ratings = bradley_terry(battles, anchor="base")
    # ties are half a win each: the odds of tuned over base are (7 + 2) / (3 + 2)
    assert ratings["base"] == 1000.0
    assert ratings["tuned"] == pytest.approx(1000 + 400 * math.log10(9 / 5), abs=1e-3)


def test_three_models_satisfy_the_likelihood_equations() -> None:
    battles = (table(("a", "b"), 6, 2, 2) + table(("b", "c"), 5, 4, 1, start=10) + table(("a", "c"), 7, 1, 0, start=20)
               + [Battle("q30", "c", "a", 1.0, weight=3.0)])  # a strong verdict counts three times
    ratings = bradley_terry(battles)
    assert ratings["a"] == 1000.0 and ratings["a"] > ratings["b"] > ratings["c"]
    for model in ratings:  # at the maximum each model's expected score equals its actual score
        expected = actual = 0.0
        for b in battles:
            if model in (b.model_a, b.model_b):
                me, other = (b.model_a, b.model_b) if b.model_a == model else (b.model_b, b.model_a)
                p = 1 / (1 + 10 ** ((ratings[other] - ratings[me]) / 400))
                expected += b.weight * p
                actual += b.weight * (b.score_a if me == b.model_a else 1 - b.score_a)
        assert expected == pytest.approx(actual, abs=1e-3)


def test_an_undefeated_model_stays_finite_and_on_top() -> None:
    ratings = bradley_terry(table(("a", "b"), 5, 0, 0), anchor="b")
    assert math.isfinite(ratings["a"]) and ratings["a"] > 1000 + 400 * math.log10(100)


def test_bootstrap_is_seeded_reproducible_and_brackets_the_estimate() -> None:
    battles = table(("base", "tuned"), 12, 25, 8) + table(("base", "noisy"), 30, 10, 5)
    first, again = bootstrap(battles, anchor="base", rounds=200, seed=7), bootstrap(battles, "base", 200, seed=7)
    other = bootstrap(battles, anchor="base", rounds=200, seed=8)
    assert first == again and first != other
    for rating in first.values():
        assert rating.low <= rating.rating <= rating.high
    assert first["base"].low == first["base"].high == 1000.0  # the anchor does not move
    assert first["noisy"].high < first["base"].rating < first["tuned"].low  # these separate


def test_bootstrap_draws_a_questions_battles_together() -> None:
    # Every question has one win and one loss for "a" against "b": resampling questions keeps that balance,
    # so every draw rates them equal; resampling single battles would not.
    battles = [Battle(f"q{i}", "a", "b", s) for i in range(20) for s in (1.0, 0.0)]
    result = bootstrap(battles, anchor="a", rounds=50, seed=1)
    assert result["b"].low == pytest.approx(1000.0, abs=1e-3) and result["b"].high == pytest.approx(1000.0, abs=1e-3)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (57, 120)])
def test_wilson_equals_scipy(k: int, n: int) -> None:
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert wilson(k, n) == pytest.approx((ci.low, ci.high))


def test_sign_test_ignores_ties_and_is_one_sided() -> None:
    assert sign_test(9, 1) == pytest.approx(11 / 1024)  # P(X >= 9), X ~ Binomial(10, 1/2)
    assert sign_test(1, 9) == pytest.approx(1 - 1 / 1024)
    assert sign_test(0, 0) == 1.0


def test_online_elo_is_the_k32_update_and_depends_on_order() -> None:
    assert online_elo([Battle("q", "a", "b", 1.0)]) == {"a": 1016.0, "b": 984.0}
    battles = table(("a", "b"), 3, 3, 0)
    assert online_elo(battles) != online_elo(battles[::-1])  # why it is only a compatibility column


def test_win_rates_in_both_orientations() -> None:
    rates = win_rates(table(("a", "b"), 2, 1, 1))
    assert rates[("a", "b")] == (0.5, 0.25, 0.25, 4) and rates[("b", "a")] == (0.25, 0.25, 0.5, 4)
    assert np.isclose(sum(rates[("a", "b")][:3]), 1.0)


def test_leaderboard_ranks_and_compares_with_the_baseline() -> None:
    from evalscope.arena.ratings import leaderboard

    battles = table(("greedy", "damaged"), 30, 5, 5) + table(("greedy", "sampled"), 12, 10, 8, start=100)
    board = leaderboard(battles, baseline="greedy", rounds=200, seed=3)
    assert board[0].model == "greedy" and board[-1].model == "damaged"
    damaged = next(row for row in board if row.model == "damaged")
    assert (damaged.win, damaged.tie, damaged.loss, damaged.battles) == (5 / 40, 5 / 40, 30 / 40, 40)
    assert damaged.win_interval == pytest.approx(wilson(5, 40))
    assert damaged.p_worse == pytest.approx(stats.binomtest(30, 35, 0.5, alternative="greater").pvalue)
    assert damaged.separated and damaged.p_worse < 0.001 < damaged.p_better
    sampled = next(row for row in board if row.model == "sampled")
    assert not sampled.separated  # 10 against 12: the intervals overlap


def test_rule_judge_has_no_position_bias() -> None:
    from evalscope.arena.verdicts import reconcile, rule

    assert rule(True, False).score == 1.0 and rule(False, True).score == 0.0
    assert rule(True, True).score == rule(False, False).score == 0.5
    assert reconcile(rule(True, False), rule(False, True)).score == 1.0
