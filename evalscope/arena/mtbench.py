"""MT-Bench's files as FastChat ships them (questions, reference answers, judge prompts), and the judge's messages
for one turn of a pair or of a single answer, built as FastChat builds them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalscope.rows import read_jsonl
from evalscope.schema import DataError, RowError

NEEDS_REFERENCE = frozenset({"math", "reasoning", "coding"})
"""The categories FastChat judges with the `-math-` prompts, which show the reference answer."""


@dataclass(frozen=True)
class Question:
    id: int
    category: str
    turns: tuple[str, ...]
    reference: tuple[str, ...] | None
    """The reference answer's turns (FastChat's gpt-4 answers), for the categories that need one."""


@dataclass(frozen=True)
class JudgePrompt:
    name: str
    kind: str
    """`pairwise` or `single`."""
    system: str
    template: str


def _lines(path: Path) -> list[tuple[str, Mapping[str, Any]]]:
    """(`file:line`, object) per JSON line; the first line that is not a JSON object stops with a DataError (these
    files are one set: a question missing would shift every comparison)."""
    rows = []
    for where, row in read_jsonl(path):
        if isinstance(row, RowError):
            raise DataError(f"{where}: {row}")
        rows.append((where, row))
    return rows


def load_questions(folder: Path) -> list[Question]:
    """`question.jsonl` with the reference answers of `reference_answer/gpt-4.jsonl` joined in."""
    references: dict[int, tuple[str, ...]] = {}
    for where, row in _lines(folder / "reference_answer" / "gpt-4.jsonl"):
        try:
            references[int(row["question_id"])] = tuple(str(t) for t in row["choices"][0]["turns"])
        except (KeyError, IndexError, TypeError, ValueError):
            raise DataError(f"{where}: needs question_id and choices[0].turns") from None
    questions = []
    for where, row in _lines(folder / "question.jsonl"):
        turns, category = row.get("turns"), row.get("category")
        if not isinstance(turns, list) or len(turns) != 2 or not isinstance(category, str) or "question_id" not in row:
            raise DataError(f"{where}: needs question_id, category and two turns")
        qid = int(row["question_id"])
        if category in NEEDS_REFERENCE and qid not in references:
            raise DataError(f"{where}: a {category} question without a reference answer")
        questions.append(Question(qid, category, tuple(map(str, turns)),
                                  references.get(qid) if category in NEEDS_REFERENCE else None))
    return questions


def load_judge_prompts(folder: Path) -> dict[str, JudgePrompt]:
    prompts = {}
    for where, row in _lines(folder / "judge_prompts.jsonl"):
        try:
            prompts[str(row["name"])] = JudgePrompt(str(row["name"]), str(row["type"]), str(row["system_prompt"]),
                                                    str(row["prompt_template"]))
        except KeyError as exc:
            raise DataError(f"{where}: missing field {exc.args[0]!r}") from None
    return prompts


def _prompt(prompts: Mapping[str, JudgePrompt], kind: str, question: Question, turn: int) -> JudgePrompt:
    # FastChat's names: pair-v2 / single-v1, the -math-v1 ones where a reference answer is shown
    version = "-math-v1" if question.reference else "-v2" if kind == "pairwise" else "-v1"
    name = ("pair" if kind == "pairwise" else "single") + version + ("-multi-turn" if turn == 2 else "")
    if name not in prompts:
        raise DataError(f"judge prompt {name!r} is not in judge_prompts.jsonl")
    return prompts[name]


def _references(question: Question, turn: int) -> dict[str, str]:
    if question.reference is None:
        return {}
    return {"ref_answer_1": question.reference[0]} | ({"ref_answer_2": question.reference[1]} if turn == 2 else {})


def pairwise_messages(prompts: Mapping[str, JudgePrompt], question: Question, answer_a: Sequence[str],
                      answer_b: Sequence[str], turn: int) -> tuple[str, str]:
    """(system, user) asking the judge which answer is better at `turn` (1 or 2; turn 2 shows the whole
    conversation of each)."""
    prompt = _prompt(prompts, "pairwise", question, turn)
    if turn == 1:
        fields = {"question": question.turns[0], "answer_a": answer_a[0], "answer_b": answer_b[0]}
    else:
        fields = {"question_1": question.turns[0], "question_2": question.turns[1], "answer_a_1": answer_a[0],
                  "answer_a_2": answer_a[1], "answer_b_1": answer_b[0], "answer_b_2": answer_b[1]}
    return prompt.system, prompt.template.format(**fields, **_references(question, turn))


def single_messages(prompts: Mapping[str, JudgePrompt], question: Question, answer: Sequence[str],
                    turn: int) -> tuple[str, str]:
    """(system, user) asking the judge to grade one answer 1-10 at `turn`."""
    prompt = _prompt(prompts, "single", question, turn)
    if turn == 1:
        fields = {"question": question.turns[0], "answer": answer[0]}
    else:
        fields = {"question_1": question.turns[0], "question_2": question.turns[1], "answer_1": answer[0],
                  "answer_2": answer[1]}
    return prompt.system, prompt.template.format(**fields, **_references(question, turn))
