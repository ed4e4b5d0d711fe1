"""Your own multiple-choice questions, no code: CSV or JSONL files per subset, scored by loglikelihood or generation.

A folder of `<subset>_val.csv` (EvalScope's layout: header `id,question,A,B,C,D,...,answer`) or `<subset>_val.jsonl`
(`{"question", "choices": [...], "answer": "B" | 1}`, 1 being the second option) files; `<subset>_dev.*` beside
one is its few-shot pool. `--dataset-args '{"general_mcq": {"local_path": DIR, "subset_list": [...],
"prompt_template": "...{question}...{choices}...", "system_prompt": "..."}}'`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalscope.api import (
    CHINESE_SINGLE_ANSWER,
    LETTERS,
    ChoiceSetup,
    LetterGeneration,
    MultipleChoice,
    RowError,
    Rows,
    Sample,
    lettered,
    mc_sample,
    read_csv,
    read_jsonl,
)

FORMATS = (".csv", ".jsonl")


def options(row: Mapping[str, Any]) -> list[str]:
    """The option texts of a row: its `choices` list (JSONL), or its letter columns A, B, ... (CSV)."""
    if "choices" in row:
        if not isinstance(row["choices"], list):
            raise RowError("field 'choices' is not a list")
        return [str(c) for c in row["choices"]]
    return [str(row[letter]) for letter in LETTERS if letter in row]


def gold(answer: Any, n: int) -> int:
    """The right option's index, from its letter ("B") or its 0-based index (1)."""
    text = str(answer).strip().upper()
    index = answer if isinstance(answer, int) and not isinstance(answer, bool) else \
        LETTERS.index(text) if len(text) == 1 and text in LETTERS else -1
    if not 0 <= index < n:
        raise RowError(f"answer {answer!r} is not one of the options {LETTERS[0]}-{LETTERS[max(n, 1) - 1]}")
    return index


class GeneralMCQ(MultipleChoice):
    version = "2"  # 2: the generation setup sends EvalScope 1.14.1's prompt and reads the answer as it does
    splits = {"val": ".", "dev": "."}
    eval_split = "val"
    few_shot_split = "dev"
    placeholders = ("question", "choices", "letters")
    setups = (
        ChoiceSetup("loglikelihood", "MMLU-style: the question, lettered options and 'Answer:', loglikelihood of "
                    "' A', ' B', ...", answer="letter"),
        LetterGeneration("evalscope", "EvalScope 1.14.1 general_mcq: its Chinese single-answer prompt, the model "
                         "answers '答案：X'", template=CHINESE_SINGLE_ANSWER, marker="答案", aliases=("generation",)),
    )

    def subsets_in(self, files: Mapping[str, Path]) -> tuple[str, ...]:
        end = f"_{self.eval_split}"
        return tuple(sorted(p.stem[: -len(end)] for p in files[self.eval_split].iterdir()
                            if p.suffix in FORMATS and p.stem.endswith(end)))

    def rows(self, path: Path, split: str, subset: str) -> Rows:
        found = [path / f"{subset}_{split}{ext}" for ext in FORMATS if (path / f"{subset}_{split}{ext}").is_file()]
        if not found:  # a subset without a dev file has no few-shot pool
            return
        first: int | None = None
        for location, row in read_csv(found[0]) if found[0].suffix == ".csv" else read_jsonl(found[0]):
            if not isinstance(row, RowError) and isinstance(row.get("choices", []), list):
                count = len(options(row))
                first = count if first is None else first
                if count != first:
                    row = RowError(f"{count} options, while the file's first question has {first}")
            yield location, row

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        if not str(row.get("question") or "").strip():
            raise RowError("missing field 'question'")
        if row.get("answer") is None or str(row["answer"]).strip() == "":
            raise RowError("missing field 'answer'")
        choices = options(row)
        return mc_sample(str(row["question"]), choices, gold(row["answer"], len(choices)), id=row.get("id"))

    def fill(self, template: str, sample: Sample, sep: str) -> str:
        letters = ",".join(LETTERS[: len(sample.choices)])
        return template.format(question=sample.input, choices=lettered(sample, sep), letters=letters)

    def context(self, sample: Sample, setup: ChoiceSetup, few_shot: Sequence[Sample]) -> str:
        shots = "".join(f"{s.input}\n{lettered(s)}\nAnswer: {s.target}\n\n" for s in few_shot)
        if setup.prompt_template:
            return shots + self.fill(setup.prompt_template, sample, ". ")
        return f"{shots}{sample.input}\n{lettered(sample)}\nAnswer:"

