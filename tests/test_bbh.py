"""BBH: counts, the exemplars, EvalScope's answer reading on the nasty cases, bad files and rows, a real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalscope import registry
from evalscope.config import RunConfig, parse_dataset_args
from evalscope.schema import Completion, Sample
from evalscope.suite import Suite
from tests.conftest import alike_under_xdist

BBH = registry.get("bbh")


@pytest.mark.parametrize(("reply", "multiple_choice", "answer"), [
    ("Thus (A) is out. So the answer is (B).", True, "B"),
    ("So the answer is B.", True, "B"),
    ("So the answer is no.", False, "no"),  # compared in lower case with the target "No"
    ("So the answer is **valid**.\nMore text.", False, "valid"),
    ("So the answer is ) ] }.", False, ") ] }"),  # dyck_languages answers are brackets
    ("I think 24", False, "I think 24"),  # no "So the answer is": the first line, whole
    ("So the answer is 5. So the answer is 7.", False, "7"),  # the last one counts
])
def test_final_answer_reads_as_evalscope(reply: str, multiple_choice: bool, answer: str) -> None:
    sample = Sample("q", "No" if answer == "no" else answer, metadata={"multiple_choice": multiple_choice,
                                                                        "exemplars": ""})
    verdict = BBH.score(sample, Completion(reply, 0, 0, "stop", ""), BBH.setup())
    assert verdict.extracted["acc"] == answer and verdict.metrics["acc"] == 1.0


@pytest.mark.parametrize(("reply", "target", "answer", "right"), [
    (" (A) is out. So the answer is (B).", "(B)", "(B)", True),
    (" So the answer is (B)", "(B)", "(B", False),  # lm-eval drops the line's last character, period or not
    (" So the answer is False.", "False", "False", True),
    (" So the answer is no.", "No", "no", False),  # compared exactly: case counts
    (" So the answer is 5. So the answer is 7.", "7", "5. So the answer is 7", False),  # the first one, greedy
    (" I think 24", "24", "[invalid]", False),
])
def test_lm_eval_setup_reads_and_compares_as_lm_eval(reply: str, target: str, answer: str, right: bool) -> None:
    setup = BBH.setup("lm-eval")
    sample = Sample("q", target.strip("()"), metadata={"raw_target": target, "exemplars": ""})
    verdict = BBH.score(sample, Completion(reply, 0, 0, "stop", ""), setup)
    assert verdict.extracted["exact_match"] == answer and verdict.metrics["exact_match"] == float(right)


def test_lm_eval_prompt_is_its_task_file_rendering(shared_data: Path) -> None:
    args = parse_dataset_args('{"bbh": {"setup": "lm-eval"}}')
    suite = Suite.load("bbh", RunConfig(dataset_dir=shared_data, dataset_args=args))
    sports = next(s for s in suite.samples if isinstance(s, Sample) and s.subset == "sports_understanding")
    request = suite.request(sports)
    assert request.stop == ("</s>", "Q", "\n\n") and request.chat is False  # type: ignore[union-attr]
    # the shipped prompt file has "step by step. Bam"; lm-eval's task file a newline there
    assert "step by step.\nBam Adebayo" in request.prompt  # type: ignore[union-attr]
    assert request.prompt.endswith(f"\n\nQ: {sports.input}\nA: Let's think step by step.\n")  # type: ignore[union-attr]


def test_counts_targets_and_exemplars(shared_data: Path) -> None:
    suite = Suite.load("bbh", RunConfig(dataset_dir=shared_data))
    samples = [s for s in suite.samples if isinstance(s, Sample)]
    assert len(samples) == len(suite.samples) == 6511 and len(suite.subsets) == 27
    counts = {t: sum(s.subset == t for s in samples) for t in suite.subsets}
    assert {t: n for t, n in counts.items() if n != 250} == {"causal_judgement": 187, "penguins_in_a_table": 146,
                                                             "snarks": 178}
    first = next(s for s in samples if s.subset == "date_understanding")
    assert first.target in "ABCDEF" and len(first.target) == 1  # "(B)" -> "B"
    prompt = suite.request(first).prompt  # type: ignore[union-attr]
    assert "canary" not in prompt and prompt.count("\nQ: ") == 4  # three exemplars, then the question
    assert prompt.endswith("is the answer to the problem.\n")


def test_a_bad_row_errors_its_own_item_and_a_missing_prompt_file_is_one_line(run_suite, tmp_path: Path) -> None:
    (tmp_path / "bbh" / "bbh").mkdir(parents=True)
    (tmp_path / "bbh" / "cot-prompts").mkdir()
    task = tmp_path / "bbh" / "bbh" / "navigate.json"
    task.write_text(json.dumps({"examples": [{"input": "Go left?", "target": "Yes"}, {"input": "No target"}, 7]}))
    (tmp_path / "bbh" / "cot-prompts" / "navigate.txt").write_text("canary\n-----\nQ: x\nA: So the answer is Yes.")
    args = ("--dataset-args", json.dumps({"bbh": {"subset_list": ["navigate"]}}))
    run = run_suite(*args, bench="bbh", data=tmp_path)
    errors = {r["sample_id"]: r["error"] for r in run.records if "error" in r}
    assert errors == {"navigate-0001": f"{task}:examples[1]: missing field 'target'",
                      "navigate-0002": f"{task}:examples[2]: not a JSON object"}
    (tmp_path / "bbh" / "cot-prompts" / "navigate.txt").unlink()
    missing = run_suite(*args, bench="bbh", data=tmp_path)
    assert missing.result.ret != 0
    missing.result.stdout.fnmatch_lines(["*cot-prompts/navigate.txt: cannot read (No such file or directory)*"])
    missing.result.stdout.no_fnmatch_line("*Traceback*")


def test_runs_end_to_end_and_alike_under_xdist(run_suite, shared_data: Path) -> None:
    args = ("--limit", "2", "--dataset-args", json.dumps({"bbh": {"subset_list": ["navigate", "snarks"]}}))
    alone = alike_under_xdist(run_suite, *args, bench="bbh", data=shared_data)
    rows = {(s["subset"], s["level"]) for s in alone.report["benchmarks"][0]["scores"]}
    assert {("navigate", "subset"), ("snarks", "subset"), ("MACRO", "macro")} <= rows
