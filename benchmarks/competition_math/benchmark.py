"""MATH (Hendrycks et al. 2021): 5000 competition problems, 7 subjects x 5 levels; the answer is the last
\\boxed{} of the reference solution."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalscope.api import (
    EVALSCOPE_05,
    MINERVA,
    GenerationRequest,
    MathProblems,
    RowError,
    Sample,
    Setup,
    fields,
    last_boxed,
    math_score,
)

# EvalScope 1.14.1's competition_math prompt.
PROMPT = "Problem:\n{question}\n\nPlease reason step by step, and put your final answer within \\boxed{{}}.\n"


def boxed_prompt(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    return GenerationRequest(PROMPT.format(question=sample.input))


class CompetitionMath(MathProblems):
    version = "2"  # 2: acc_strict follows the paper's string match exactly (a bare "%" stays, \\frac{1}2 is kept)
    data_dir = "math"
    hub = {"modelscope": "evalscope/competition_math"}
    setups = (
        Setup("evalscope", "EvalScope 1.14.1 competition_math with few_shot_num=0 (its 4 shots come from the train "
              "split, not stored here): 'Problem:', the question, reason step by step, answer in \\boxed{}",
              prompt=boxed_prompt, score=math_score, metrics=("acc", "acc_strict"), aliases=("chat-boxed",)),
        MINERVA,
        EVALSCOPE_05,
    )

    def answer(self, row: Mapping[str, Any]) -> str:
        (solution,) = fields(row, "solution")
        found = last_boxed(str(solution))
        if found is None:
            raise RowError("solution has no \\boxed{} answer")
        return found

    def level(self, row: Mapping[str, Any]) -> str:
        return str(row.get("level"))
