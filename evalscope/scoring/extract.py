"""Answer extraction from free-form model output: numbers, \\boxed{}, 'the answer is', 'ANSWER:'."""

from __future__ import annotations

import math
import re
from typing import Any

from evalscope.deadline import bounded

# A minus sign only when it touches the number: "pages 10 - 20" ends in 20, not -20.
_NUMBER = re.compile(r"-?(?:\$\s?)?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def normalize_number(text: str) -> str:
    """'$1,234.50' -> '1234.5'; '3.0' -> '3'; leaves non-numbers stripped of spaces and a final period."""
    cleaned = text.strip().replace(",", "").replace("$", "").replace(" ", "").rstrip(".")
    try:
        value = float(cleaned)
    except ValueError:
        return cleaned
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return repr(value)


def _no_answer(*args: Any, **kwargs: Any) -> str | None:
    """What a reader found when it ran out of time: nothing."""
    return None


# The readers a scorer calls on a whole reply run under the checker deadline: some of these patterns backtrack
# for minutes on a reply of a few thousand spaces (`ANSWER:` then 2000 blanks), every one is slow on megabytes.
@bounded(_no_answer)
def first_number(text: str) -> str | None:
    found = _NUMBER.search(text)
    return normalize_number(found.group(0)) if found else None


@bounded(_no_answer)
def last_number(text: str) -> str | None:
    """The last number in the text (commas, dollar signs and a trailing period allowed), normalised."""
    found = _NUMBER.findall(text)
    return normalize_number(found[-1]) if found else None


_BOX = re.compile(r"\\(?:boxed|fbox)")


def last_boxed(text: str) -> str | None:
    """The one reader of boxed answers: the content of the last `\\boxed{...}` (or `\\fbox{...}`, or `\\boxed 5`)
    in the text; None without one or when its braces never close (a reply cut off inside its answer)."""
    starts = list(_BOX.finditer(text))
    if not starts:
        return None
    rest = text[starts[-1].end():]
    if rest.startswith(" "):  # `\boxed 5`: up to the next `$` or space
        return rest[1:].split("$")[0].split()[0] if rest[1:].strip() else None
    if not rest.startswith("{"):
        return None
    depth = 0
    for i, char in enumerate(rest):
        depth += (char == "{") - (char == "}")
        if depth == 0:
            return rest[1:i]
    return None  # unbalanced: the reply was cut off inside its answer


_ANSWER_IS = re.compile(r"answer is[:\s]*\(?\s*([^\n]*)", re.IGNORECASE)
_ANSWER_TAG = re.compile(r"ANSWER\s*[:：]\s*([^\n]*)")


def after_phrase(text: str, pattern: re.Pattern[str]) -> str | None:
    found = pattern.findall(text)
    return found[-1].strip() if found else None


@bounded(_no_answer)
def numeric_answer(text: str) -> str | None:
    """EvalScope 1.x order: \\boxed{} -> 'the answer is' -> 'ANSWER:' -> last number; always normalised.
    Within a box or after a phrase the first number counts ('the answer is 42 apples, not 43')."""
    for candidate in (last_boxed(text), after_phrase(text, _ANSWER_IS), after_phrase(text, _ANSWER_TAG)):
        if candidate:
            number = first_number(candidate)
            if number is not None:
                return number
    return last_number(text)


def numbers_equal(predicted: str | None, target: str) -> bool:
    """Integers compare exactly (1000001 is not 1000000); decimals up to float rounding."""
    if predicted is None:
        return False
    a, b = normalize_number(predicted), normalize_number(target)
    try:
        return a == b or math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-9)
    except ValueError:
        return False


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _letter_patterns(valid: str) -> list[re.Pattern[str]]:
    v = f"[{valid}]"
    wrapped = rf"[\(\[\*\s]*({v})(?![A-Za-z0-9])"
    return [
        re.compile(rf"(?i:ANSWER)\s*[:：]\s*{wrapped}"),  # EvalScope 1.x's requested last line
        re.compile(rf"答案\s*(?:是|为|應為|应为)?\s*[:：]?\s*(?:选项)?\s*{wrapped}"),
        re.compile(rf"(?i:(?:answer|option|choice)\s+is|answer\s*[:：])\s*[:：]?\s*(?i:option\s+)?{wrapped}"),
        re.compile(rf"\*\*\s*\(?({v})\)?[.:]?\s*\*\*"),  # **B** or **(B)**
        re.compile(rf"^\s*\(?({v})\s*(?:[.)、:：]|$)"),  # the output starts with "B." / "(B)" / "B"
        re.compile(rf"(?:^|\s)\(({v})\)(?:\s|[.,]|$)"),  # a lone "(B)" anywhere
        re.compile(rf"(?:选|選)\s*({v})"),
    ]


@bounded(_no_answer)
def choice_letter(text: str, n_choices: int) -> str | None:
    """The option letter a free-form answer picks, or None.

    Explicit statements win over loose ones ("ANSWER: C" beats a "**B**" earlier in the reasoning);
    within a pattern the last occurrence counts, since models restate their final choice at the end.
    A bare capital letter in running text ("A cell divides") is never taken as an answer.
    """
    valid = LETTERS[:n_choices]
    for pattern in _letter_patterns(valid):
        found = pattern.findall(text)
        if found:
            return str(found[-1]).upper()
    return None


# EvalScope 1.14.1's single-answer parser (its evalscope/utils/multi_choices.py), for the setups named after it:
# the label right after the last answer marker that is followed by one, else the reply's last capital letter.
_MARKER = {"ANSWER": re.compile(r"(?i)ANSWER\s*:\s*\**\s*"), "答案": re.compile(r"答案\s*[:：]\s*\**\s*")}
_LATEX_WRAP = re.compile(r"(?:(?:\$+|\\\(|\\(?:boxed|fbox|text|textbf|mathbf|mathrm)\s*\{)\s*)*")
_LABEL_AT = (re.compile(r"[\(\[（【]\s*([A-Za-z\d](?:\s*[,，/、]\s*[A-Za-z\d])*)\s*[\)\]）】]"),  # (B), [A, C]
             re.compile(r"([A-Za-z\d][A-Za-z\d ,，/、]*)"))
_WORD = re.compile(r"[A-Za-z\d]+")


def _leading_labels(capture: str, allowed: set[str]) -> str:
    """The start of `capture` that holds only option labels ('B, not C' -> 'B'; 'A and B' stays whole)."""
    words = list(_WORD.finditer(capture))
    end = 0
    for i, word in enumerate(words):
        if set(word.group()) <= allowed:
            end = word.end()
        elif not (end and word.group().lower() in ("and", "or") and i + 1 < len(words)
                  and set(words[i + 1].group()) <= allowed):
            break
    return capture[:end]


@bounded(_no_answer)
def answer_line(text: str) -> str | None:
    """What follows the last `ANSWER:` (any case, bold allowed) to the end of its line, without bold stars; None
    without a marker (EvalScope 1.x's reading of open answers)."""
    found = list(_MARKER["ANSWER"].finditer(text))
    return text[found[-1].end():].split("\n", 1)[0].strip().strip("*").strip() if found else None


def evalscope_letter(text: str, n_choices: int, marker: str = "ANSWER") -> str | None:
    """The option letter EvalScope 1.14.1 reads from a reply: after the last `ANSWER:` (or `答案：`) that a label
    follows, which must then be one option; without any, the reply's last capital letter if it is an option."""
    allowed = set(LETTERS[:n_choices])
    for found in reversed(list(_MARKER[marker].finditer(text))):
        tail = text[found.end():]
        tail = tail[_LATEX_WRAP.match(tail).end():]  # type: ignore[union-attr]  # it matches the empty string
        for label in _LABEL_AT:
            at = label.match(tail)
            labels = _leading_labels(at.group(1), allowed) if at else ""
            if labels:
                answer = labels.strip().rstrip("。." if marker == "答案" else ".")
                return answer if answer in allowed else None
    capitals = [c for c in text if c.isupper()]
    return capitals[-1] if capitals and capitals[-1] in allowed else None
