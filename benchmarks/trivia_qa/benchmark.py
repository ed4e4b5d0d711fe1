"""TriviaQA, closed book, on MosaicML's 3000-question subsample: the answer checked against all its aliases."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

from evalscope.api import (
    Benchmark,
    Completion,
    GenerationRequest,
    RowError,
    Sample,
    Scored,
    Setup,
    f1,
    fields,
    reference_grader,
)


def normalized(text: str) -> str:
    """Lower case, no punctuation, outer blanks stripped (exact match ignoring case and punctuation)."""
    return text.lower().translate(str.maketrans("", "", string.punctuation)).strip()


def five_shot(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    shots = "".join(f"Question: {s.input}\nAnswer: {s.target}\n\n" for s in few_shot)
    return GenerationRequest(f"{shots}Question: {sample.input}\nAnswer:", stop=("\n", ".", ","))


def alias_score(sample: Sample, completion: Completion) -> Scored:
    """`exact_match`: the reply equals one of the aliases, ignoring case and punctuation; `f1`: the best token F1
    (SQuAD's) over the aliases."""
    answer, aliases = completion.text.strip(), [sample.target, *sample.metadata["aliases"]]
    return Scored({"exact_match": float(normalized(answer) in {normalized(a) for a in aliases}),
                   "f1": max(f1(answer, a) for a in aliases)}, {"exact_match": answer, "f1": answer})


class TriviaQA(Benchmark):
    data_dir = "triviaqa"
    splits = {"test": "triviaqa_sm_sub.jsonl"}
    few_shot_split = "test"  # the only split: the exemplars are other questions of it, never the one asked
    setups = (
        Setup("closed-book", "MosaicML's 3000-question subsample, not the standard split: 5 other questions with "
              "their answers drawn per sample, 'Question: ...\\nAnswer:' "
              "(lm-eval triviaqa's format), raw text, stop at a newline, period or comma; exact match against any "
              "alias ignoring case and punctuation, and token F1", few_shot_num=5, chat_template=False,
              prompt=five_shot, score=alias_score, metrics=("exact_match", "f1")),
        Setup("judge", "closed-book's prompt; a --judge grades the answer against the answer and its aliases "
              "(CORRECT / INCORRECT / NOT_ATTEMPTED), beside exact match and F1", few_shot_num=5,
              chat_template=False, prompt=five_shot, score=alias_score,
              metrics=("judge_correct", "exact_match", "f1"), judge=reference_grader(aliases="aliases")),
    )

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        context, answer, aliases = fields(row, "context", "answer", "aliases")
        question = str(context).strip().removeprefix("Question:").removesuffix("Answer:").strip()
        if not question or not isinstance(aliases, list):
            raise RowError("needs a 'Question: ...' context and a list of aliases")
        return Sample(question, str(answer), metadata={"aliases": [str(a) for a in aliases]})
