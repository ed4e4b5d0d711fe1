"""MATH's own answer check (Hendrycks et al. 2021): the last \\boxed{} of a text, and string equality after the
paper's normalisation (fractions, roots, units, spacing). Stricter than Math-Verify; reported beside it."""

from __future__ import annotations

import re

_BOX = re.compile(r"\\(?:boxed|fbox)")


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` (or `\\fbox{...}`, or `\\boxed 5`) in the text; None without one."""
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


def _braced(text: str, command: str, arguments: int) -> str:
    """`\\frac12` -> `\\frac{1}{2}`, `\\sqrt3` -> `\\sqrt{3}`: single-character arguments given their braces."""
    head, *parts = text.split(command)
    out = head
    for part in parts:
        out += command
        for _ in range(arguments):
            if part.startswith("{"):
                close = part.find("}")
                if close < 0:
                    return text
                out, part = out + part[: close + 1], part[close + 1:]
            elif part:
                out, part = out + "{" + part[0] + "}", part[1:]
            else:
                return text
        out += part
    return out


def _slash_fraction(text: str) -> str:
    """`3/4` -> `\\frac{3}{4}` (two integers only)."""
    match = re.fullmatch(r"(-?\d+)/(\d+)", text)
    return f"\\frac{{{match.group(1)}}}{{{match.group(2)}}}" if match else text


def normalize(answer: str) -> str:
    """The paper's normalisation of a final answer, so that `\\dfrac12`, `\\frac{1}{2}` and `0.5` compare equal."""
    text = answer.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    text = text.replace("tfrac", "frac").replace("dfrac", "frac").replace("\\left", "").replace("\\right", "")
    text = text.replace("^{\\circ}", "").replace("^\\circ", "").replace("\\$", "")
    if "\\text{ " in text:  # units: "5 \text{ cm}" -> "5"
        text = text.split("\\text{ ")[0]
    text = text.replace("\\%", "").replace("%", "")
    text = text.replace(" .", " 0.").replace("{.", "{0.")
    if text.startswith("."):
        text = "0" + text
    sides = text.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:  # "x = 3" -> "3"
        text = sides[1]
    text = _braced(text, "\\sqrt", 1).replace(" ", "")
    text = _braced(text, "\\frac", 2)
    if text == "0.5":
        text = "\\frac{1}{2}"
    return _slash_fraction(text)


def is_equiv(answer: str | None, target: str | None) -> bool:
    """MATH's string match: equal after normalisation (both None counts as equal, as in the paper's code)."""
    if answer is None or target is None:
        return answer is None and target is None
    return normalize(answer) == normalize(target)
