"""ARC (AI2 Reasoning Challenge): grade-school science questions, Easy and Challenge sets, 3-5 options each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalscope.api import (
    SINGLE_ANSWER,
    ChoiceSetup,
    LetterGeneration,
    MultipleChoice,
    Rows,
    Sample,
    gold_index,
    lettered,
    mc_sample,
    read_jsonl,
    read_rows,
)

SPLIT_FILES = {"test": "Test", "train": "Train", "validation": "Dev"}


class ARC(MultipleChoice):
    version = "2"  # 2: the generation setup sends EvalScope 1.14.1's prompt and reads the answer as it does
    splits = {"test": "."}  # one folder per subset, AI2's file names inside (see rows)
    hub = {"modelscope": "modelscope/ai2_arc", "huggingface": "allenai/ai2_arc"}
    subsets = ("ARC-Easy", "ARC-Challenge")
    setups = (
        ChoiceSetup("lm-eval", "lm-eval arc_easy/arc_challenge: 0-shot, 'Question: ...\\nAnswer:', "
                    "loglikelihood of ' <answer text>'; acc and acc_norm", metrics=("acc", "acc_norm")),
        ChoiceSetup("letter", "question with lettered options, 'Answer:', loglikelihood of ' A'..' E' (MMLU style)",
                    answer="letter"),
        LetterGeneration("evalscope", "EvalScope 1.14.1 arc: 0-shot, the answer alone as 'ANSWER: X'",
                         template=SINGLE_ANSWER, aliases=("generation",)),
    )

    def rows(self, path: Path, split: str, subset: str) -> Rows:
        local = path / subset / f"{subset}-{SPLIT_FILES[split]}.jsonl"
        # the hub copy: HF parquet, one folder per subset
        yield from read_jsonl(local) if local.is_file() else read_rows(next((path / subset).glob(f"{split}-*.parquet")))

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        question, answer = row["question"], str(row["answerKey"])
        if isinstance(question, Mapping):  # AI2 layout: {"stem", "choices": [{"text", "label"}]}
            stem, options = question["stem"], question["choices"]
            texts, labels = [o["text"] for o in options], [str(o["label"]) for o in options]
        else:  # HF layout: question str, choices {"text": [...], "label": [...]}
            stem, texts, labels = question, list(row["choices"]["text"]), [str(x) for x in row["choices"]["label"]]
        return mc_sample(stem, texts, gold_index(answer, labels), id=row.get("id"))

    def context(self, sample: Sample, setup: ChoiceSetup, few_shot: Sequence[Sample]) -> str:
        options = f"\n{lettered(sample)}" if setup.answer == "letter" else ""
        return f"Question: {sample.input}{options}\nAnswer:"
