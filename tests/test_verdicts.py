"""Judge replies read as verdicts, and both orders of a pair reconciled (consistent: kept; inconsistent: a tie)."""

from __future__ import annotations

import pytest

from evalscope.arena.verdicts import Verdict, disagree, five_level, pairwise, rating, reconcile


@pytest.mark.parametrize(("reply", "score"), [
    ("Assistant A explains better. [[A]]", 1.0),
    ("[[B]]", 0.0),
    ("Both are fine. [[C]]", 0.5),
    ("I prefer A.", None),  # no verdict: an error, not a tie
    ("[A]", None),
])
def test_pairwise_reads_as_fastchat(reply: str, score: float | None) -> None:
    assert pairwise(reply).score == score


@pytest.mark.parametrize(("reply", "score", "weight"), [
    ("My final verdict is: [[A>>B]]", 1.0, 3.0),
    ("[[B>A]]", 0.0, 1.0),
    ("[[A=B]] ... again [[A=B]]", 0.5, 1.0),  # the same label twice is one label
    ("[[A>B]] or maybe [[B>A]]", None, 1.0),  # two different labels: unreadable
    ("[[A>>>B]]", None, 1.0),
])
def test_five_levels_read_as_arena_hard(reply: str, score: float | None, weight: float) -> None:
    verdict = five_level(reply)
    assert (verdict.score, verdict.weight) == (score, weight)


@pytest.mark.parametrize(("reply", "value"), [("Rating: [[7]]", 7.0), ("[[8.5]]", 8.5), ("[6]", 6.0),
                                              ("[[11]]", None), ("no grade", None)])
def test_single_answer_rating(reply: str, value: float | None) -> None:
    assert rating(reply) == value


def test_orders_reconciled_and_position_bias_seen() -> None:
    x_wins, y_wins, tie = Verdict(1.0), Verdict(0.0), Verdict(0.5)
    assert reconcile(x_wins, y_wins).score == 1.0  # x first: x wins; y first: the second (x) wins
    assert reconcile(y_wins, x_wins).score == 0.0
    assert reconcile(x_wins, x_wins).score == 0.5 and disagree(x_wins, x_wins)  # "the first wins" both times
    assert reconcile(x_wins, tie).score == 0.5 and reconcile(tie, tie).score == 0.5
    assert not disagree(x_wins, y_wins)
    strong, weak = Verdict(1.0, 3.0), Verdict(0.0, 3.0)
    assert (reconcile(strong, weak).score, reconcile(strong, weak).weight) == (1.0, 3.0)
    assert reconcile(strong, Verdict(0.0, 1.0)).weight == 1.0  # strong only when both orders say so
    broken = reconcile(x_wins, Verdict(None, text="I cannot decide"))
    assert broken.score is None and "I cannot decide" in broken.text
