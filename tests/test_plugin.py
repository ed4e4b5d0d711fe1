"""The plugin end to end on a tiny real model: items, batching, xdist, selection, outcomes, outputs."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from tests.conftest import REPO, TEST_DATA


def test_one_item_per_sample_with_readable_ids(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(str(REPO / "benchmarks" / "gsm8k"), "--dataset-dir", str(TEST_DATA),
                                           "--co", "-q")
    ids = [line for line in result.outlines if "::test_gsm8k[" in line]
    assert len(ids) == 10
    assert ids[3].endswith("test_gsm8k[main-0003]")


def test_collect_only_lists_all_1319_gsm8k_items(pytester: pytest.Pytester, shared_data: Path) -> None:
    result = pytester.runpytest_subprocess(str(REPO / "benchmarks" / "gsm8k"), "--dataset-dir", str(shared_data),
                                           "--co", "-q")
    result.stdout.fnmatch_lines(["1319 tests collected*"])
    # Collection must not load the model stack.
    assert "torch" not in result.stderr.str()


def test_run_writes_records_report_and_summary(run_suite) -> None:
    run = run_suite("--limit", "5", "--eval-batch-size", "2")
    assert run.result.ret == 0, run.result.stdout.str()
    run.result.stdout.fnmatch_lines(["*gsm8k (setup evalscope-0.5, 4-shot): 5 of 10 samples selected*",
                                     "*evalscope scores*", "*gsm8k*main*acc*", "report: *report.json"])
    assert sorted(run.by_id()) == [f"main-{i:04d}" for i in range(5)]
    record = run.records[0]
    assert {"prompt", "output", "extracted", "target", "metrics", "correct"} <= set(record)
    assert "Let's think step by step" in record["prompt"]
    bench = run.report["benchmarks"][0]
    assert bench["name"] == "gsm8k" and bench["setup"]["name"] == "evalscope-0.5"
    score = bench["scores"][0]
    assert score["n"] == 5 and score["ci_method"] == "wilson" and score["ci_low"] <= score["score"] <= score["ci_high"]
    assert len(bench["dataset_sha256"]["test"]) == 64
    assert run.report["model"]["fingerprint"].startswith("weights:")
    assert run.report["generation_config"]["max_new_tokens"] == 4
    # 5 samples, batches of 2 whose rows refill from a group of 4 batches: one backend call, each sample once.
    assert run.report["run"]["predicted"] == 5 and run.report["run"]["batches"] == 1


def test_wrong_answers_are_incorrect_not_failures(run_suite) -> None:
    run = run_suite("--limit", "3")
    assert run.result.ret == 0
    n_wrong = sum(not r["correct"] for r in run.records)
    assert n_wrong > 0  # a random 2-layer model answers nothing right
    assert run.outcomes.get("incorrect") == n_wrong
    assert "failed" not in run.outcomes


def test_xdist_predicts_each_sample_once_and_matches_single_process(run_suite) -> None:
    single = run_suite("--eval-batch-size", "3", max_new_tokens=6)
    parallel = run_suite("--eval-batch-size", "3", "-n", "2", max_new_tokens=6)
    assert parallel.result.ret == 0, parallel.result.stdout.str()
    assert parallel.report["run"]["workers"] == 2
    assert parallel.report["run"]["predicted"] == 10 == single.report["run"]["predicted"]
    assert len(parallel.records) == 10
    for sample_id, record in single.by_id().items():
        twin = parallel.by_id()[sample_id]
        assert (twin["output"], twin["metrics"]) == (record["output"], record["metrics"]), sample_id
    assert parallel.report["benchmarks"][0]["scores"] == single.report["benchmarks"][0]["scores"]


def test_keyword_selection_predicts_only_the_selected_sample(run_suite) -> None:
    run = run_suite("--limit", "8", "-k", "0003")
    assert run.outcomes.get("incorrect", 0) + run.outcomes.get("passed", 0) == 1
    assert [r["sample_id"] for r in run.records] == ["main-0003"]
    assert run.report["run"]["predicted"] == 1


def test_item_order_does_not_change_results(run_suite, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(reverse_items="""
        def pytest_collection_modifyitems(items):
            items.reverse()
    """)
    forward = run_suite("--eval-batch-size", "4")
    backward = run_suite("--eval-batch-size", "4", "-p", "reverse_items")
    assert backward.result.ret == 0
    assert forward.by_id().keys() == backward.by_id().keys()
    for sample_id, record in forward.by_id().items():
        assert backward.by_id()[sample_id]["output"] == record["output"], sample_id


def test_malformed_row_errors_with_file_and_line_and_the_rest_runs(run_suite, tmp_path: Path) -> None:
    data = tmp_path / "gsm8k"
    data.mkdir()
    rows = (TEST_DATA / "gsm8k" / "test.jsonl").read_text().splitlines()
    rows[2] = json.dumps({"question": "What is 1 + 1?"})  # no answer field
    (data / "test.jsonl").write_text("\n".join(rows[:4]) + "\n")
    (data / "train.jsonl").write_text((TEST_DATA / "gsm8k" / "train.jsonl").read_text())
    run = run_suite(data=tmp_path)
    assert run.result.ret == 1
    run.result.stdout.fnmatch_lines(["*ERROR at setup of test_gsm8k[[]main-0002[]]*",
                                     f"{data / 'test.jsonl'}:3: missing field 'answer'"])
    assert run.outcomes["errors"] == 1 and run.outcomes["incorrect"] == 3
    errors = [r for r in run.records if "error" in r]
    assert errors == [{"benchmark": "gsm8k", "sample_id": "main-0002",
                       "error": f"{data / 'test.jsonl'}:3: missing field 'answer'"}]
    assert run.report["benchmarks"][0]["n_errors"] == 1


def test_exitfirst_stops_before_predicting_the_rest(run_suite, tmp_path: Path) -> None:
    data = tmp_path / "gsm8k"
    data.mkdir()
    rows = (TEST_DATA / "gsm8k" / "test.jsonl").read_text().splitlines()
    rows[0] = "{}"
    (data / "test.jsonl").write_text("\n".join(rows) + "\n")
    (data / "train.jsonl").write_text((TEST_DATA / "gsm8k" / "train.jsonl").read_text())
    run = run_suite("-x", data=tmp_path)
    assert run.result.ret == 1
    assert run.outcomes["errors"] == 1 and "incorrect" not in run.outcomes
    assert run.report == {} or run.report["run"]["predicted"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--generation-config", "max_new_tokens=lots"],
         "*--generation-config: max_new_tokens='lots' is not an integer*"),
        (["--generation-config", "beams=2"], "*--generation-config: unknown key 'beams'*"),
        (["--model-args", "precision=fp8"], "*--model-args: precision='fp8'*"),
        (["--dataset-args", "{bad json"], "*--dataset-args: invalid JSON*"),
        (["--dataset-args", '{"gsm8k": {"setup": "nope"}}'], "*gsm8k: unknown setup 'nope'*"),
        (["--limit", "x"], "*--limit: 'x' is not an integer*"),
        (["--limit", "0"], "*--limit: 0 is below 1*"),
        (["--dataset-args", '{"gsm8k": {"few_shot_num": 5}}'], "*gsm8k: few_shot_num=5 is out of range for setup*"),
    ],
)
def test_bad_options_fail_with_one_line(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    result = pytester.runpytest_subprocess(str(REPO / "benchmarks" / "gsm8k"), "--dataset-dir", str(TEST_DATA),
                                           *args)
    assert result.ret != 0
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    result.stdout.no_fnmatch_line("*Traceback*")
    (result.stderr if "generation" in message or "model-args" in message or "dataset-args: invalid" in message
     or "--limit" in message else result.stdout).fnmatch_lines([message])


def test_missing_model_path_is_a_usage_error(run_suite, tmp_path: Path) -> None:
    run = run_suite(model=tmp_path / "no-such-model")
    assert run.result.ret == 4
    run.result.stderr.fnmatch_lines([f"*model path not found: {tmp_path / 'no-such-model'}*"])


def test_missing_data_names_the_benchmark_and_folder(run_suite, tmp_path: Path) -> None:
    run = run_suite(data=tmp_path)
    assert run.result.ret != 0
    run.result.stdout.fnmatch_lines([f"*gsm8k: no test.jsonl / train.jsonl under {tmp_path / 'gsm8k'}*"])
    run.result.stdout.no_fnmatch_line("*Traceback*")


@pytest.fixture
def offline_hubs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both hubs point at a closed local port: 'unreachable' whatever this machine's network."""
    monkeypatch.setenv("MODELSCOPE_DOMAIN", "https://127.0.0.1:9")
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def test_unreachable_model_hub_fails_fast_with_one_error(run_suite, offline_hubs: None) -> None:
    run = run_suite("--limit", "3", model="someorg/some-model")
    assert run.result.ret == 2  # interrupted: the session stops at the first item
    assert run.outcomes["errors"] == 1
    run.result.stdout.fnmatch_lines([
        "gsm8k main-0000: ModelError: cannot fetch model someorg/some-model "
        "(modelscope: unreachable; huggingface: unreachable)",
        "*Interrupted: evalscope: the model failed to load*"])
    run.result.stdout.no_fnmatch_line("*Traceback*")


def test_no_local_data_and_unreachable_hub(pytester: pytest.Pytester, offline_hubs: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVALSCOPE_DATASET_DIR", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    result = pytester.runpytest_subprocess(str(REPO / "benchmarks" / "gsm8k"), "--co", "-q")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["gsm8k: no data locally (no --dataset-dir / EVALSCOPE_DATASET_DIR), and cannot "
                                 "fetch dataset AI-ModelScope/gsm8k or openai/gsm8k (modelscope: unreachable; "
                                 "huggingface: unreachable)"])


def test_bfloat16_precision(run_suite) -> None:
    run = run_suite("--limit", "2", "--model-args", "precision=bfloat16")
    assert run.result.ret == 0
    assert run.report["model"]["dtype"] == "bfloat16" and run.report["model_args"]["precision"] == "bfloat16"


def test_progress_bar_shows_on_a_terminal(tiny_model: Path, tmp_path: Path) -> None:
    """On a real terminal (a pty with a size) the decoding progress of each batch is drawn live."""
    import fcntl
    import os
    import pty
    import struct
    import sys
    import termios

    cmd = [sys.executable, "-m", "pytest", str(REPO / "benchmarks" / "gsm8k"), "--model", str(tiny_model),
           "--dataset-dir", str(TEST_DATA), "--limit", "2", "--generation-config", "max_new_tokens=6",
           "-p", "no:cacheprovider", "--work-dir", str(tmp_path)]
    pid, fd = pty.fork()
    if pid == 0:  # the child: run the suite on the pty
        os.execv(cmd[0], cmd)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    out = b""
    with contextlib.suppress(OSError):  # EIO once the child has exited
        while chunk := os.read(fd, 4096):
            out += chunk
    os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert "gsm8k batch 0000:" in text, text
    assert "2 incorrect" in text


def test_sampling_is_reproducible_under_a_seed(run_suite) -> None:
    sampling = ["--generation-config", "do_sample=true,temperature=1.0,max_new_tokens=6", "--limit", "3"]
    first, again = run_suite(*sampling), run_suite(*sampling)
    other = run_suite(*sampling, "--seed", "7")
    outputs = [[r["output"] for r in sorted(run.records, key=lambda r: r["index"])] for run in (first, again, other)]
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]


def test_last_failed_after_a_parallel_run_reruns_only_the_failures(pytester: pytest.Pytester, tiny_model: Path,
                                                                    tmp_path: Path) -> None:
    data = tmp_path / "gsm8k"
    data.mkdir()
    rows = (TEST_DATA / "gsm8k" / "test.jsonl").read_text().splitlines()
    rows[4] = "{}"
    (data / "test.jsonl").write_text("\n".join(rows[:6]) + "\n")
    (data / "train.jsonl").write_text((TEST_DATA / "gsm8k" / "train.jsonl").read_text())
    args = [str(REPO / "benchmarks" / "gsm8k"), "--model", str(tiny_model), "--dataset-dir", str(tmp_path),
            "--generation-config", "max_new_tokens=2", "--eval-batch-size", "2", "-o",
            f"cache_dir={pytester.path / 'cache'}", "--work-dir", str(pytester.path / "out"), "-rE"]
    parallel = pytester.runpytest_subprocess(*args, "-n", "2")
    assert parallel.ret == 1
    # node ids in the output are the plain ones, without xdist's @group suffix
    parallel.stdout.fnmatch_lines(["ERROR *test_gsm8k.py::test_gsm8k[[]main-0004[]]*"])
    parallel.stdout.no_fnmatch_line("*@gsm8k-*")
    rerun = pytester.runpytest_subprocess(*args, "--lf")
    assert rerun.parseoutcomes() == {"errors": 1}
    rerun.stdout.fnmatch_lines(["*run-last-failure: rerun previous 1 failure*"])
