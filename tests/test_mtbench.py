"""MT-Bench's files read as FastChat ships them, and judge messages built as FastChat builds them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalscope.arena.mtbench import load_judge_prompts, load_questions, pairwise_messages, single_messages
from evalscope.schema import DataError


@pytest.fixture(scope="module")
def mt_bench(shared_data: Path) -> Path:
    folder = shared_data / "mt_bench"
    if not folder.is_dir():
        pytest.skip(f"no MT-Bench data under {shared_data}")
    return folder


def test_questions_categories_and_references(mt_bench: Path) -> None:
    questions = load_questions(mt_bench)
    assert len(questions) == 80 and all(len(q.turns) == 2 for q in questions)
    per_category = {c: sum(q.category == c for q in questions) for c in {q.category for q in questions}}
    assert set(per_category.values()) == {10} and len(per_category) == 8
    with_reference = [q for q in questions if q.reference is not None]
    assert {q.category for q in with_reference} == {"math", "reasoning", "coding"} and len(with_reference) == 30


def test_pairwise_messages_follow_fastchat(mt_bench: Path) -> None:
    prompts, questions = load_judge_prompts(mt_bench), load_questions(mt_bench)
    writing = next(q for q in questions if q.category == "writing")
    system, user = pairwise_messages(prompts, writing, ["A one", "A two"], ["B one", "B two"], turn=1)
    assert system == prompts["pair-v2"].system and user.startswith(f"[User Question]\n{writing.turns[0]}")
    assert "A one" in user and "B one" in user and "A two" not in user
    math = next(q for q in questions if q.category == "math")
    assert math.reference is not None
    system, user = pairwise_messages(prompts, math, ["A one", "A two"], ["B one", "B two"], turn=2)
    assert system == prompts["pair-math-v1-multi-turn"].system
    assert math.turns[1] in user and math.reference[1] in user and "A two" in user and "B two" in user
    assert "{" + "answer" not in user  # every placeholder filled


def test_single_messages_grade_one_answer(mt_bench: Path) -> None:
    prompts, questions = load_judge_prompts(mt_bench), load_questions(mt_bench)
    coding = next(q for q in questions if q.category == "coding")
    assert coding.reference is not None
    system, user = single_messages(prompts, coding, ["mine", "mine again"], turn=1)
    assert system == prompts["single-math-v1"].system and "mine" in user and coding.reference[0] in user
    _, user = single_messages(prompts, next(q for q in questions if q.category == "stem"), ["x", "y"], turn=2)
    assert "x" in user and "y" in user


def test_a_bad_line_names_its_file_and_line(mt_bench: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mt_bench"
    shutil.copytree(mt_bench, folder)
    lines = (folder / "question.jsonl").read_text().splitlines()
    lines[2] = json.dumps({"question_id": 83, "category": "writing", "turns": ["only one"]})
    (folder / "question.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"question.jsonl:3: needs question_id, category and two turns"):
        load_questions(folder)


def test_a_line_that_is_not_json_names_its_line(mt_bench: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mt_bench"
    shutil.copytree(mt_bench, folder)
    with (folder / "judge_prompts.jsonl").open("a") as file:
        file.write("{not json\n")
    with pytest.raises(DataError, match=r"judge_prompts.jsonl:9: invalid JSON"):
        load_judge_prompts(folder)
