"""Everything a benchmark folder imports, in one place: `from evalscope.api import Benchmark, Setup, Sample, ...`."""

from evalscope.benchmark import GENERATION, LOGLIKELIHOOD, Benchmark, Scored, Setup, fields
from evalscope.config import RunConfig
from evalscope.judging import JudgeMetric, reference_grader, rubric
from evalscope.kinds.choice import (
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
from evalscope.kinds.code import CodeBenchmark, CodeSetup, extract_code
from evalscope.kinds.math import EVALSCOPE_05, LEVELS, MINERVA, SUBJECTS, MathProblems, math_score
from evalscope.kinds.vision import placed, read_parquet, row_images, with_images
from evalscope.kinds.writing import LongWriting
from evalscope.models.resolve import local_weights  # a benchmark that counts tokens finds the tokenizer
from evalscope.report.charts import heatmap, scatter
from evalscope.rows import Rows, csv_rows, read_csv, read_jsonl, read_rows
from evalscope.schema import (
    ChoiceLoglikelihoods,
    ChoiceRequest,
    Completion,
    DataError,
    GenerationRequest,
    RowError,
    Sample,
    SampleResult,
)
from evalscope.scoring import instructions
from evalscope.scoring.extract import (
    LETTERS,
    answer_line,
    choice_letter,
    evalscope_letter,
    first_number,
    last_boxed,
    last_number,
    normalize_number,
    numbers_equal,
    numeric_answer,
)
from evalscope.scoring.math.hendrycks import is_equiv
from evalscope.scoring.math.mathverify import math_answer, math_equal
from evalscope.scoring.overlap import CJK, f1, tokens
from evalscope.stats import CLUSTER_KEY

__all__ = [
    "CHINESE_FEW_SHOT_HEADER",
    "CHINESE_SINGLE_ANSWER",
    "CHINESE_SINGLE_ANSWER_COT",
    "CJK",
    "CLUSTER_KEY",
    "EVALSCOPE_05",
    "GENERATION",
    "GENERATION_SETUP",
    "LETTERS",
    "LEVELS",
    "LOGLIKELIHOOD",
    "MINERVA",
    "SINGLE_ANSWER",
    "SINGLE_ANSWER_COT",
    "SUBJECTS",
    "Benchmark",
    "ChoiceLoglikelihoods",
    "ChoiceRequest",
    "ChoiceSetup",
    "CodeBenchmark",
    "CodeSetup",
    "Completion",
    "DataError",
    "GenerationRequest",
    "JudgeMetric",
    "LetterExam",
    "LetterGeneration",
    "LongWriting",
    "MathProblems",
    "MultipleChoice",
    "RowError",
    "Rows",
    "RunConfig",
    "Sample",
    "SampleResult",
    "Scored",
    "Setup",
    "answer_line",
    "argmax",
    "choice_letter",
    "csv_rows",
    "evalscope_letter",
    "extract_code",
    "f1",
    "fields",
    "first_number",
    "gold_index",
    "heatmap",
    "instructions",
    "is_equiv",
    "last_boxed",
    "last_number",
    "lettered",
    "local_weights",
    "math_answer",
    "math_equal",
    "math_score",
    "mc_sample",
    "normalize_number",
    "numbers_equal",
    "numeric_answer",
    "placed",
    "read_csv",
    "read_jsonl",
    "read_parquet",
    "read_rows",
    "reference_grader",
    "row_images",
    "rubric",
    "scatter",
    "tokens",
    "with_images",
]
