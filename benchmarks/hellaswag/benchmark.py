"""HellaSwag: pick the most plausible ending of an activity description (4 endings, validation split)."""

from __future__ import annotations

import bz2
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from evalscope.api import ChoiceSetup, DataError, MultipleChoice, RowError, Rows, Sample, Setup, mc_sample

LINES_PER_TASK = 6  # context, gold label, 4 endings (llama.cpp's hellaswag text format; see SOURCE.md)


class HellaSwag(MultipleChoice):
    version = "2"  # 2: the generation prompt is EvalScope 1.14.1's template (not its context)
    splits = {"validation": "hellaswag_val_full.txt.bz2"}
    eval_split = "validation"
    subsets = ("validation",)
    setups = (
        ChoiceSetup("lm-eval", "lm-eval hellaswag: 0-shot, context 'activity: ctx', loglikelihood of ' ending'; "
                    "acc_norm (per character) and acc", metrics=("acc_norm", "acc")),
        Setup("generation", "pick the ending by letter, 'ANSWER: X' (EvalScope's template, not its context: "
              "this data file cannot rebuild it)"),
    )

    def rows(self, path: Path, split: str, subset: str) -> Rows:
        try:
            with bz2.open(path, "rt", encoding="utf-8") as fh:
                lines = fh.read().split("\n")
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: cannot read ({exc})") from None
        if lines and lines[-1] == "":
            lines.pop()
        for start in range(0, len(lines), LINES_PER_TASK):
            block = lines[start : start + LINES_PER_TASK]
            if len(block) < LINES_PER_TASK:
                yield f"{path}:{start + 1}", RowError(f"truncated task: {len(block)} of {LINES_PER_TASK} lines")
            else:
                yield f"{path}:{start + 1}", {"ctx": block[0], "label": block[1], "endings": block[2:]}

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        label = str(row["label"]).strip()
        if not label.isdigit():
            raise RowError(f"label {label!r} is not a number")
        return mc_sample(row["ctx"], list(row["endings"]), int(label))

    def prompt(self, sample: Sample, setup: Setup, few_shot: Sequence[Sample]) -> str:
        question = f"Which ending completes the description best?\n\n{sample.input} ..."
        return super().prompt(replace(sample, input=question), setup, few_shot)

    def context(self, sample: Sample, setup: ChoiceSetup, few_shot: Sequence[Sample]) -> str:
        return sample.input
