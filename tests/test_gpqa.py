"""GPQA-Diamond: read from its archive in memory, options in a per-question order, domains, a real run."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from evalscope import registry
from evalscope.config import RunConfig
from evalscope.schema import Sample
from evalscope.suite import Suite

GPQA = registry.get("gpqa_diamond")


def test_the_order_depends_on_the_question_alone() -> None:
    from evalscope_benchmarks.gpqa_diamond import shuffled  # type: ignore[import-not-found]
    first = shuffled("Which is it?", "right", ["w1", "w2", "w3"])
    assert first == shuffled("Which is it?", "right", ["w1", "w2", "w3"])  # reproducible, in any run order
    orders = {tuple(shuffled(f"Question {i}?", "right", ["w1", "w2", "w3"])[0]) for i in range(40)}
    assert len(orders) > 10  # and it differs from question to question
    options, gold = first
    assert options[gold] == "right" and sorted(options) == ["right", "w1", "w2", "w3"]


def test_counts_domains_and_answer_positions(shared_data: Path) -> None:
    suite = Suite.load("gpqa_diamond", RunConfig(dataset_dir=shared_data))
    samples = [s for s in suite.samples if isinstance(s, Sample)]
    assert len(samples) == len(suite.samples) == 198
    assert Counter(GPQA.category(s) for s in samples) == {"Chemistry": 93, "Physics": 86, "Biology": 19}
    positions = Counter(s.target for s in samples)
    assert set(positions) == set("ABCD") and max(positions.values()) < 80  # not always the last option


def test_a_broken_archive_is_one_line(run_suite, tmp_path: Path) -> None:
    (tmp_path / "gpqa").mkdir()
    (tmp_path / "gpqa" / "gpqa_diamond.zip").write_bytes(b"not a zip")
    run = run_suite(bench="gpqa_diamond", data=tmp_path)
    assert run.result.ret != 0
    run.result.stdout.fnmatch_lines(["*gpqa_diamond.zip: cannot read gpqa_diamond.csv (BadZipFile: *"])
    run.result.stdout.no_fnmatch_line("*Traceback*")


def test_both_setups_run_end_to_end_and_alike_under_xdist(run_suite, shared_data: Path) -> None:
    for setup in ("loglikelihood", "generation"):
        args = ("--limit", "3", "--dataset-args", json.dumps({"gpqa_diamond": {"setup": setup}}))
        alone = run_suite(*args, bench="gpqa_diamond", data=shared_data)
        spread = run_suite(*args, "-n", "2", "--eval-batch-size", "1", bench="gpqa_diamond", data=shared_data)
        assert alone.result.ret == spread.result.ret == 0, alone.result.stdout.str()
        assert {k: r["metrics"] for k, r in alone.by_id().items()} == \
            {k: r["metrics"] for k, r in spread.by_id().items()}
        assert {r["category"] for r in alone.records} <= {"Chemistry", "Physics", "Biology"}
        assert not list(alone.work_dir.rglob("*.csv"))  # the archive is read in memory only
