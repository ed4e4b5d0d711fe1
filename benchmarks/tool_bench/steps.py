"""Reading a ToolBench step (`Thought ... Action: f / Action Input: {...}`, or `Action: Finish` with a final
answer) and EvalScope's five per-sample metrics of a predicted step against the reference."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

HALLUCINATION_SENTINEL = "invalid_hallucination_function_name"


@dataclass(frozen=True)
class Step:
    """What a step does: `call` a tool, `finish` with an answer, or `give up`."""

    plan: str
    action: str | None
    arguments: str | None
    """The Action Input text (JSON when well formed)."""
    answer: str | None


def _after(text: str, marker: str) -> str | None:
    at = text.rfind(marker)
    return None if at < 0 else text[at + len(marker):].strip()


def read_step(text: str) -> Step:
    """A step as EvalScope reads it: the last `Action:` and `Action Input:`; `Finish` with a `give_answer`
    return type and a non-empty `final_answer` finishes, any other Finish gives up."""
    arguments = _after(text, "Action Input:")
    action = _after(text, "Action:")
    if action is not None and "Action Input:" in action:
        action = action[: action.index("Action Input:")].strip()
    action, arguments = action if action is not None else "none", arguments if arguments is not None else "{}"
    if action != "Finish":
        return Step("call", action, arguments, None)
    try:
        finish = json.loads(arguments)
        if finish["return_type"] != "give_answer":
            return Step("give up", None, None, None)
    except (ValueError, TypeError, KeyError):
        return Step("give up", None, None, None)
    answer = str(finish["final_answer"]) if "final_answer" in finish else "None"
    return Step("finish", action, None, "None" if answer.strip() in ("", ".", ",") else answer)


def _argument_f1(predicted: str, reference: str) -> float | None:
    """Half credit for a key with another value; None where EvalScope counts nothing (a reference that is not
    JSON)."""
    try:
        ref = json.loads(reference)
    except ValueError:
        return None
    try:
        pred = json.loads(predicted)
        if ref == {}:
            return float(pred == {})
        full = sum(1 for k, v in ref.items() if k in pred and pred[k] == v)
        half = sum(1 for k, v in ref.items() if k in pred and pred[k] != v)
        recall = (0.5 * half + full) / (len(ref) + 1e-30)
        precision = (0.5 * half + full) / (len(pred) + 1e-30)
        return 2 * recall * precision / (recall + precision)
    except (ValueError, TypeError, AttributeError, ZeroDivisionError):
        return 0.0


def rouge_l(predicted: str, reference: str) -> float:
    """ROUGE-L F of the `rouge` package (EvalScope's): summary-level LCS over sentences cut at full stops."""
    try:
        from rouge import Rouge
    except ImportError:
        raise RuntimeError("tool_bench's Rouge-L needs the `rouge` package: pip install rouge==1.0.1") from None
    return float(Rouge().get_scores(hyps=[predicted], refs=[reference], avg=True)["rouge-l"]["f"])


def not_scored(reference: str, tools: Sequence[str]) -> str | None:
    """Why EvalScope leaves a sample out of every metric (its reference names no offered tool), else None."""
    ref = read_step(reference)
    if ref.action == HALLUCINATION_SENTINEL:
        return "the reference calls the hallucination sentinel"
    if ref.action not in (None, "none") and ref.action not in tools:
        return f"the reference calls {ref.action!r}, which is not among the tools"
    return None


FAILED = {"Act.EM": 0.0, "Plan.EM": 0.0, "F1": 0.0, "HalluRate": 1.0, "Rouge-L": 0.0}
"""What EvalScope records when scoring a reply raises (e.g. ROUGE of an empty answer)."""


def metrics(prediction: str, reference: str, tools: Sequence[str]) -> dict[str, float]:
    """EvalScope's Act.EM, Plan.EM, F1, HalluRate and Rouge-L of one predicted step."""
    try:
        return _metrics(prediction, reference, tools)
    except ValueError:  # the rouge package refuses an empty hypothesis or reference
        return dict(FAILED)


def _metrics(prediction: str, reference: str, tools: Sequence[str]) -> dict[str, float]:
    ref, pred = read_step(reference), read_step(prediction)
    hallucinated = pred.action is not None and pred.action != "none" and pred.action not in tools
    out = {"Plan.EM": float(pred.plan == ref.plan), "HalluRate": float(hallucinated), "Act.EM": 0.0, "F1": 0.0,
           "Rouge-L": 0.0}
    if ref.plan == "finish":
        out["Rouge-L"] = rouge_l(pred.answer if pred.answer is not None else "none", str(ref.answer))
    elif ref.plan == "call":
        action = pred.action if pred.action is not None else "none"
        out["Act.EM"] = float(action == ref.action)
        if action == ref.action:
            f1 = _argument_f1(pred.arguments if pred.arguments is not None else "{}", str(ref.arguments))
            out["F1"] = f1 or 0.0
    return out


def tool_names(tools: Sequence[Any]) -> list[str]:
    return [str(t["name"]) for t in tools if isinstance(t, dict) and "name" in t]
