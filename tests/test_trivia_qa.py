"""TriviaQA: alias matching, exemplars that are never the question asked, bad rows, a real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalscope import registry
from evalscope.config import RunConfig
from evalscope.schema import Completion, Sample
from evalscope.suite import Suite
from tests.conftest import alike_under_xdist

TRIVIA = registry.get("trivia_qa")
SAMPLE = Sample("Which vegetable?", "Onion", metadata={"aliases": ["Bulb onion", "Allium cepa"]})


@pytest.mark.parametrize(("reply", "exact", "f1"), [
    (" onion", 1.0, 1.0),
    ("ALLIUM CEPA!", 1.0, 1.0),  # any alias, case and punctuation ignored
    ("a bulb onion", 0.0, 1.0),  # not exact (the article stays), but every token of an alias
    ("red onion", 0.0, pytest.approx(2 / 3)),
    ("leek", 0.0, 0.0),
])
def test_the_answer_is_checked_against_every_alias(reply: str, exact: float, f1: float) -> None:
    assert TRIVIA.score(SAMPLE, Completion(reply, 0, 0, "stop", ""), TRIVIA.setup()).metrics == \
        {"exact_match": exact, "f1": f1}


def test_count_and_exemplars_are_other_questions(shared_data: Path) -> None:
    suite = Suite.load("trivia_qa", RunConfig(dataset_dir=shared_data))
    samples = [s for s in suite.samples if isinstance(s, Sample)]
    assert len(samples) == len(suite.samples) == 3000
    for sample in samples[:300]:
        shots = suite.few_shot(sample)
        assert len(shots) == 5 and sample.index not in {s.index for s in shots}
    prompt = suite.request(samples[0]).prompt  # type: ignore[union-attr]
    assert prompt.count("Question: ") == 6 and prompt.endswith(f"Question: {samples[0].input}\nAnswer:")


def test_a_bad_row_errors_its_own_item_with_file_and_line(run_suite, tmp_path: Path) -> None:
    rows = [{"context": f"Question: Q{i}?\nAnswer:", "answer": f"A{i}", "aliases": [f"A{i}"]} for i in range(7)]
    rows[2] = {"context": "Question: Q2?\nAnswer:", "answer": "A2"}
    (tmp_path / "triviaqa").mkdir()
    path = tmp_path / "triviaqa" / "triviaqa_sm_sub.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = run_suite("--limit", "3", bench="trivia_qa", data=tmp_path)
    errors = {r["sample_id"]: r["error"] for r in run.records if "error" in r}
    assert errors == {"default-0002": f"{path}:3: missing field 'aliases'"}


def test_runs_end_to_end_and_alike_under_xdist(run_suite, shared_data: Path) -> None:
    alone = alike_under_xdist(run_suite, "--limit", "3", bench="trivia_qa", data=shared_data)
    assert set(alone.records[0]["metrics"]) == {"exact_match", "f1"}
    assert alone.report["benchmarks"][0]["primary_metric"] == "exact_match"
