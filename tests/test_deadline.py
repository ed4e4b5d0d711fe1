"""The checker deadline: checks that would run for ever (sympy on a tower of powers, IFEval on megabytes, a
backtracking regex) answer wrong in bounded time, are noted, and a run scoring such a reply finishes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evalscope import deadline
from evalscope.scoring.instructions import evaluate
from evalscope.scoring.math.mathverify import math_equal
from tests.conftest import REPO, TEST_DATA
from tests.openai_stub import MODEL

TOWER = "9^{9^{9^{9}}}"
HANG_GUARD_S = 300
"""How long a test waits for a check that should end at the default deadline (10 s) before calling it a hang: a
guard against hanging the suite, not a timing threshold."""


def _in_a_process(expression: str) -> object:
    """The value of `expression` (a check on a hostile input) computed in a fresh interpreter: before the deadline
    existed these calls never returned, and a test must fail, not hang."""
    code = ("import json\nfrom evalscope.scoring import extract, instructions\n"
            f"from evalscope.scoring.math import mathverify\nprint(json.dumps({expression}))")
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                              timeout=HANG_GUARD_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{expression[:60]}... did not return in {HANG_GUARD_S} s")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize(("expression", "wrong"), [
    (f"mathverify.math_equal({TOWER!r}, '2')", False),  # sympy evaluates the power
    # `\[.*?\]` scans to the end of the line from each of three million brackets
    ("instructions.evaluate('q', ['detectable_content:number_placeholders'], [{'num_placeholders': 1}], "
     "'[' * 3_000_000)", [[False], [False]]),
    ("extract.choice_letter('ANSWER:' + ' ' * 4000 + 'x', 4)", None),  # three whitespace runs backtrack: n^3
], ids=["math-verify-tower", "ifeval-megabytes", "answer-regex-spaces"])
def test_a_check_that_would_run_for_ever_answers_wrong_at_the_deadline(expression: str, wrong: object) -> None:
    assert _in_a_process(expression) == wrong


@pytest.fixture
def short_deadline() -> object:
    deadline.set_limit(1)
    yield
    deadline.set_limit(deadline.DEFAULT_LIMIT_S)


def test_a_timed_out_check_is_noted_and_the_next_check_gets_a_fresh_worker(short_deadline: object) -> None:
    with deadline.noting() as timed_out:
        assert math_equal(TOWER, "2") is False
        assert math_equal("\\frac12", "0.5") is True  # the killed worker was replaced
    assert timed_out == ["mathverify.math_equal"]


def test_a_check_raises_its_own_errors_and_answers_fast_cases() -> None:
    with pytest.raises(ValueError, match="1 instruction ids but 2 kwargs"):
        evaluate("q", ["punctuation:no_comma"], [{}, {}], "reply")
    with deadline.noting() as timed_out:
        assert evaluate("q", ["punctuation:no_comma"], [{}], "no commas here") == ([True], [True])
    assert timed_out == []


def test_a_boxed_tower_of_powers_scores_wrong_and_the_run_finishes(run_suite, openai_stub, tmp_path: Path) -> None:
    questions = [json.loads(line) for line in (TEST_DATA / "gsm8k" / "test.jsonl").read_text().splitlines()][:2]
    final = questions[1]["answer"].rpartition("####")[2].strip()
    answers = {questions[0]["question"]: f"Step by step: \\boxed{{{TOWER}}}",
               questions[1]["question"]: f"So it is \\boxed{{{final}}}."}
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers))
    stub = openai_stub("--answers", str(path))
    run = run_suite("--api-url", stub.base, "--limit", "2", "--dataset-args", '{"gsm8k": {"setup": "chat-boxed"}}',
                    model=MODEL, timeout=HANG_GUARD_S)
    assert run.result.ret == 0, run.result.stdout.str()
    tower, right = run.by_id()["main-0000"], run.by_id()["main-0001"]
    assert tower["metrics"] == {"acc": 0.0} and tower["correct"] is False and tower["cause"] == "checker timeout"
    assert tower["details"]["timed_out_checks"] == ["mathverify.math_equal"]
    assert right["correct"] is True and right["cause"] is None
    entry = run.report["benchmarks"][0]
    assert entry["checker_timeouts"] == 1 and run.report["run"]["checker_timeout_s"] == deadline.DEFAULT_LIMIT_S
    header = next(line for line in run.result.outlines if line.strip().startswith("benchmark"))
    assert header.split()[-2:] == ["checker", "timeouts"]


@pytest.mark.parametrize(("value", "message"), [("0", "*--checker-timeout: 0 must be positive*"),
                                                ("soon", "*--checker-timeout: 'soon' is not a number*")])
def test_a_bad_checker_timeout_is_a_usage_error(run_suite, value: str, message: str) -> None:
    run = run_suite("--limit", "1", "--checker-timeout", value)
    assert run.result.ret == 4 and run.records == []
    run.result.stderr.fnmatch_lines([message])
