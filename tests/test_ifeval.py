"""IFEval: the four metrics and the per-instruction rows from real checks, the micro average, bad rows, a real run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evalscope import registry
from evalscope.config import RunConfig
from evalscope.report.tables import sample_frame, score_table
from evalscope.schema import Completion, Sample, SampleResult
from evalscope.stats import estimate
from evalscope.suite import Suite
from tests.conftest import alike_under_xdist

IFEVAL = registry.get("ifeval")


def sample(ids: list[str], kwargs: list[dict]) -> Sample:
    row = {"key": 1, "prompt": "Write about cats.", "instruction_id_list": ids, "kwargs": kwargs}
    return IFEVAL.to_sample(row)


def test_prompt_and_instruction_levels_strict_and_loose() -> None:
    cats = sample(["punctuation:no_comma", "startend:quotation", "change_case:english_lowercase"],
                  [{}, {}, {"unused": None}])  # an argument left empty (None) is dropped, as the reference does
    reply = 'sure, here it is:\n"cats sleep for most of the day, and they purr when they are happy"'
    scored = IFEVAL.score(cats, Completion(reply, 0, 0, "stop", ""), IFEVAL.setup())
    m = scored.metrics
    # strict: the commas and the unquoted first line break two of three; loose drops the first line, but a
    # comma stays (no variant removes it)
    assert (m["prompt_level_strict_acc"], m["inst_level_strict_acc"]) == (0.0, pytest.approx(1 / 3))
    assert (m["prompt_level_loose_acc"], m["inst_level_loose_acc"]) == (0.0, pytest.approx(2 / 3))
    assert m["strict:startend:quotation"] == 0.0 and m["loose:startend:quotation"] == 1.0
    assert scored.units == {"inst_level_strict_acc": 3, "inst_level_loose_acc": 3}
    followed = IFEVAL.score(cats, Completion('"cats sleep for most of the day and they purr when they are happy"',
                                             0, 0, "stop", ""), IFEVAL.setup())
    assert all(v == 1.0 for v in followed.metrics.values())
    empty = IFEVAL.score(cats, Completion("  ", 0, 0, "stop", ""), IFEVAL.setup())
    assert all(v == 0.0 for v in empty.metrics.values())  # an empty reply follows nothing, not even "no comma"


def test_instruction_level_is_a_micro_average_with_prompts_as_clusters() -> None:
    def result(i: int, followed: list[bool]) -> SampleResult:
        return SampleResult("ifeval", "default", f"default-{i:04d}", i, {"x": sum(followed) / len(followed)}, "x",
                            {}, "", "", "", 0, 0, "stop", units={"x": len(followed)} if len(followed) > 1 else {})

    verdicts = [[True, False, False], [True], [False, False], [True, True, True, True], [False]]
    table = score_table(sample_frame([result(i, v) for i, v in enumerate(verdicts)]))
    row = table.iloc[0]
    flat = [float(v) for vs in verdicts for v in vs]
    direct = estimate(flat, clusters=[i for i, vs in enumerate(verdicts) for _ in vs])
    assert row["score"] == pytest.approx(np.mean(flat)) == pytest.approx(6 / 11)  # not the mean of shares (0.47)
    assert row["n"] == 11 and row["stderr"] == pytest.approx(direct.stderr) and row["ci_method"] == "cluster-t"


def test_count_and_every_instruction_known(shared_data: Path) -> None:
    suite = Suite.load("ifeval", RunConfig(dataset_dir=shared_data))
    samples = [s for s in suite.samples if isinstance(s, Sample)]
    assert len(samples) == len(suite.samples) == 541
    assert sum(len(s.metadata["instruction_id_list"]) for s in samples) == 834  # the reference's instruction count
    assert suite.request(samples[0]).prompt == samples[0].input  # type: ignore[union-attr]


def test_a_bad_row_errors_its_own_item_with_file_and_line(run_suite, tmp_path: Path) -> None:
    rows = [{"key": i, "prompt": f"Say hi {i}.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
            for i in range(6)]
    rows[1]["instruction_id_list"] = ["keywords:telepathy"]
    rows[2]["kwargs"] = []
    rows[3]["kwargs"] = [{"num_words": 3}]
    rows[4]["kwargs"] = [5]
    (tmp_path / "ifeval").mkdir()
    path = tmp_path / "ifeval" / "input_data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = run_suite("--limit", "6", bench="ifeval", data=tmp_path)
    errors = {r["sample_id"]: r["error"] for r in run.records if "error" in r}
    assert errors == {"default-0001": f"{path}:2: unknown instruction 'keywords:telepathy'",
                      "default-0002": f"{path}:3: instruction_id_list and kwargs must be lists of the same, non-zero "
                                      "length",
                      "default-0003": f"{path}:4: punctuation:no_comma: unexpected kwargs ['num_words']",
                      "default-0004": f"{path}:5: every kwargs entry must be an object"}


def test_runs_end_to_end_with_instruction_rows_and_alike_under_xdist(run_suite, shared_data: Path) -> None:
    alone = alike_under_xdist(run_suite, "--limit", "6", bench="ifeval", data=shared_data)
    scores = {s["metric"]: s for s in alone.report["benchmarks"][0]["scores"]}
    records = [r for r in alone.records if "metrics" in r]
    instructions = [i for r in records for i in r["details"]["instructions"]]
    assert scores["inst_level_strict_acc"]["n"] == len(instructions) > len(records) == 6
    assert scores["inst_level_strict_acc"]["score"] == pytest.approx(
        sum(i["strict"] for i in instructions) / len(instructions))
    kinds = {i["id"] for i in instructions}
    assert {m.split(":", 1)[1] for m in scores if m.startswith("strict:")} == kinds
    assert alone.report["benchmarks"][0]["primary_metric"] == "prompt_level_strict_acc"
