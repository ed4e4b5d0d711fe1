"""MATH and MATH-500: answer extraction and equivalence on the nasty cases, counts, levels, bad rows, a real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalscope.config import RunConfig
from evalscope.kinds.math import LEVELS, SUBJECTS, math_score
from evalscope.schema import Completion, Sample
from evalscope.scoring.extract import last_boxed
from evalscope.scoring.math.hendrycks import is_equiv, normalize
from evalscope.scoring.math.mathverify import math_answer, math_equal
from evalscope.suite import Suite
from tests.conftest import alike_under_xdist


@pytest.mark.parametrize(("answer", "target", "strict", "verified"), [
    ("\\frac12", "0.5", True, True),
    ("\\dfrac{1}{2}", "\\frac{1}{2}", True, True),
    ("5 \\text{ cm}", "5", True, True),
    ("x = 3", "3", True, True),
    ("\\sqrt3", "\\sqrt{3}", True, True),
    ("3/4", "\\frac34", True, True),
    ("10\\%", "10", True, True),
    ("\\{1, 2\\}", "\\{2, 1\\}", False, True),  # a set in another order: only Math-Verify sees it
    ("(0, 1]", "(0,1]", True, True),
    ("(0, 1]", "[0, 1]", False, False),  # an interval with another bound is another answer
    ("2\\pi", "6.28", False, False),
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", False, True),
    ("B", "(B)", False, True),  # Math-Verify reads the parentheses as grouping; the string match does not
    ("50%", "50", False, True),  # the paper's code removes "\\%" only
    ("\\frac{1}2", "\\frac{1}{2}", False, True),  # ... and braces single arguments only when neither has them
    ("-3/4", "-\\frac{3}{4}", False, True),  # -3/4 becomes \frac{-3}{4}, not -\frac{3}{4}
])
def test_answers_compare_like_math_verify_and_like_the_paper(answer: str, target: str, strict: bool,
                                                             verified: bool) -> None:
    assert is_equiv(answer, target) is strict
    assert math_equal(answer, target) is verified


def test_last_boxed_takes_the_last_balanced_box() -> None:
    assert last_boxed("first \\boxed{1}, then \\boxed{\\frac{1}{2}}.") == "\\frac{1}{2}"
    assert last_boxed("\\fbox{7}") == "7" and last_boxed("so \\boxed 5$.") == "5"
    assert last_boxed("cut off \\boxed{\\frac{1}{2") is None and last_boxed("no box") is None
    assert normalize("\\left( 3, \\frac{\\pi}{2} \\right)") == "(3,\\frac{\\pi}{2})"


def test_the_two_metrics_read_different_answers() -> None:
    sample = Sample("q", "6", id="algebra-0000")
    right_late = math_score(sample, Completion("We get $2+4$, so \\boxed{6}.", 0, 0, "stop", ""))
    assert right_late.metrics == {"acc": 1.0, "acc_strict": 1.0} and right_late.extracted["acc_strict"] == "6"
    unboxed = math_score(sample, Completion("The answer is $6$.", 0, 0, "stop", ""))
    assert unboxed.metrics == {"acc": 1.0, "acc_strict": 0.0}  # MATH's check needs the box; Math-Verify does not
    assert math_answer("no answer here") == ""


@pytest.mark.parametrize(("name", "total", "per_subject"), [
    ("competition_math", 5000, {"algebra": 1187, "intermediate_algebra": 903, "prealgebra": 871, "precalculus": 546,
                                "number_theory": 540, "geometry": 479, "counting_and_probability": 474}),
    ("math_500", 500, {"algebra": 124, "intermediate_algebra": 97, "prealgebra": 82, "number_theory": 62,
                       "precalculus": 56, "geometry": 41, "counting_and_probability": 38}),
])
def test_counts_levels_and_reference_answers(shared_data: Path, name: str, total: int,
                                             per_subject: dict[str, int]) -> None:
    suite = Suite.load(name, RunConfig(dataset_dir=shared_data))
    samples = [s for s in suite.samples if isinstance(s, Sample)]
    assert len(samples) == len(suite.samples) == total
    assert {subset: sum(s.subset == subset for s in samples) for subset in SUBJECTS} == per_subject
    assert {suite.bench.category(s) for s in samples} == set(LEVELS)
    if name == "math_500":  # its reference solutions end in the stored answer: both checks must accept them
        verdicts = [math_score(s, Completion(s.metadata["solution"], 0, 0, "stop", "")).metrics for s in samples[:60]]
        assert all(v["acc_strict"] == 1.0 for v in verdicts)
        assert sum(v["acc"] for v in verdicts) >= 57, "Math-Verify rejects the reference solutions"


def test_a_bad_row_errors_its_own_item_with_file_and_line(run_suite, tmp_path: Path) -> None:
    rows = [{"problem": "1+1?", "level": "Level 1", "type": "Algebra", "solution": "$\\boxed{2}$"},
            {"problem": "2+2?", "level": "Level 9", "type": "Algebra", "solution": "$\\boxed{4}$"},
            {"problem": "3+3?", "level": "Level 2", "type": "Algebra", "solution": "six"},
            {"problem": "4+4?", "level": "Level 2", "type": "Cooking", "solution": "$\\boxed{8}$"}]
    folder = tmp_path / "math"
    folder.mkdir()
    path = folder / "test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"problem": "cut\n')
    run = run_suite("--limit", "5", bench="competition_math", data=tmp_path)
    errors = {r["sample_id"]: r["error"] for r in run.records if "error" in r}
    assert errors == {"algebra-0001": f"{path}:2: level 'Level 9' is not 1-5",
                      "algebra-0002": f"{path}:3: solution has no \\boxed{{}} answer",
                      "algebra-0003": f"{path}:4: unknown type 'Cooking'",
                      "algebra-0004": f"{path}:5: invalid JSON (Unterminated string starting at column 13)"}
    assert [r["sample_id"] for r in run.records if "metrics" in r] == ["algebra-0000"]


def test_math_500_runs_end_to_end_with_level_rows_and_alike_under_xdist(run_suite, shared_data: Path) -> None:
    args = ("--limit", "2", "--dataset-args", json.dumps({"math_500": {"subset_list": ["algebra", "geometry"]}}))
    alone = alike_under_xdist(run_suite, *args, bench="math_500", data=shared_data)
    record = alone.by_id()["algebra-0000"]
    assert record["prompt"].count("Please reason step by step, and put your final answer within \\boxed{}.") == 1
    assert set(record["metrics"]) == {"acc", "acc_strict"} and record["category"] in LEVELS
    rows = {(s["subset"], s["level"]) for s in alone.report["benchmarks"][0]["scores"]}
    assert {("algebra", "subset"), ("geometry", "subset"), ("OVERALL", "overall")} <= rows
    assert any(level == "category" and subset.startswith("Level ") for subset, level in rows)


@pytest.mark.parametrize(("reply_answer", "target", "equal"), [
    ("$\\frac12$", "0.5", True),  # \frac12 -> \frac{1}{2}, then sympy: 1/2 - 0.5 = 0
    ("$\\dfrac{1}{2}$", "\\frac{1}{2}", True),
    ("$5$ cm", "5", True),  # a unit word goes
    ("$x = 3$", "3", True),  # the right-hand side of the last '='
    ("$\\left( 3, \\frac{\\pi}{2} \\right)$", "\\left(3,\\frac{\\pi}{2}\\right)", True),  # \left keeps its "ft"
    ("$10{,}000$", "10000", True),
    ("$0,1$", "1", False),  # a tuple is not fused into the number 01
    ("$\\text{(B)}$", "(B)", True),
    ("$2\\pi$", "6.28", False),
])
def test_minerva_reads_the_final_answer_line_and_normalises_it(reply_answer: str, target: str, equal: bool) -> None:
    from evalscope.scoring.math.minerva import equivalent, final_answer, normalize_final_answer

    reply = f"Some work.\nFinal Answer: The final answer is {reply_answer}. I hope it is correct."
    answer = normalize_final_answer(final_answer(reply))
    assert equivalent(answer, normalize_final_answer(target)) is equal


def test_minerva_without_the_answer_line_is_invalid_and_a_line_cut_after_its_period_counts() -> None:
    from evalscope.scoring.math.minerva import NO_ANSWER, final_answer

    assert final_answer("The answer is \\boxed{4}.") == NO_ANSWER
    assert final_answer("Final Answer: The final answer is $4$. ") == "$4$"  # stopped before "I hope it is correct."
    assert final_answer("Final Answer: The final answer is $4$") == NO_ANSWER  # as lm-eval: no ". " after it


def test_minerva_setup_prompt_has_four_fixed_exemplars_and_scores_both_metrics() -> None:
    from evalscope.kinds.math import MINERVA

    sample = Sample("What is $1+1$?", "2", metadata={"solution": "$1+1=\\boxed{2}$."}, id="algebra-0000")
    request = MINERVA.prompt(sample, MINERVA.shots(()))  # type: ignore[misc]
    assert request.prompt.count("Problem:\n") == 5 and request.prompt.endswith("What is $1+1$?\n\nSolution:")
    assert request.stop == ("Problem:",) and not MINERVA.chat_template
    right = MINERVA.score(sample, Completion(" $1+1=2$.\nFinal Answer: The final answer is $2$. I hope it is "  # type: ignore[misc]
                                             "correct.", 0, 0, "stop", ""))
    assert right.metrics == {"acc": 1.0, "acc_strict": 1.0} and right.extracted["acc_strict"] == "2"
    boxed_only = MINERVA.score(sample, Completion(" So \\boxed{2}.", 0, 0, "stop", ""))  # type: ignore[misc]
    assert boxed_only.metrics == {"acc": 1.0, "acc_strict": 0.0}  # exact_match needs the answer line


@pytest.mark.parametrize(("reply", "solution", "answer", "right"), [
    ("We add. Final Answer: The final answer is $\\frac12$. I hope it is correct.", "So \\boxed{0.5}.", "\\frac{1}{2}",
     True),
    ("Final Answer: The final answer is $x = 3$", "\\boxed{3}", "x=3", True),  # MATH's match drops a short "x ="
    ("It is 7 cm. More.", "\\boxed{7}", "Itis7", False),  # no "final answer": the whole first sentence
    ("Thus $7$ cm. More.", "\\boxed{7}", "7", True),  # ... whose last $...$ counts
    # EvalScope 0.5.5's quirk, kept: "rac" without "\frac" becomes "\frac", so \dfrac reads \df\frac (wrong)
    ("Final answer: $\\dfrac{3}{4}$", "\\boxed{\\frac34}", "\\df\\frac{3}{4}", False),
    ("Final Answer: The final answer is $(B)$", "\\boxed{\\text{(B)}}", "(B)", False),  # the gold keeps \text{}
])
def test_evalscope_05_reads_the_final_answer_sentence(reply: str, solution: str, answer: str, right: bool) -> None:
    from evalscope.kinds.math import EVALSCOPE_05

    sample = Sample("q", "", metadata={"solution": solution}, id="algebra-0000")
    verdict = EVALSCOPE_05.score(sample, Completion(reply, 0, 0, "stop", ""))  # type: ignore[misc]
    assert verdict.extracted["acc"] == answer and verdict.metrics["acc"] == float(right)


def test_evalscope_05_prompt_keeps_its_doubled_braces_and_drops_all_shots_at_zero() -> None:
    from dataclasses import replace

    from evalscope.kinds.math import EVALSCOPE_05

    sample = Sample("What is $1+1$?", "2", metadata={"solution": "\\boxed{2}"}, id="algebra-0000")
    four = EVALSCOPE_05.prompt(sample, EVALSCOPE_05.shots(())).prompt  # type: ignore[misc]
    assert four.startswith("Problem:\nFind the domain of the expression $\\frac{{\\sqrt{{x-2}}}}")
    assert four.count("Problem:\n") == 5 and four.endswith("Problem:\nWhat is $1+1$?\nSolution:\n")
    zero = replace(EVALSCOPE_05, few_shot_num=0)
    assert zero.prompt(sample, zero.shots(())).prompt == "Problem:\nWhat is $1+1$?\nSolution:\n"  # type: ignore[misc]
