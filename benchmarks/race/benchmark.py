"""RACE: English reading comprehension from Chinese school exams; several questions share each article."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalscope.api import (
    CLUSTER_KEY,
    LETTERS,
    SINGLE_ANSWER_COT,
    ChoiceSetup,
    LetterGeneration,
    MultipleChoice,
    Rows,
    Sample,
    fields,
    gold_index,
    lettered,
    mc_sample,
    read_jsonl,
)


class RACE(MultipleChoice):
    splits = {"test": ".", "validation": "."}  # <split>_<level>.jsonl files
    subsets = ("middle", "high")
    setups = (
        ChoiceSetup("letter", "the article, question and lettered options, 'Answer:', loglikelihood of ' A'..' D'",
                    answer="letter"),
        LetterGeneration("generation", "EvalScope 1.14.1 race with few_shot_num=0 (its 3 shots come from the train "
                         "split, not stored here): 'Article:/Question:', the model reasons and ends with 'ANSWER: X'",
                         template=SINGLE_ANSWER_COT),
    )

    def subsets_in(self, files: Mapping[str, Path]) -> tuple[str, ...]:
        folder = files[self.eval_split]
        return tuple(s for s in self.subsets if (folder / f"{self.eval_split}_{s}.jsonl").is_file())

    def rows(self, path: Path, split: str, subset: str) -> Rows:
        yield from read_jsonl(path / f"{split}_{subset}.jsonl")

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        article, question, options, answer = fields(row, "article", "question", "options", "answer")
        # questions on one article are not independent: the standard error clusters them by article
        return mc_sample(f"Article:\n{article}\nQuestion:\n{question}", list(options),
                         gold_index(str(answer), LETTERS[: len(options)]), **{CLUSTER_KEY: row.get("example_id")})

    def context(self, sample: Sample, setup: ChoiceSetup, few_shot: Sequence[Sample]) -> str:
        return f"{sample.input}\n{lettered(sample)}\nAnswer:"
