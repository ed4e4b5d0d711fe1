"""The image benchmarks' answer readers on made-up replies: right answers in several forms, wrong ones, MMMU's and
ChartQA's quirks (bench/fidelity_evalscope_vision.py runs the same cases through EvalScope 1.14.1's readers)."""

from __future__ import annotations

import sys

import pytest

from evalscope import registry
from evalscope.schema import Completion, Sample

MMMU = registry.get("mmmu")
CHARTQA = registry.get("chartqa")
mmmu = sys.modules[type(MMMU).__module__]
chartqa = sys.modules[type(CHARTQA).__module__]

MMMU_CHOICE = [  # (reply, options, gold, correct)
    ("The picture is red.\nANSWER: A", 2, "A", True),
    ("ANSWER: **B**", 4, "B", True),
    ("Answer: (C)", 4, "C", True),
    ("I think B", 4, "B", True),  # no marker: the last capital letter, if it is an option
    ("ANSWER: E", 4, "A", False),
    ("ANSWER: A, C", 4, "A", False),  # two letters are not one answer
    ("No idea.", 4, "A", False),
]
MMMU_OPEN = [  # (gold, reply, correct)
    ("['1', '1.0']", "There is 1 square.\nANSWER: 1", True),
    ("24", "ANSWER: 24.0", True),
    ("24", "ANSWER: 1,024", True),  # MMMU's reader also finds '024' in '1,024'
    ("Paris", "ANSWER: The capital is Paris.", True),
    ("A", "ANSWER: a", True),
    ("3.14", "so the value is 3.1416", True),  # no marker: the whole reply; numbers rounded to 2 decimals
    ("12", "ANSWER: 13", False),
    ("0.5", "ANSWER: 50%", False),  # no percentages in MMMU's rules
    ("blue", "ANSWER: red", False),
]
CHART = [  # (gold, reply, correct)
    ("10", "ANSWER: 10.4", True),
    ("10", "ANSWER: 10.6", False),
    ("45%", "ANSWER: 0.45", True),
    ("Yes", "ANSWER: yes", True),
    ("0", "ANSWER: 0", True),
    ("0", "ANSWER: 0.01", False),
    ("10", "10", False),  # no ANSWER line: no answer
    ("10", "ANSWER: **10**", True),
    ("1,000", "ANSWER: 1000", False),  # a gold number with a comma is text
]


def _score(bench, sample: Sample, reply: str) -> float:
    return bench.score(sample, Completion(reply, 0, 0, "stop", ""), bench.setups[0]).metrics[
        bench.setups[0].primary_metric]


@pytest.mark.parametrize(("reply", "n", "gold", "correct"), MMMU_CHOICE)
def test_mmmu_multiple_choice(reply: str, n: int, gold: str, correct: bool) -> None:
    sample = Sample("q", gold, tuple("wxyz"[:n]), {"question_type": "multiple-choice"})
    assert _score(MMMU, sample, reply) == float(correct)


@pytest.mark.parametrize(("gold", "reply", "correct"), MMMU_OPEN)
def test_mmmu_open(gold: str, reply: str, correct: bool) -> None:
    assert _score(MMMU, Sample("q", gold, metadata={"question_type": "open"}), reply) == float(correct)


@pytest.mark.parametrize(("gold", "reply", "correct"), CHART)
def test_chartqa_relaxed_accuracy(gold: str, reply: str, correct: bool) -> None:
    assert _score(CHARTQA, Sample("q", gold), reply) == float(correct)


def test_mmmu_open_reader_takes_the_shortest_tail_per_line() -> None:
    assert mmmu.open_candidates("The answer is 42 so it is 42") == [42.0]
    assert mmmu.open_candidates("thus x is") == ["x is"]  # the empty tail after 'is' gives way to the next cue's
    assert mmmu.normalized("1,234.567") == [1234.57]
