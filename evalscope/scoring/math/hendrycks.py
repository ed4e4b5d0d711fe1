"""MATH's own answer check (Hendrycks et al. 2021): the last \\boxed{} of a text, and string equality after the
paper's normalisation (fractions, roots, units, spacing). Stricter than Math-Verify; reported beside it."""

from __future__ import annotations

import re


def _fix_fracs(text: str) -> str:
    """`\\frac12` -> `\\frac{1}{2}`, `\\frac1{72}` -> `\\frac{1}{72}`; `\\frac{1}2` stays (as in the paper's code).
    ValueError when a `\\frac` has fewer than two characters after it."""
    head, *parts = text.split("\\frac")
    out = head
    for part in parts:
        out += "\\frac"
        if part.startswith("{"):
            out += part
        elif len(part) < 2:
            raise ValueError(f"\\frac without its arguments in {text!r}")
        elif part[1] != "{":
            out += "{" + part[0] + "}{" + part[1] + "}" + part[2:]
        else:
            out += "{" + part[0] + "}" + part[1:]
    return out


def _fix_sqrt(text: str) -> str:
    """`\\sqrt3` -> `\\sqrt{3}`. IndexError for a `\\sqrt` at the very end."""
    head, *parts = text.split("\\sqrt")
    return head + "".join("\\sqrt" + (part if part[0] == "{" else "{" + part[0] + "}" + part[1:]) for part in parts)


def _slash_fraction(text: str) -> str:
    """`3/4` -> `\\frac{3}{4}`, `-3/4` too (two integers written plainly only: `03/4` stays)."""
    match = re.fullmatch(r"(-?\d+)/(-?\d+)", text)
    if match is None or f"{int(match.group(1))}/{int(match.group(2))}" != text:
        return text
    return f"\\frac{{{match.group(1)}}}{{{match.group(2)}}}"


def normalize(answer: str) -> str:
    """The paper's normalisation of a final answer (its `strip_string`), so that `\\dfrac12`, `\\frac{1}{2}` and
    `0.5` compare equal. It raises where the paper's code does (two unit markers, a bare `\\frac`); `is_equiv`
    then compares the raw strings, as the paper's code does."""
    text = answer.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    text = text.replace("tfrac", "frac").replace("dfrac", "frac").replace("\\left", "").replace("\\right", "")
    text = text.replace("^{\\circ}", "").replace("^\\circ", "").replace("\\$", "")
    if "\\text{ " in text:  # units: "5 \text{ cm}" -> "5 "
        head, *units = text.split("\\text{ ")
        if len(units) != 1:
            raise ValueError(f"several unit markers in {answer!r}")
        text = head
    text = text.replace("\\%", "")  # a bare "%" stays, as in the paper's code
    text = text.replace(" .", " 0.").replace("{.", "{0.")
    if not text:
        return text
    if text.startswith("."):
        text = "0" + text
    sides = text.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:  # "x = 3" -> "3"
        text = sides[1]
    text = _fix_fracs(_fix_sqrt(text).replace(" ", ""))
    if text == "0.5":
        text = "\\frac{1}{2}"
    return _slash_fraction(text)


def is_equiv(answer: str | None, target: str | None) -> bool:
    """MATH's string match: equal after normalisation (both None counts as equal, as in the paper's code; where
    the normalisation fails, the raw strings are compared)."""
    if answer is None or target is None:
        return answer is None and target is None
    try:
        return normalize(answer) == normalize(target)
    except (ValueError, IndexError):
        return answer == target
