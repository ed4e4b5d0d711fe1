"""RACE: counts, article clusters, bad rows, a real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalscope.config import RunConfig, parse_dataset_args
from evalscope.schema import ChoiceRequest, Sample
from evalscope.stats import CLUSTER_KEY
from evalscope.suite import Suite


def test_counts_and_article_clusters(shared_data: Path) -> None:
    suite = Suite.load("race", RunConfig(dataset_dir=shared_data))
    samples = [s for s in suite.samples if isinstance(s, Sample)]
    assert suite.subsets == ("middle",) and len(samples) == len(suite.samples) == 1436
    articles = {s.metadata[CLUSTER_KEY] for s in samples}
    assert 300 < len(articles) < 1436  # several questions per article, each article one cluster
    assert all(s.input.startswith("Article:\n") and "\nQuestion:\n" in s.input for s in samples)


def test_a_bad_row_errors_its_own_item_with_file_and_line(run_suite, tmp_path: Path) -> None:
    good = {"example_id": "m1.txt", "article": "Tom has a cat.", "question": "What does Tom have?",
            "options": ["a dog", "a cat", "a cow", "a hen"], "answer": "B"}
    folder = tmp_path / "race"
    folder.mkdir()
    path = folder / "test_middle.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "answer": "E"}) + "\n"
                    + json.dumps({k: v for k, v in good.items() if k != "options"}) + "\n")
    run = run_suite("--limit", "5", bench="race", data=tmp_path)
    errors = {r["sample_id"]: r["error"] for r in run.records if "error" in r}
    assert errors == {"middle-0001": f"{path}:2: answer 'E' is not one of the choice labels ['A', 'B', 'C', 'D']",
                      "middle-0002": f"{path}:3: missing field 'options'"}


def test_runs_end_to_end_clustered_and_alike_under_xdist(run_suite, shared_data: Path) -> None:
    alone = run_suite("--limit", "6", bench="race", data=shared_data)
    spread = run_suite("--limit", "6", "-n", "2", "--eval-batch-size", "1", bench="race", data=shared_data)
    assert alone.result.ret == spread.result.ret == 0, alone.result.stdout.str()
    for sample_id, record in alone.by_id().items():
        assert record["loglikelihoods"] == pytest.approx(spread.by_id()[sample_id]["loglikelihoods"], abs=1e-5)
        assert record["cluster"].startswith("middle") and record["choices"] == [" A", " B", " C", " D"]
    assert len({r["cluster"] for r in alone.records}) < len(alone.records)  # shared articles among the first six


def test_lm_eval_setup_asks_each_articles_last_question_after_the_others_answered(tmp_path: Path) -> None:
    rows = [{"example_id": "m1.txt", "article": "Tom has a cat.", "question": q, "options": o, "answer": a}
            for q, o, a in [("What does Tom have?", ["a dog", "a cat", "a cow", "a hen"], "B"),
                            ("Tom's cat is   _  .", ["black", "white", "grey", "red"], "C"),
                            ("Who is Tom?", ["a boy", "a cat", "a dog", "a bird"], "A")]]
    rows.append({**rows[0], "example_id": "m2.txt", "article": "Ann runs."})
    (tmp_path / "race").mkdir()
    (tmp_path / "race" / "test_middle.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = parse_dataset_args('{"race": {"setup": "lm-eval"}}')
    suite = Suite.load("race", RunConfig(dataset_dir=tmp_path, dataset_args=args))
    first, second = suite.samples
    assert isinstance(first, Sample) and isinstance(second, Sample)
    request = suite.request(first)
    assert isinstance(request, ChoiceRequest)
    # the fill-in question is completed in place; the last question is bare, its answers follow after a space
    assert request.context == ("Article: Tom has a cat.\n\nQuestion: What does Tom have?\nAnswer: a cat\n"
                               "Tom's cat is  grey\nWho is Tom?")
    assert request.continuations == (" a boy", " a cat", " a dog", " a bird") and first.target == "A"
    assert second.input == "Article: Ann runs.\n\nWhat does Tom have?" and second.target == "B"


def test_lm_eval_setup_errors_an_article_whose_earlier_answer_is_bad(run_suite, tmp_path: Path) -> None:
    rows = [{"example_id": f"m{i // 2}.txt", "article": f"Text {i // 2}.", "question": f"Q{i}?",
             "options": ["a", "b", "c", "d"], "answer": "B"} for i in range(4)]
    rows[0]["answer"] = "F"  # an earlier question of the first article: its answer goes into the context
    (tmp_path / "race").mkdir()
    path = tmp_path / "race" / "test_middle.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = run_suite("--dataset-args", '{"race": {"setup": "lm-eval"}}', bench="race", data=tmp_path)
    errors = {r["sample_id"]: r["error"] for r in run.records if "error" in r}
    assert errors == {"middle-0000": f"{path}:2: answer 'F' is not one of the choice labels ['A', 'B', 'C', 'D']"}
    assert len(run.records) == 2


def test_lm_eval_setup_counts_articles(shared_data: Path) -> None:
    args = parse_dataset_args('{"race": {"setup": "lm-eval"}}')
    assert len(Suite.load("race", RunConfig(dataset_dir=shared_data, dataset_args=args)).samples) == 362
