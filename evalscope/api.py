"""Everything a benchmark author imports, in one place: `from evalscope.api import Benchmark, Setup, Sample, ...`."""

# ruff: noqa: F401 (this module is its imports)

from evalscope.benchmark import GENERATION, LOGLIKELIHOOD, Benchmark, RowError, Scored, Setup, fields
from evalscope.data import DataError, Rows, csv_rows, read_csv, read_jsonl, read_rows
from evalscope.extract import (
    LETTERS,
    boxed,
    choice_letter,
    first_number,
    last_number,
    normalize_number,
    numbers_equal,
    numeric_answer,
)
from evalscope.hendrycks import is_equiv, last_boxed
from evalscope.mathbench import EVALSCOPE_05, LEVELS, MINERVA, SUBJECTS, MathProblems, math_score
from evalscope.mathverify import math_answer, math_equal
from evalscope.mcq import (
    CHINESE_FEW_SHOT_HEADER,
    CHINESE_SINGLE_ANSWER,
    CHINESE_SINGLE_ANSWER_COT,
    GENERATION_SETUP,
    SINGLE_ANSWER,
    SINGLE_ANSWER_COT,
    ChoiceSetup,
    LetterExam,
    LetterGeneration,
    MultipleChoice,
    argmax,
    gold_index,
    lettered,
    mc_sample,
)
from evalscope.overlap import CJK, f1, tokens
from evalscope.schema import ChoiceLoglikelihoods, ChoiceRequest, Completion, GenerationRequest, Sample, SampleResult
from evalscope.stats import CLUSTER_KEY
