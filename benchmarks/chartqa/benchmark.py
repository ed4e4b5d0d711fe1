"""ChartQA (Masry et al., 2022, arXiv:2203.10244): questions about charts, answered by a word or a number; the test
split's human-written and machine-generated (augmented) questions, scored by relaxed accuracy.

Hub layout (`lmms-lab/ChartQA`): `data/test-*.parquet` with `type` (`human_test` / `augmented_test`), `question`,
`answer` and `image` (`{"bytes": PNG}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalscope.api import (
    Benchmark,
    Completion,
    DataError,
    GenerationRequest,
    RowError,
    Rows,
    Sample,
    Scored,
    Setup,
    answer_line,
    read_parquet,
    row_images,
    with_images,
)

# EvalScope 1.14.1's chartqa prompt, byte for byte (the question, then the image).
PROMPT = ('\n{question}\n\nThe last line of your response should be of the form "ANSWER: [ANSWER]" (without quotes) '
          'where [ANSWER] is the a single word answer or number to the problem.\n')
TOLERANCE = 0.05
"""A numeric answer within 5% of the gold one counts (the paper's relaxed accuracy, after Methani et al.)."""


def number(text: str) -> float | None:
    """A plain number, or a percentage as a fraction (`12%` is 0.12); None for anything else."""
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        return None


def relaxed_correct(answer: str, gold: str) -> bool:
    """Numbers within TOLERANCE of the gold one (relative; a gold 0 only by 0 itself), other answers by
    case-insensitive equality."""
    said, wanted = number(answer), number(gold)
    if said is None or wanted is None:
        return answer.lower() == gold.lower()
    return said == 0 if wanted == 0 else abs(said - wanted) / abs(wanted) <= TOLERANCE


def prompt(sample: Sample, few_shot: Any) -> GenerationRequest:
    text = PROMPT.format(question=sample.input)
    return GenerationRequest(text, images=sample.images, image_at=(len(text),) * len(sample.images))


def score(sample: Sample, completion: Completion) -> Scored:
    said = answer_line(completion.text) or ""  # no 'ANSWER:' line: no answer (EvalScope's reading)
    return Scored({"relaxed_acc": float(relaxed_correct(said, sample.target))}, {"relaxed_acc": said})


class ChartQA(Benchmark):
    version = "1"
    splits = {"test": "."}
    hub = {"huggingface": "lmms-lab/ChartQA"}
    subsets = ("human_test", "augmented_test")
    setups = (Setup("evalscope", "EvalScope 1.14.1 chartqa: the question, then the chart; the answer after "
                    "'ANSWER:', relaxed accuracy (5% numeric tolerance)", prompt=prompt, score=score,
                    metrics=("relaxed_acc",)),)

    def rows(self, path: Path, split: str, subset: str) -> Rows:
        files = sorted(path.glob(f"data/{split}-*.parquet")) or sorted(path.glob(f"{split}-*.parquet"))
        if not files:
            raise DataError(f"chartqa: no data/{split}-*.parquet under {path}")
        for file in files:
            yield from ((where, row) for where, row in read_parquet(file) if row.get("type") == subset)

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        if not str(row.get("question") or "").strip() or row.get("answer") is None:
            raise RowError("missing field 'question' or 'answer'")
        pictures = row_images(row)
        if not pictures:
            raise RowError("missing field 'image'")
        return with_images(Sample(str(row["question"]), str(row["answer"])), pictures)
