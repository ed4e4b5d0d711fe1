"""Math answers read and compared by Math-Verify, configured as EvalScope 1.14.1 uses it (GSM8K's `chat-boxed`)."""

from __future__ import annotations

import logging
from typing import Any

from evalscope.deadline import bounded

# Math-Verify warns on every call that its timeouts are off; they are off on purpose (see below).
logging.getLogger("math_verify").setLevel(logging.ERROR)

# EvalScope's extraction: LaTeX (a \boxed{} first) then plain expressions, the last in the reply without a box. No
# timeouts: Math-Verify's are signal-based and fail outside the main thread, where the harness scores.
_WRAPPED = ("$", "\\(", "\\[", "\\boxed", "\\fbox")


def _parse(text: str, fragment: bool) -> tuple[list[Any], str]:
    """(the parsed objects, their display text). A fragment (an extracted answer, a target) is read as LaTeX."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse
    from math_verify.grader import get_pct_val

    text = text.strip()
    if not text:
        return [], ""
    if fragment and not text.startswith(_WRAPPED):
        text = f"${text}$"
    found = parse(text, extraction_config=[LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()],
                  fallback_mode="first_match", extraction_mode="first_match", parsing_timeout=None)
    objects = [x for x in found if not isinstance(x, str)]
    display = next((x for x in found if isinstance(x, str)), "")
    if len(objects) == 1 and "%" not in display and get_pct_val(objects[0]) is not None:
        display += "%"  # the expression parser drops a percent sign; EvalScope puts it back for display
    return objects, display


@bounded(lambda reply: "", warm=("math_verify",))
def math_answer(reply: str) -> str:
    """The answer EvalScope reads from a reply (its display text; "" when nothing parses). Under the checker
    deadline (a reply it cannot read in time has no answer)."""
    return _parse(reply, fragment=False)[1]


@bounded(lambda answer, target: False, warm=("math_verify",))
def math_equal(answer: str, target: str) -> bool:
    """Whether an extracted answer equals the target for Math-Verify (gold first: `verify` is not symmetric). Under
    the checker deadline: sympy evaluates `9^{9^{9^{9}}}` for ever; past the deadline the answer is wrong."""
    from math_verify import verify

    predictions, golds = _parse(answer, fragment=True)[0], _parse(target, fragment=True)[0]
    try:
        return any(verify([gold], [prediction], strict=True, float_rounding=6, numeric_precision=15,
                          allow_set_relation_comp=False, timeout_seconds=None, raise_on_error=True)
                   for gold in golds for prediction in predictions)
    except Exception:  # sympy raises anything on odd input; an answer it cannot compare is wrong
        return False
