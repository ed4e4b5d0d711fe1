"""GPQA-Diamond: 198 graduate-level biology, chemistry and physics questions, four options in a per-question order."""

from __future__ import annotations

import hashlib
import io
import random
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalscope.api import (
    SINGLE_ANSWER_COT,
    ChoiceSetup,
    DataError,
    LetterGeneration,
    MultipleChoice,
    Rows,
    Sample,
    csv_rows,
    fields,
    lettered,
    mc_sample,
)

INNER = "gpqa_diamond.csv"
# The public password upstream uses for its own archive (SOURCE.md). The authors ask that the questions not
# appear in plain text online, so the CSV is only ever read in memory.
PASSWORD = b"deserted-untie-orchid"


def shuffled(question: str, correct: str, wrong: Sequence[str]) -> tuple[list[str], int]:
    """The options in an order drawn from the question alone (reproducible, independent of run order; EvalScope
    1.14.1's rule, so both show the same order): the three wrong answers and the right one, shuffled."""
    options = [*wrong, correct]
    seed = int.from_bytes(hashlib.sha256(question.encode()).digest()[:8], "big")
    random.Random(seed).shuffle(options)
    return options, options.index(correct)


class GPQADiamond(MultipleChoice):
    data_dir = "gpqa"
    splits = {"test": "gpqa_diamond.zip"}
    setups = (
        LetterGeneration("evalscope", "EvalScope 1.14.1 gpqa_diamond (and simple-evals): 0-shot, the model reasons "
                         "and ends with 'ANSWER: X'", template=SINGLE_ANSWER_COT, aliases=("generation",)),
        ChoiceSetup("loglikelihood", "the question, lettered options and 'Answer:', loglikelihood of ' A'..' D'",
                    answer="letter"),
    )

    def rows(self, path: Path, split: str, subset: str) -> Rows:
        try:
            text = zipfile.ZipFile(path).read(INNER, pwd=PASSWORD).decode("utf-8-sig")
        except (OSError, KeyError, RuntimeError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: cannot read {INNER} ({type(exc).__name__}: {exc})") from None
        yield from csv_rows(io.StringIO(text, newline=""), f"{path}!{INNER}")

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        question, correct, *wrong = fields(row, "Question", "Correct Answer", "Incorrect Answer 1",
                                           "Incorrect Answer 2", "Incorrect Answer 3")
        options, gold = shuffled(question.strip(), correct.strip(), [w.strip() for w in wrong])
        return mc_sample(question, options, gold, domain=row.get("High-level domain"))

    def category(self, sample: Sample) -> str | None:
        return sample.metadata.get("domain")

    def context(self, sample: Sample, setup: ChoiceSetup, few_shot: Sequence[Sample]) -> str:
        return f"Question: {sample.input.strip()}\n{lettered(sample)}\nAnswer:"
