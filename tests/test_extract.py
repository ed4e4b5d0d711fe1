"""Answer extraction: the nasty cases."""

from __future__ import annotations

import pytest

from evalscope.scoring.extract import (
    evalscope_letter,
    last_boxed,
    last_number,
    normalize_number,
    numbers_equal,
    numeric_answer,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("So she makes 9 * 2 = $18 every day.", "18"),
        ("The answer is 1,000.", "1000"),
        ("It costs $1,234.50 in total", "1234.5"),
        ("temperature drops to -5 degrees", "-5"),
        ("3.0 apples", "3"),
        ("no digits here", None),
        ("between 10 and 20.\n\n", "20"),
    ],
)
def test_last_number(text: str, expected: str | None) -> None:
    assert last_number(text) == expected


def test_boxed_handles_nested_braces_and_takes_the_last() -> None:
    assert last_boxed(r"first \boxed{1} then \boxed{\frac{1}{2}}") == r"\frac{1}{2}"
    assert last_boxed(r"\boxed{12") is None
    assert last_boxed("plain") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"Work: 3 + 4 = 7. So \boxed{7}. Check: 8", "7"),
        ("so the answer is 42 apples, not 43", "42"),
        ("Steps... 5 then 6\nANSWER: 11", "11"),
        ("The answer is (B) 30 and later 40", "30"),
        ("only numbers 1 2 3", "3"),
        ("nothing", None),
    ],
)
def test_numeric_answer_order(text: str, expected: str | None) -> None:
    assert numeric_answer(text) == expected


def test_numbers_equal() -> None:
    assert numbers_equal("1000", "1,000")
    assert numbers_equal("18.00", "18")
    assert not numbers_equal("18.5", "18")
    assert not numbers_equal(None, "3")
    assert normalize_number(" $2,500. ") == "2500"


def test_a_spaced_hyphen_is_not_a_minus_sign() -> None:
    assert last_number("pages 10 - 20") == "20"
    assert last_number("it fell to -5") == "-5"
    assert last_number("costs $ 1,200.50") == "1200.5"


def test_large_integers_compare_exactly() -> None:
    assert not numbers_equal("2880001", "2,880,000")
    assert numbers_equal("2880000.0", "2,880,000")


# The expected letters are what EvalScope 1.14.1's own parser returned for these replies.
@pytest.mark.parametrize(
    ("text", "marker", "expected"),
    [
        ("Let me think. A is wrong.\nANSWER: C", "ANSWER", "C"),
        ("answer: **B**.", "ANSWER", "B"),
        ("ANSWER: $\\boxed{D}$", "ANSWER", "D"),
        ("ANSWER: (B)", "ANSWER", "B"),
        ("ANSWER: B, not C", "ANSWER", "B"),  # the justification does not swallow the label
        ("ANSWER: A and C", "ANSWER", None),  # two labels: not a single answer
        ("ANSWER: [LETTER] ... so ANSWER: b", "ANSWER", None),  # no marker with a label; the last capital is R
        ("The options are\nA) one\nB) two", "ANSWER", "B"),  # echoed options: the last capital, as EvalScope
        ("I pick B", "ANSWER", "B"),  # no marker: the last capital letter
        ("ANSWER: E", "ANSWER", None),  # not one of four options
        ("答案：C。", "答案", "C"),
        ("ANSWER: C", "答案", "C"),  # the Chinese parser ignores ANSWER:, the last capital is still C
        ("答案: （A）", "答案", "A"),
    ],
)
def test_evalscope_letter_reads_replies_as_evalscope_does(text: str, marker: str, expected: str | None) -> None:
    assert evalscope_letter(text, 4, marker) == expected
