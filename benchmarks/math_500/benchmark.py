"""MATH-500: the 500 MATH test problems of OpenAI's PRM800K split, with their final answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalscope.api import EVALSCOPE_05, MINERVA, GenerationRequest, MathProblems, Sample, Setup, fields, math_score


def boxed_prompt(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    # EvalScope 1.14.1's math_500 prompt
    return GenerationRequest(f"{sample.input}\nPlease reason step by step, and put your final answer within "
                             "\\boxed{}.")


class Math500(MathProblems):
    version = "2"  # 2: acc_strict follows the paper's string match exactly (a bare "%" stays, \\frac{1}2 is kept)
    data_dir = "math500"
    hub = {"modelscope": "AI-ModelScope/MATH-500", "huggingface": "HuggingFaceH4/MATH-500"}
    subject_field = "subject"
    setups = (
        Setup("evalscope", "EvalScope 1.14.1 math_500: 0-shot, the question, reason step by step, answer in "
              "\\boxed{}", prompt=boxed_prompt, score=math_score, metrics=("acc", "acc_strict"),
              aliases=("chat-boxed",)),
        MINERVA,
        EVALSCOPE_05,
    )

    def answer(self, row: Mapping[str, Any]) -> str:
        return str(fields(row, "answer")[0])

    def level(self, row: Mapping[str, Any]) -> str:
        return f"Level {row.get('level')}"
