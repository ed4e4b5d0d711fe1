"""Judge metrics: verdict reading, Krippendorff's alpha against a direct computation, and a judge-scored setup run
end to end against stub judges (unreadable verdicts counted, tokens summed, agreement, cache, bad SPECs)."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from evalscope.config import ConfigError, RunConfig
from evalscope.judging.agreement import alpha
from evalscope.judging.metric import read_label, reference_grader
from evalscope.judging.panel import judges_of
from evalscope.schema import Sample


@pytest.mark.parametrize(("reply", "label"), [
    ("CORRECT", "CORRECT"),
    ("The answer is INCORRECT.", "INCORRECT"),  # never read as CORRECT inside INCORRECT
    ("Not attempted", "NOT_ATTEMPTED"),
    ("It could be CORRECT, but on reflection: INCORRECT", "INCORRECT"),  # its conclusion, the last label
    ("incorrectly phrased, yet correct", "CORRECT"),
    ("I cannot tell.", None),
    ("", None),
])
def test_reference_labels(reply: str, label: str | None) -> None:
    assert read_label(reply) == label


def test_reference_grader_asks_the_question_not_a_long_context() -> None:
    grader = reference_grader(aliases="aliases")
    sample = Sample("<a long document>", "Paris", metadata={"question": "Capital of France?", "aliases": ["paris"]})
    prompt = grader.ask(sample, " Paris. ").prompt
    assert "Capital of France?" in prompt and "<a long document>" not in prompt
    assert "Reference answer: Paris / paris" in prompt and "Answer to grade: Paris." in prompt
    assert grader.value("CORRECT") == 1.0 and grader.value("NOT_ATTEMPTED") == 0.0


def direct_alpha(data: list[list[float | None]], interval: bool) -> float:
    """Krippendorff's alpha from its definition: 1 - D_o / D_e over the pairable values (units rated twice or
    more), each ordered pair of values within a unit weighted 1 / (m_u - 1)."""
    def delta(a: float, b: float) -> float:
        return (a - b) ** 2 if interval else float(a != b)

    units = [[v for v in column if v is not None] for column in zip(*data, strict=True)]
    units = [u for u in units if len(u) >= 2]
    n = sum(len(u) for u in units)
    observed = sum(delta(a, b) / (len(u) - 1) for u in units for a, b in itertools.permutations(u, 2)) / n
    values = [v for u in units for v in u]
    expected = sum(delta(a, b) for a, b in itertools.permutations(values, 2)) / (n * (n - 1))
    return 1 - observed / expected


@pytest.mark.parametrize("level", ["nominal", "interval"])
def test_alpha_agrees_with_a_direct_computation(level: str) -> None:
    rng = np.random.default_rng(7)
    for _ in range(5):
        truth = rng.integers(1, 5, size=12)
        raters = [[None if rng.random() < 0.15 else float(t if rng.random() < 0.7 else rng.integers(1, 5))
                   for t in truth] for _ in range(3)]
        given = [{f"s{i}": v for i, v in enumerate(row)} for row in raters]
        got = alpha(given, level)
        assert got["raters"] == 3 and got["alpha"] == pytest.approx(direct_alpha(raters, level == "interval"))


def test_alpha_on_labels_and_undefined_cases() -> None:
    a = {"x": "CORRECT", "y": "INCORRECT", "z": "CORRECT"}
    b = {"x": "CORRECT", "y": "NOT_ATTEMPTED", "z": None}  # z unreadable for b: left out, not a disagreement
    coded = [[0, 1, 0], [0, 2, None]]
    assert alpha([a, b], "nominal")["alpha"] == pytest.approx(direct_alpha(coded, False))  # type: ignore[arg-type]
    assert alpha([a], "nominal")["alpha"] is None
    same = alpha([{"x": "CORRECT"}, {"x": "CORRECT"}], "nominal")
    assert same["alpha"] is None and "same" in same["why"]


def _stub_answers(tmp_path: Path, name: str, answers: dict[str, str]) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(answers))
    return str(path)


def test_judge_setup_end_to_end_with_two_stub_judges(run_suite, openai_stub, tmp_path: Path) -> None:
    """general_qa's judge setup, two judges: one grades every answer, the other writes one unreadable verdict.
    The unreadable verdict is excluded and counted; tokens add up; agreement is reported; a cached rerun asks
    neither judge again."""
    first = openai_stub("--answers", _stub_answers(tmp_path, "a", {
        "Reference answer: Paris": "CORRECT", "Reference answer: Rome": "INCORRECT"}))
    second = openai_stub("--answers", _stub_answers(tmp_path, "b", {
        "Reference answer: Paris": "CORRECT", "Reference answer: Rome": "NOT_ATTEMPTED"}))
    args = ("--dataset-args", '{"general_qa": {"setup": "judge"}}', "--judge", json.dumps({"api_url": first.base}),
            "--judge", json.dumps({"api_url": second.base}), f"--use-cache={tmp_path / 'cache'}")
    run = run_suite(*args, bench="general_qa")
    assert run.result.ret == 0, run.result.stdout.str()
    by_id = run.by_id()
    assert by_id["capitals-0000"]["metrics"]["judge_correct"] == 1.0
    assert by_id["capitals-0001"]["metrics"]["judge_correct"] == 0.0
    # 北京: both judges' replies ("I do not know.") are unreadable: the sample goes unscored, never scored 0
    china = by_id["capitals-0002"]
    assert [e["verdict"] for e in china["details"]["judge"]["entries"]] == [None, None]
    assert "judge_correct" not in china["metrics"] and china["metrics"]["exact_match"] == 0.0
    (bench,) = run.report["benchmarks"]
    summary = bench["judge_summary"]
    assert (summary["verdicts"], summary["unreadable"], summary["unscored_samples"]) == (6, 2, 1)
    judged = next(s for s in bench["scores"] if s["metric"] == "judge_correct")
    assert (judged["n"], judged["score"]) == (2, 0.5)  # Paris right, Rome wrong; 北京 not among them
    posts = first.posts() + second.posts()
    chats = [p for p in posts if p.get("path", "").endswith("/chat/completions")]
    assert len(chats) == 6
    assert summary["prompt_tokens"] > 0 and summary["completion_tokens"] == sum(
        len(e["reply"]) for r in run.records for e in r["details"]["judge"]["entries"])  # the stub: a char a token
    between = summary["agreement"]["between_judges"]
    assert between["raters"] == 2 and between["units"] == 2  # 北京 has no readable verdict
    assert between["alpha"] == pytest.approx(direct_alpha([[0, 1], [0, 2]], False))
    assert Counter(bench["setup"]["metrics"])["judge_correct"] == 1 and bench["judge"]["repeats"] == 1

    again = run_suite(*args, bench="general_qa")
    assert again.result.ret == 0
    assert len([p for p in first.posts() + second.posts() if p.get("path", "").endswith("/chat/completions")]) == 6
    assert [r["details"]["judge"] for r in again.records] == [r["details"]["judge"] for r in run.records]


def test_a_judged_setup_without_a_judge_is_one_line(run_suite) -> None:
    run = run_suite("--dataset-args", '{"general_qa": {"setup": "judge"}}', bench="general_qa")
    assert run.result.ret == 2
    run.result.stdout.fnmatch_lines(["*general_qa: setup 'judge' is scored by a judge (judge_correct): give --judge*"])


@pytest.mark.parametrize(("judges", "repeats", "message"), [
    (("rule",), 1, "--judge rule: the rule judge is the arena's"),
    (('{"modle": "x"}',), 1, "--judge 1: unknown key 'modle'"),
    (("default", '{"model": 3'), 1, "--judge 2: invalid JSON"),
    (("default",), 3, "--judge-repeats 3: a greedy judge says the same every time"),
])
def test_bad_judge_settings_are_one_line(judges: tuple[str, ...], repeats: int, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        judges_of(RunConfig(judges=judges, judge_repeats=repeats))
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_sampling_judges_may_repeat() -> None:
    sampled = json.dumps({"model": None, "generation_config": {"do_sample": True, "temperature": 0.7}})
    (judge,) = judges_of(RunConfig(judges=(sampled,), judge_repeats=2))
    assert judge.run.generation.do_sample and judge.run.model is None  # the embedded model
