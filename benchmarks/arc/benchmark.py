"""ARC (AI2 Reasoning Challenge): grade-school science questions, Easy and Challenge sets, 3-5 options each."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from evalscope.benchmark import Setup
from evalscope.data import read_jsonl
from evalscope.extract import LETTERS
from evalscope.mcq import MultipleChoice, gold_index, lettered, mc_sample
from evalscope.schema import Sample

SPLIT_FILES = {"test": "Test", "train": "Train", "validation": "Dev"}


class ARC(MultipleChoice):
    name = "arc"
    version = "1"
    data_dir_name = "arc"
    splits = {"test": "."}  # one folder per subset, AI2's file names inside (see rows)
    hub = {"modelscope": "modelscope/ai2_arc", "huggingface": "allenai/ai2_arc"}
    eval_split = "test"
    subsets = ("ARC-Easy", "ARC-Challenge")
    setups = {
        "lm-eval": Setup("lm-eval", "lm-eval arc_easy/arc_challenge: 0-shot, 'Question: ...\\nAnswer:', "
                         "loglikelihood of ' <answer text>'; acc and acc_norm",
                         metrics=("acc", "acc_norm"), options={"mode": "loglikelihood"}),
        "letter": Setup("letter", "question with lettered options, 'Answer:', loglikelihood of ' A'..' E' (MMLU style)",
                        metrics=("acc",), options={"mode": "loglikelihood", "letters": True}),
        "generation": Setup("generation", "EvalScope 1.x: the model reasons and ends with 'ANSWER: X'",
                            metrics=("acc",), options={"mode": "generation"}),
    }
    default_setup = "lm-eval"

    def rows(self, split: str, subset: str, files: Mapping[str, Path]) -> Iterator[tuple[str, dict[str, Any]]]:
        folder = files[split] / subset
        local = folder / f"{subset}-{SPLIT_FILES[split]}.jsonl"
        if local.is_file():
            yield from read_jsonl(local)
            return
        from evalscope.data import read_rows  # the hub copy: HF parquet, one folder per subset

        yield from read_rows(next(folder.glob(f"{split}-*.parquet")))

    def to_sample(self, row: Mapping[str, Any], index: int, subset: str) -> Sample:
        question, answer = row["question"], str(row["answerKey"])
        if isinstance(question, Mapping):  # AI2 layout: {"stem", "choices": [{"text", "label"}]}
            stem, options = question["stem"], question["choices"]
            texts, labels = [o["text"] for o in options], [str(o["label"]) for o in options]
        else:  # HF layout: question str, choices {"text": [...], "label": [...]}
            stem, texts, labels = question, list(row["choices"]["text"]), [str(x) for x in row["choices"]["label"]]
        return mc_sample(stem, texts, gold_index(answer, labels), id=row.get("id"))

    def context(self, sample: Sample, setup: Setup, few_shot: Sequence[Sample]) -> str:
        if setup.options.get("letters"):
            return f"Question: {sample.input}\n{lettered(sample)}\nAnswer:"
        return f"Question: {sample.input}\nAnswer:"

    def continuations(self, sample: Sample, setup: Setup) -> tuple[str, ...]:
        if setup.options.get("letters"):
            return tuple(f" {LETTERS[i]}" for i in range(len(sample.choices)))
        return tuple(f" {c}" for c in sample.choices)


BENCHMARK = ARC()
