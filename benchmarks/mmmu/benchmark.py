"""MMMU (Yue et al., 2023, arXiv:2311.16502): college exam questions about images in 30 subjects, multiple choice
and open answers; the validation split (the test split's answers are not public).

Hub layout (`MMMU/MMMU`, `AI-ModelScope/MMMU`): `<Subject>/validation-*.parquet` with `question`, `options` (a
Python list as text), `answer`, `question_type` (`multiple-choice` / `open`), `image_1` .. `image_7`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalscope.api import (
    LETTERS,
    Completion,
    DataError,
    GenerationRequest,
    LetterGeneration,
    MultipleChoice,
    RowError,
    Rows,
    Sample,
    Scored,
    Setup,
    answer_line,
    evalscope_letter,
    gold_index,
    mc_sample,
    placed,
    read_parquet,
    row_images,
    with_images,
)

DISCIPLINES = {
    "art_and_design": "Art Art_Theory Design Music",
    "business": "Accounting Economics Finance Manage Marketing",
    "science": "Biology Chemistry Geography Math Physics",
    "health_and_medicine": "Basic_Medical_Science Clinical_Medicine Diagnostics_and_Laboratory_Medicine Pharmacy "
                           "Public_Health",
    "humanities_and_social_science": "History Literature Psychology Sociology",
    "tech_and_engineering": "Agriculture Architecture_and_Engineering Computer_Science Electronics Energy_and_Power "
                            "Materials Mechanical_Engineering",
}
CATEGORIES = {subject: d for d, names in DISCIPLINES.items() for subject in names.split()}
MULTIPLE_CHOICE, OPEN = "multiple-choice", "open"

# EvalScope 1.14.1's open-question prompt (mmmu adapter), byte for byte: the setup reproduces its numbers.
OPEN_PROMPT = (
    '\nSolve the following problem step by step. The last line of your response should be of the form "ANSWER: '
    '[ANSWER]" (without quotes) where [ANSWER] is the answer to the problem.\n\n{question}\n\nRemember to put your '
    'answer on its own line at the end in the form "ANSWER: [ANSWER]" (without quotes) where [ANSWER] is the answer '
    'to the problem, and you do not need to use a \\boxed command.\n'
)
CUES = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
"""Words after which MMMU's reader takes a sentence's answer (and `=` in the last sentence)."""
NUMBERS = (re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b"), re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+"),
           re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])"))
"""Numbers with thousands commas, in scientific notation, plain: each kind looked for over the whole text (a
number may be found as more than one kind, e.g. `1,234` and `234`)."""


def normalized(text: str) -> list[str | float]:
    """MMMU's comparison form: a number rounded to 2 decimals, else lower case (one character padded with a space
    on either side, so that it matches only as a word)."""
    text = text.strip()
    try:
        return [round(float(text.replace(",", "")), 2)]
    except ValueError:
        text = text.lower()
        return [f" {text}", f"{text} "] if len(text) == 1 else [text]


def open_candidates(reply: str) -> list[str | float]:
    """The answers MMMU's reader finds in a reply: per line, the shortest tail after a cue word; the numbers in
    those; everything in comparison form."""
    lines = reply.strip().strip(".").lower().split("\n")
    tails = []
    for number, line in enumerate(lines):
        cues = (*CUES, "=") if number == len(lines) - 1 else CUES
        shortest: str | None = None
        for tail in (line.split(cue)[-1].strip() for cue in cues if cue in line):
            if not shortest or len(tail) < len(shortest):  # an empty tail gives way to the next one, as in MMMU's
                shortest = tail
        if shortest and shortest not in (":", ",", ".", "!", "?", ";", "'"):
            tails.append(shortest)
    tails = tails or [reply.strip().strip(".").lower()]
    found_numbers = [n for t in tails for kind in NUMBERS for n in kind.findall(t)]
    return list({c for text in (*tails, *found_numbers) for c in normalized(text)})


def open_correct(gold: str, reply: str) -> bool:
    """MMMU's open-answer check: a gold text inside a candidate text, or a gold number equal to a candidate."""
    answers = ast.literal_eval(gold) if gold.startswith("[") else [gold]
    wanted = [n for a in answers for n in normalized(str(a))]
    for candidate in open_candidates(reply):
        if isinstance(candidate, str) and any(isinstance(w, str) and w in candidate for w in wanted):
            return True
        if not isinstance(candidate, str) and candidate in wanted:
            return True
    return False


class MMMU(MultipleChoice):
    version = "1"
    splits = {"validation": "."}
    eval_split = "validation"
    hub = {"modelscope": "AI-ModelScope/MMMU", "huggingface": "MMMU/MMMU"}
    subsets = tuple(sorted(CATEGORIES))
    categories = CATEGORIES
    setups = (LetterGeneration("evalscope", "EvalScope 1.14.1 mmmu: multiple choice in its chain-of-thought letter "
                               "template, open questions in its 'ANSWER: [ANSWER]' prompt, images in place of "
                               "`<image N>`; letters read after 'ANSWER:', open answers by MMMU's own rules"),)

    def rows(self, path: Path, split: str, subset: str) -> Rows:
        files = sorted((path / subset).glob(f"{split}-*.parquet"))
        if not files:
            raise DataError(f"mmmu: no {subset}/{split}-*.parquet under {path}")
        for file in files:
            yield from read_parquet(file)

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        kind, question, answer = row.get("question_type"), str(row.get("question") or ""), str(row.get("answer"))
        if kind == MULTIPLE_CHOICE:
            choices = [str(o) for o in ast.literal_eval(str(row.get("options") or "[]"))]
            sample = mc_sample(question, choices, gold_index(answer, LETTERS[: len(choices)]))
        elif kind == OPEN:
            sample = Sample(question, answer)
        else:
            raise RowError(f"question_type {kind!r} is neither {MULTIPLE_CHOICE!r} nor {OPEN!r}")
        sample = with_images(sample, row_images(row))
        return Sample(sample.input, sample.target, sample.choices, {**sample.metadata, "question_type": kind,
                      "mmmu_id": row.get("id"), "subfield": row.get("subfield")}, images=sample.images)

    def request(self, sample: Sample, setup: Setup, few_shot: Sequence[Sample]) -> GenerationRequest:
        if sample.metadata["question_type"] == OPEN:
            return placed(OPEN_PROMPT.format(question=sample.input), sample)
        return placed(self.prompt(sample, setup, ()), sample)

    def score(self, sample: Sample, response: Any, setup: Setup) -> Scored:
        assert isinstance(response, Completion)
        if sample.metadata["question_type"] == OPEN:
            said = answer_line(response.text)
            said = response.text.strip() if said is None else said
            return Scored({"acc": float(open_correct(sample.target, said))}, {"acc": said})
        letter = evalscope_letter(response.text, len(sample.choices))
        return Scored({"acc": float(letter == sample.target)}, {"acc": letter})
