"""Multiple-choice benchmarks: loglikelihood scoring (acc, acc_norm) of answer texts or letters, and letter generation.

A `ChoiceSetup` is scored by loglikelihood: the backend returns the log-probability of every continuation after
one shared context. A `LetterGeneration` setup (`GENERATION_SETUP`) lets the model write and extracts the letter,
with EvalScope 1.14.1's prompt templates. A subclass writes `context` (and `example` or `prompt` where EvalScope's
adapter does) and reads its rows into Samples whose `choices` are the option texts and `metadata["gold"]` the
index of the right one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from evalscope.benchmark import LOGLIKELIHOOD, Benchmark, Mode, Scored, Setup, fields
from evalscope.rows import read_csv
from evalscope.schema import (
    ChoiceLoglikelihoods,
    ChoiceRequest,
    Completion,
    GenerationRequest,
    Request,
    Response,
    RowError,
    Sample,
)
from evalscope.scoring.extract import LETTERS, choice_letter, evalscope_letter

# EvalScope 1.14.1's templates (evalscope/utils/multi_choices.py), byte for byte: bench/fidelity_evalscope.py
# renders both sides and compares.
SINGLE_ANSWER = (
    "Answer the following multiple choice question. The entire content of your response should be of the following "
    "format: 'ANSWER: [LETTER]' (without quotes) where [LETTER] is one of {letters}.\n\n{question}\n\n{choices}"
)
SINGLE_ANSWER_COT = (
    "Answer the following multiple choice question. The last line of your response should be of the following "
    "format: 'ANSWER: [LETTER]' (without quotes) where [LETTER] is one of {letters}. Think step by step before "
    "answering.\n\n{question}\n\n{choices}"
)
CHINESE_SINGLE_ANSWER = (
    "回答下面的单项选择题，请选出其中的正确答案。你的回答的全部内容应该是这样的格式：\"答案：[LETTER]\"（不带引号），"
    "其中 [LETTER] 是 {letters} 中的一个。\n\n问题：{question}\n选项：\n{choices}\n"
)
CHINESE_SINGLE_ANSWER_COT = (
    "回答下面的单项选择题，请选出其中的正确答案。你的回答的最后一行应该是这样的格式：\"答案：[LETTER]\"（不带引号），"
    "其中 [LETTER] 是 {letters} 中的一个。请在回答前进行一步步思考。\n\n问题：{question}\n选项：\n{choices}\n"
)
FEW_SHOT_HEADER = "Here are some examples of how to answer similar questions:\n\n{fewshot}\n\n"
CHINESE_FEW_SHOT_HEADER = "以下是一些示例问题：\n\n{fewshot}\n\n"


@dataclass(frozen=True)
class ChoiceSetup(Setup):
    """A multiple-choice setup scored by loglikelihood; says what a continuation is."""

    mode: Mode = LOGLIKELIHOOD
    chat_template: bool = False
    """Loglikelihood setups score raw text by default (lm-eval's and EvalScope 0.5's way)."""
    answer: Literal["text", "letter"] = "text"
    """What is scored after the context: `" <option text>"`, or the option's letter."""
    letter_prefix: str = " "
    """What precedes a scored letter: " " (lm-eval's `" A"`), or "" after a cue such as "答案：" or for
    EvalScope 0.5's next-token letter logits."""


@dataclass(frozen=True)
class LetterGeneration(Setup):
    """A multiple-choice setup in which the model writes and the letter is extracted (EvalScope 1.x's way): the
    question in `template`, after `few_shot_header` when there are exemplars (the first ones of the split, as
    EvalScope takes them)."""

    few_shot_random: bool = False
    template: str = SINGLE_ANSWER_COT
    """With `{question}`, `{choices}` (lettered "A) ...") and `{letters}` ("A,B,C,D")."""
    few_shot_header: str = FEW_SHOT_HEADER
    marker: Literal["ANSWER", "答案"] = "ANSWER"
    """The answer marker EvalScope's parser looks for (its Chinese templates ask for "答案：X")."""


GENERATION_SETUP = LetterGeneration("evalscope", "EvalScope 1.14.1: 0-shot, the model reasons and ends with "
                                    "'ANSWER: X'", aliases=("generation",))
"""The generation setup every multiple-choice benchmark can offer (EvalScope's MMLU, ARC, ... templates)."""


def mc_sample(question: str, choices: Sequence[str], gold: int, **metadata: object) -> Sample:
    """A multiple-choice Sample; the target is the gold letter. Raises RowError for a bad gold index."""
    if len(choices) < 2 or any(not str(c).strip() for c in choices):
        raise RowError(f"needs at least 2 non-empty choices, got {list(choices)!r}")
    if not 0 <= gold < len(choices):
        raise RowError(f"answer index {gold} is outside the {len(choices)} choices")
    return Sample(question, LETTERS[gold], tuple(str(c) for c in choices), metadata={"gold": gold, **metadata})


def gold_index(label: str, labels: Sequence[str]) -> int:
    """Position of an answer label among the choice labels; RowError names both when it is absent."""
    if label not in labels:
        raise RowError(f"answer {label!r} is not one of the choice labels {list(labels)}")
    return list(labels).index(label)


def lettered(sample: Sample, sep: str = ". ") -> str:
    return "\n".join(f"{LETTERS[i]}{sep}{c}" for i, c in enumerate(sample.choices))


def argmax(values: Sequence[float]) -> int:
    """First index of the maximum (ties go to the earlier choice, as in lm-eval's np.argmax)."""
    return int(np.argmax(np.asarray(values, dtype=float)))


class MultipleChoice(Benchmark):
    """Base for benchmarks whose samples pick one of several options."""

    def context(self, sample: Sample, setup: ChoiceSetup, few_shot: Sequence[Sample]) -> str:
        """The text every continuation follows (loglikelihood setups)."""
        raise NotImplementedError

    def continuations(self, sample: Sample, setup: ChoiceSetup) -> tuple[str, ...]:
        """What is scored after the context: the answer texts after a space, or the letters."""
        if setup.answer == "letter":
            return tuple(f"{setup.letter_prefix}{letter}" for letter in LETTERS[: len(sample.choices)])
        return tuple(f" {c}" for c in sample.choices)

    def prompt(self, sample: Sample, setup: Setup, few_shot: Sequence[Sample]) -> str:
        """The question for generation setups: the user's `prompt_template`, else the setup's (EvalScope's), after
        the few-shot header."""
        style = setup if isinstance(setup, LetterGeneration) else GENERATION_SETUP
        letters = ",".join(LETTERS[: len(sample.choices)])
        template = setup.prompt_template or style.template
        question = template.format(letters=letters, question=sample.input, choices=lettered(sample, ") "))
        if not few_shot:
            return question
        return style.few_shot_header.format(fewshot="\n\n".join(self.example(s) for s in few_shot)) + question

    def example(self, sample: Sample) -> str:
        """A solved exemplar of a generation prompt (EvalScope's `format_example`)."""
        return f"{sample.input}\n{lettered(sample, ') ')}\nANSWER: {sample.target}"

    def request(self, sample: Sample, setup: Setup, few_shot: Sequence[Sample]) -> Request:
        few_shot = setup.shots(few_shot)
        if setup.prompt is not None:
            return setup.prompt(sample, few_shot)
        if isinstance(setup, ChoiceSetup):
            return ChoiceRequest(self.context(sample, setup, few_shot), self.continuations(sample, setup))
        return GenerationRequest(self.prompt(sample, setup, few_shot))

    def score(self, sample: Sample, response: Response, setup: Setup) -> Scored:
        if setup.score is not None:
            return setup.score(sample, response)
        if isinstance(response, Completion):
            if isinstance(setup, LetterGeneration):  # EvalScope reads a template of the user's in English
                marker = "ANSWER" if setup.prompt_template else setup.marker
                letter = evalscope_letter(response.text, len(sample.choices), marker)
            else:
                letter = choice_letter(response.text, len(sample.choices))
            return Scored({m: float(letter == sample.target) for m in setup.metrics},
                          {m: letter for m in setup.metrics})
        assert isinstance(response, ChoiceLoglikelihoods) and isinstance(setup, ChoiceSetup)
        return self.score_loglikelihoods(sample, response.loglikelihoods, setup, int(sample.metadata["gold"]))

    def score_loglikelihoods(self, sample: Sample, lls: Sequence[float], setup: ChoiceSetup, gold: int) -> Scored:
        """acc: argmax of the summed log-probability; acc_norm: argmax of it divided by the continuation's
        length in characters, leading space included (lm-eval's definition)."""
        continuations = self.continuations(sample, setup)
        picks = {"acc": argmax(lls),
                 "acc_norm": argmax([ll / len(c) for ll, c in zip(lls, continuations, strict=True)])}
        metrics = {m: float(picks[m] == gold) for m in setup.metrics}
        return Scored(metrics, {m: LETTERS[picks[m]] for m in setup.metrics})


class LetterExam(MultipleChoice):
    """MMLU-style exams (MMLU, CMMLU, C-Eval). Loglikelihood setups: a subject line, then blocks of question,
    lettered options and an answer cue, few-shot blocks with their letter; the letters are scored after the cue.
    Generation setups: the base class's (EvalScope's) prompt. Data: one CSV per subject and split."""

    question_prefix = ""
    answer_cue = "Answer:"
    subject_names: Mapping[str, str] = {}
    columns: tuple[str, ...] = ("question", "A", "B", "C", "D", "answer")
    """Row fields holding the question, the four options and the answer letter."""
    header: tuple[str, ...] | None = None
    """Field names for files without a header row (None: the file's first line names them)."""

    def subject(self, subset: str) -> str:
        return self.subject_names.get(subset, subset.replace("_", " "))

    def description(self, subset: str) -> str:
        return f"The following are multiple choice questions (with answers) about {self.subject(subset)}.\n\n"

    def block(self, sample: Sample) -> str:
        return f"{self.question_prefix}{sample.input.strip()}\n{lettered(sample)}\n{self.answer_cue}"

    def context(self, sample: Sample, setup: ChoiceSetup, few_shot: Sequence[Sample]) -> str:
        shots = "".join(f"{self.block(s)}{setup.letter_prefix}{s.target}\n\n" for s in few_shot)
        return f"{self.description(sample.subset)}{shots}{self.block(sample)}"

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        question, a, b, c, d, answer = (str(v).strip() for v in fields(row, *self.columns))
        return mc_sample(question, [a, b, c, d], gold_index(answer, list("ABCD")))

    def rows(self, path: Path, split: str, subset: str) -> Iterator[tuple[str, Mapping[str, Any] | RowError]]:
        yield from read_csv(path / self.file_name(split, subset), self.header)

    def file_name(self, split: str, subset: str) -> str:
        return f"{subset}_{split}.csv"
