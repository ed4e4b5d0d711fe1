"""The arena as a pytest suite: one item per (question, pair) from a fixture per side, or per (question, model) in
single mode; answers and verdicts are computed in batches by the evalscope arena plugin."""

import pytest

pytestmark = pytest.mark.arena


def test_pair(question, model_a, model_b, battle):
    """WIN / LOSS / TIE from model_a's side (a loss is not a failure); ERROR when a verdict was unreadable.
    Both orders were judged on every turn; add your own checks on `battle` here."""
    assert set(battle.answers) == {model_a.name, model_b.name}
    assert len(battle.turns) == len(question.turns), "a turn was not judged"


def test_single(question, model, grade):
    """Single mode: the model's answer graded per turn (RATED), ERROR when a grade was unreadable."""
    assert len(grade.scores) == len(question.turns), "a turn was not graded"
