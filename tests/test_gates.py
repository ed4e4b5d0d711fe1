"""Gates end to end: thresholds and a paired baseline set the exit status, report.json and the terminal summary."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from scipy import stats as sst

from evalscope.gates import GATE_FAILED, GateError, Threshold, check_baseline
from evalscope.report.rundir import load
from tests.conftest import REPO, TEST_DATA


def _rewrite_baseline(source: Path, target: Path, correct: set[str], drop: frozenset[str] = frozenset()) -> Path:
    """A copy of a real run whose per-sample records say `correct` samples were right (and lose `drop`)."""
    shutil.copytree(source, target)
    path = target / "predictions" / "gsm8k.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    out = []
    for record in records:
        if record["sample_id"] in drop:
            continue
        hit = record["sample_id"] in correct
        record["metrics"] = {"acc": float(hit)}
        record["correct"] = hit
        out.append(json.dumps(record))
    path.write_text("\n".join(out) + "\n")
    return target


def test_threshold_gates_pass_fail_and_set_the_exit_status(run_suite) -> None:
    passing = run_suite("--limit", "4", "--gate", "gsm8k>=0", "--gate", "gsm8k.main:acc<=0.5")
    assert passing.result.ret == 0, passing.result.stdout.str()
    passing.result.stdout.fnmatch_lines(["*evalscope gates*", "PASS gsm8k>=0: gsm8k/main acc = 0.0000 95% CI *",
                                         "PASS gsm8k.main:acc<=0.5: *"])
    assert passing.report["gates"]["passed"] is True and passing.report["run"]["exit_status"] == 0

    # The random model answers nothing right; under xdist only the controller judges.
    failing = run_suite("--limit", "4", "-n", "2", "--gate", "gsm8k>=0.40", "--gate", "gsm8k>=0")
    assert failing.result.ret == GATE_FAILED == 6, failing.result.stdout.str()
    failing.result.stdout.fnmatch_lines(["FAIL gsm8k>=0.40: gsm8k/main acc = 0.0000 95% CI [[]0.0000, 0.4899[]], "
                                         "n = 4; needs >= 0.4", "PASS gsm8k>=0: *"])
    verdicts = failing.report["gates"]["verdicts"]
    assert [v["passed"] for v in verdicts] == [False, True]
    assert verdicts[0]["details"]["ci_high"] == pytest.approx(sst.binomtest(0, 4).proportion_ci(
        method="wilson").high)
    assert failing.report["run"]["exit_status"] == 6 and failing.report["gates"]["passed"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gate", "nosuch>=0.1"], "*unknown benchmark 'nosuch'*"),
        (["--gate", "gsm8k=0.4"], "*--gate 'gsm8k=0.4': expected BENCH[[].SUBSET[]][[]:METRIC[]]>=VALUE*"),
        (["--gate", "gsm8k>=high"], "*--gate 'gsm8k>=high': 'high' is not a number*"),
        (["--max-drop", "x"], "*--max-drop: 'x' is not a number*"),
        (["--baseline", "no/such/run"], "*--baseline: no/such/run: not found*"),
    ],
)
def test_bad_gate_options_are_usage_errors_before_inference(pytester: pytest.Pytester, args: list[str],
                                                             message: str) -> None:
    result = pytester.runpytest_subprocess(str(REPO / "benchmarks" / "gsm8k"), "--dataset-dir", str(TEST_DATA),
                                           "-p", "no:cacheprovider", *args)
    assert result.ret == 4
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_a_gate_naming_nothing_that_ran_is_a_usage_error(run_suite) -> None:
    run = run_suite("--limit", "2", "--gate", "gsm8k.stem>=0.3", "--gate", "gsm8k:f1>=0.3")
    assert run.result.ret == 4
    run.result.stdout.fnmatch_lines(["ERROR (usage): --gate 'gsm8k.stem>=0.3': gsm8k has no subset or "
                                     "category 'stem' that ran (rows: main)"])
    assert run.report["gates"]["error"].startswith("--gate 'gsm8k.stem>=0.3'")
    assert run.report["run"]["exit_status"] == 4


def test_baseline_passes_on_the_same_model_and_fails_on_a_real_drop(run_suite, tmp_path: Path) -> None:
    first = run_suite("--limit", "10")
    assert first.result.ret == 0
    folder = Path(first.report["run"]["work_dir"])
    assert first.report["benchmarks"][0]["predictions"] == "predictions/gsm8k.jsonl"

    again = run_suite("--limit", "10", "--baseline", str(folder / "report.json"))
    assert again.result.ret == 0, again.result.stdout.str()
    again.result.stdout.fnmatch_lines(["PASS baseline gsm8k: gsm8k acc: diff +0.0000 (0.0000 vs baseline 0.0000), "
                                       "95% CI [[]+0.0000, +0.0000[]], p = 1 (mcnemar-exact, one-sided), n = 10 "
                                       "pairs, min detectable drop *"])

    # A baseline that answered 8 of the 10 right (its records rewritten), and that lacks two samples.
    ids = [f"main-{i:04d}" for i in range(10)]
    better = _rewrite_baseline(folder, tmp_path / "better", correct=set(ids[:8]), drop=frozenset(ids[8:]))
    worse = run_suite("--limit", "10", "--baseline", str(better), "-n", "2")
    assert worse.result.ret == GATE_FAILED, worse.result.stdout.str()
    p = sst.binomtest(8, 8, 0.5, alternative="greater").pvalue  # 8 discordant pairs, all lost
    worse.result.stdout.fnmatch_lines([f"FAIL baseline gsm8k: gsm8k acc: diff -1.0000 (0.0000 vs baseline 1.0000)*"
                                       f"p = {p:.4g} (mcnemar-exact, one-sided), n = 8 pairs*discordant 8 worse / 0 "
                                       "better; unpaired: 2 only in this run, 0 only in baseline -> drop 1.0000 > "
                                       "max-drop 0.02 and significant (p < 0.05)"])
    details = worse.report["gates"]["verdicts"][0]["details"]
    assert details["p_value"] == pytest.approx(p) and details["only_candidate"] == ids[8:]
    assert worse.report["run"]["exit_status"] == GATE_FAILED


def test_a_drop_that_is_not_significant_passes(run_suite, tmp_path: Path) -> None:
    first = run_suite("--limit", "10")
    folder = Path(first.report["run"]["work_dir"])
    lucky = _rewrite_baseline(folder, tmp_path / "lucky", correct={"main-0001", "main-0004"})
    baseline = load(lucky)
    current = {"gsm8k": {r["sample_id"]: r["metrics"]["acc"] for r in first.records}}
    [verdict] = check_baseline(baseline, current, {"gsm8k": "acc"}, max_drop=0.02)
    # 2 discordant pairs: p = 0.25 however large the drop looks (0.2 > 0.02)
    assert verdict.passed and verdict.details["p_value"] == pytest.approx(0.25)
    assert "drop 0.2000 > max-drop 0.02 but not significant" in verdict.summary
    [strict] = check_baseline(load(_rewrite_baseline(folder, tmp_path / "strong", correct=set(current["gsm8k"]))),
                              current, {"gsm8k": "acc"}, max_drop=0.02)
    assert not strict.passed and strict.details["p_value"] == pytest.approx(0.5**10)
    with pytest.raises(GateError, match="no benchmark in common"):
        check_baseline(baseline, {"arc": current["gsm8k"]}, {"arc": "acc"}, max_drop=0.02)


def test_threshold_parsing() -> None:
    gate = Threshold.parse("mmlu.stem:acc_norm >= 0.3")
    assert (gate.benchmark, gate.subset, gate.metric, gate.op, gate.value) == ("mmlu", "stem", "acc_norm", ">=", 0.3)
    metric = Threshold.parse("gsm8k:exact_match,strict-match>0.1")
    assert metric.metric == "exact_match,strict-match" and metric.subset is None and metric.op == ">"
    with pytest.raises(GateError):
        Threshold.parse("gsm8k")
