"""Kinds of benchmark: the base classes a benchmark folder subclasses (multiple choice, code, math), one per module.

A folder imports them from `evalscope.api`; each module holds the kind's setups, prompt helpers and scoring.
"""

from evalscope.kinds.choice import ChoiceSetup, LetterExam, LetterGeneration, MultipleChoice
from evalscope.kinds.code import CodeBenchmark, CodeSetup
from evalscope.kinds.math import MathProblems

__all__ = ["ChoiceSetup", "CodeBenchmark", "CodeSetup", "LetterExam", "LetterGeneration", "MathProblems",
           "MultipleChoice"]
