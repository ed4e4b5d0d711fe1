"""OpenCompass as an evaluation backend: the seed's eval_config, the data links, its per-sample outputs read back,
bad input in one line (exit 4), and (serial) two datasets against vLLM's CPU server through run_task and pytest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evalscope import run
from evalscope.backends import BackendError
from evalscope.backends import opencompass as oc
from tests.conftest import REPO, SHARED_DATA
from tests.servers import VllmServer

MODEL = {"path": "/models/m", "openai_api_base": "http://127.0.0.1:9/v1", "is_chat": True, "batch_size": 4}


def _installed() -> Path:
    try:
        return oc.python()
    except BackendError as exc:
        pytest.skip(str(exc))


def _pytest(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", str(REPO / "benchmarks" / "opencompass"), "-p",
                           "no:cacheprovider", *args], cwd=cwd, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=900)


# --- the seed's task -------------------------------------------------------------------------------------------

def test_seed_eval_config_becomes_the_opencompass_suite() -> None:
    task = {"eval_backend": "OpenCompass", "work_dir": "runs", "dataset_dir": "/data",
            "eval_config": {"datasets": ["gsm8k", "ARC_c"], "models": [MODEL], "limit": 3}}
    args = run.pytest_args(task)
    assert args[0] == str(REPO / "benchmarks" / "opencompass")
    assert args[args.index("--limit") + 1] == "3" and args[args.index("--dataset-dir") + 1] == "/data"
    config = json.loads(args[args.index("--opencompass-config") + 1])
    assert config["datasets"] == ["gsm8k", "ARC_c"] and config["models"][0]["batch_size"] == 4
    # Native (or none) leaves the task alone; a backend we do not have is named
    assert run.pytest_args({"datasets": ["gsm8k"], "eval_backend": "Native"})[0].endswith("gsm8k")
    with pytest.raises(ValueError, match="unknown eval_backend 'VLMEvalKit2'"):
        run.pytest_args({"eval_backend": "VLMEvalKit2", "eval_config": {}})


@pytest.mark.parametrize(("config", "message"), [
    ({"models": [MODEL]}, "'datasets' must list"),
    ({"datasets": ["gsm8k"]}, "'models' must hold one served model"),
    ({"datasets": ["gsm8k"], "models": [{**MODEL, "tempreature": 0}]}, "unknown key 'tempreature'"),
    ({"datasets": ["gsm8k"], "models": [{"path": "m"}]}, "needs 'openai_api_base'"),
    ({"datasets": ["gsm8k"], "models": [MODEL], "limit": "ten"}, "limit 'ten' is not a positive integer"),
])
def test_a_bad_eval_config_names_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        oc.Task.parse(config)


def test_the_api_base_is_openai_style_either_way() -> None:
    for base in ("http://h:8/v1", "http://h:8/v1/", "http://h:8", "http://h:8/v1/chat/completions"):
        assert oc.ApiModel("m", base).chat_url == "http://h:8/v1/chat/completions"


def test_data_layout_is_links_into_ours(tmp_path: Path) -> None:
    ours = tmp_path / "data"
    (ours / "gsm8k").mkdir(parents=True)
    (ours / "gsm8k" / "test.jsonl").write_text("{}\n")
    (ours / "race").mkdir()
    (ours / "race" / "test_middle.jsonl").write_text("{}\n")
    linked = oc.link_data(ours, tmp_path / "cache")
    assert linked == ["gsm8k", "race/test/middle.jsonl"]  # the others are absent from `ours`
    assert (tmp_path / "cache" / "data" / "gsm8k").is_symlink()
    assert (tmp_path / "cache" / "data" / "race" / "test" / "middle.jsonl").resolve() == \
        ours / "race" / "test_middle.jsonl"
    assert oc.link_data(ours, tmp_path / "cache") == linked  # again: nothing to do, no error


# --- OpenCompass's outputs read back ---------------------------------------------------------------------------

def _oc_run(tmp_path: Path, abbr: str, predictions: dict[str, Any], results: dict[str, Any]) -> Path:
    stamp = tmp_path / "20260101_000000"
    for kind, data in (("predictions", predictions), ("results", results)):
        (stamp / kind / "m").mkdir(parents=True, exist_ok=True)
        (stamp / kind / "m" / f"{abbr}.json").write_text(json.dumps(data))
    return stamp


def test_verdicts_from_the_evaluators_details(tmp_path: Path) -> None:
    """GSM8K's evaluator writes a list of details with `pred` and `correct` (lists, one per draw)."""
    preds = {"0": {"origin_prompt": "Q0", "prediction": "so 18", "gold": "18"},
             "1": {"origin_prompt": "Q1", "prediction": "it is 4", "gold": "3"}}
    results = {"accuracy": 50.0, "details": [{"pred": ["18"], "answer": ["18"], "correct": [True]},
                                             {"pred": ["4"], "answer": ["3"], "correct": [False]}]}
    answers = oc.checked(oc.read_answers(_oc_run(tmp_path, "gsm8k", preds, results), "m", "gsm8k"))
    assert [(a.prompt, a.prediction, a.extracted, a.correct) for a in answers] == \
        [("Q0", "so 18", "18", True), ("Q1", "it is 4", "4", False)]
    assert answers[0].details["verdict_from"] == "correct"
    assert answers[0].details["dataset_scores"] == {"accuracy": 50.0}


def test_verdicts_rebuilt_only_where_they_give_the_reported_accuracy(tmp_path: Path) -> None:
    """ARC's AccEvaluator gives no details: OpenCompass writes predictions and references per sample (a dict
    keyed "0", "1", ... beside "type"); equality rebuilds the verdict only if its mean is the reported accuracy."""
    preds = {str(i): {"origin_prompt": f"Q{i}", "prediction": p} for i, p in enumerate(["A. x", "B", "C"])}
    details = {"type": "GEN", **{str(i): {"prompt": f"Q{i}", "predictions": p, "references": r}
                                 for i, (p, r) in enumerate([("A", "A"), ("B", "D"), ("C", "C")])}}
    answers = oc.checked(oc.read_answers(_oc_run(tmp_path, "ARC-c", preds, {"accuracy": 200 / 3,
                                                                           "details": details}), "m", "ARC-c"))
    assert [a.correct for a in answers] == [True, False, True]
    assert "prompt" not in answers[0].details["detail"]  # kept once, as the item's prompt
    wrong = oc.checked(oc.read_answers(_oc_run(tmp_path, "ARC-c", preds, {"accuracy": 100.0, "details": details}),
                                       "m", "ARC-c"))
    assert [a.correct for a in wrong] == [None] * 3
    assert "OpenCompass reports 100.0" in wrong[0].details["verdict_from"]


# --- bad input: one line, exit 4 -------------------------------------------------------------------------------

def test_without_its_task_or_its_venv_the_suite_says_so(tmp_path: Path) -> None:
    alone = _pytest(cwd=tmp_path)
    assert alone.returncode == 4
    assert "benchmarks/opencompass needs its task: --opencompass-config FILE" in alone.stderr
    config = json.dumps({"datasets": ["gsm8k"], "models": [MODEL]})
    missing = _pytest("--opencompass-config", config, cwd=tmp_path,
                      env={oc.PYTHON_ENV: str(tmp_path / "no-venv" / "bin" / "python")})
    assert missing.returncode == 4
    assert f"opencompass: OpenCompass is not installed: no {tmp_path / 'no-venv' / 'bin' / 'python'} (run `make " \
           "opencompass`" in missing.stderr


def test_an_unknown_opencompass_dataset_is_one_line(tmp_path: Path) -> None:
    _installed()
    out = _pytest("--opencompass-config", json.dumps({"datasets": ["gsm8k", "gsm9k"], "models": [MODEL]}),
                  cwd=tmp_path)
    assert out.returncode == 4
    lines = [ln for ln in out.stderr.splitlines() if "gsm9k" in ln]
    assert len(lines) == 1 and "unknown OpenCompass dataset 'gsm9k': no configs/datasets/gsm9k/gsm9k_gen.py" in lines[0]


# --- end to end (serial: each OpenCompass run fills the machine for a minute) ------------------------------------

@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One work dir for the module's runs: OpenCompass lists GSM8K and ARC once (`<work dir>/.opencompass`)."""
    _installed()
    if not (SHARED_DATA / "gsm8k" / "test.jsonl").is_file() or not (SHARED_DATA / "arc").is_dir():
        pytest.skip(f"GSM8K / ARC data not found under {SHARED_DATA}")
    return tmp_path_factory.mktemp("opencompass-runs")


@pytest.mark.serial
def test_a_failing_opencompass_run_is_one_line_and_exit_4(runs: Path, tmp_path: Path,
                                                          default_model_folder: Path) -> None:
    # nothing listens on port 9; the model's folder gives OpenCompass its tokenizer (else it fetches tiktoken's)
    dead = {"path": str(default_model_folder), "openai_api_base": "http://127.0.0.1:9/v1"}
    out = _pytest("--opencompass-config", json.dumps({"datasets": ["gsm8k", "ARC_c"], "models": [dead]}),
                  "--dataset-dir", str(SHARED_DATA), "--work-dir", str(runs), "-k", "gsm8k-0000", cwd=tmp_path)
    assert out.returncode == 4, out.stdout[-3000:]
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("evalscope: OpenCompass run failed"))
    log = Path(line.rsplit("(log: ", 1)[1].rstrip(")"))
    assert log.is_file() and "Calling OpenAI failed" in log.read_text()  # OpenCompass's own log, kept
    assert log.is_relative_to(runs)
    report = json.loads((log.parents[2] / "report.json").read_text())
    assert report["run"]["exit_status"] == 4 and report["run"]["errors"] == 1


@pytest.mark.serial
def test_two_datasets_through_run_task_and_pytest(runs: Path, vllm_server: VllmServer, tmp_path: Path) -> None:
    """GSM8K and ARC-Challenge, 3 samples each: OpenCompass asks the served model and judges; our items, report,
    gates, baseline pairing and HTML follow, and our per-dataset scores are OpenCompass's own."""
    model = {"path": vllm_server.model, "openai_api_base": f"{vllm_server.base}/v1", "is_chat": True,
             "batch_size": 4, "max_out_len": 64}
    eval_config = {"datasets": ["gsm8k", "ARC_c"], "models": [model], "limit": 3}
    task = {"eval_backend": "OpenCompass", "eval_config": eval_config, "work_dir": str(runs),
            "dataset_dir": str(SHARED_DATA)}
    code = ("import json, sys; from evalscope import run_task; r = run_task(json.loads(sys.argv[1])); "
            "print(json.dumps({'exit': r['exit_code'], 'report': r['report_path']}))")
    seed = subprocess.run([sys.executable, "-c", code, json.dumps(task)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=900)
    assert seed.returncode == 0, seed.stdout[-3000:] + seed.stderr[-3000:]
    first = Path(json.loads(seed.stdout.strip().splitlines()[-1])["report"])
    report = json.loads(first.read_text())
    assert report["run"]["exit_status"] == 0 and report["complete"]
    bench = report["benchmarks"][0]
    assert bench["name"] == "opencompass" and bench["setup"]["name"] == "opencompass"
    scores = {s["subset"]: s for s in bench["scores"] if s["subset"] in ("gsm8k", "ARC-c")}
    assert {k: v["n"] for k, v in scores.items()} == {"gsm8k": 3, "ARC-c": 3}
    records = [json.loads(ln) for ln in (first.parent / "predictions" / "opencompass.jsonl").read_text().splitlines()]
    assert sorted(r["sample_id"] for r in records) == ["ARC-c-0000", "ARC-c-0001", "ARC-c-0002",
                                                       "gsm8k-0000", "gsm8k-0001", "gsm8k-0002"]
    for r in records:  # OpenCompass's prompt and raw output, its verdict; its dataset score is our mean
        assert r["prompt"] and r["output"] and r["metrics"]["acc"] in (0.0, 1.0)
        reported = r["details"]["opencompass"]["dataset_scores"]["accuracy"]
        assert reported == pytest.approx(100 * scores[r["subset"]]["score"])
    assert "Answer:" in next(r["prompt"] for r in records if r["subset"] == "ARC-c")
    assert list(first.parent.glob("opencompass/*/opencompass.log")), "OpenCompass's own log is kept"

    # pytest with -k (one dataset), a gate that fails, and the first run as the baseline it pairs with
    yaml_file = tmp_path / "oc.yaml"
    yaml_file.write_text(json.dumps(eval_config))
    again = _pytest("--opencompass-config", str(yaml_file), "--dataset-dir", str(SHARED_DATA), "--work-dir",
                    str(runs), "-k", "gsm8k", "--gate", "opencompass>=1.01", "--baseline", str(first),
                    cwd=tmp_path)
    assert again.returncode == 6, again.stdout[-3000:] + again.stderr[-3000:]  # the gate failed, nothing else
    assert "3 of 1614 samples selected" in again.stdout and "3 deselected" in again.stdout  # -k gsm8k, limit 3
    second_path = max(runs.glob("*/report.json"), key=lambda p: p.parent.name)
    second = json.loads(second_path.read_text())
    assert [v["passed"] for v in second["gates"]["verdicts"]] == [False, True]  # threshold; baseline pairs
    assert {s["subset"] for s in second["benchmarks"][0]["scores"]} >= {"gsm8k"}
    assert "ARC-c" not in {s["subset"] for s in second["benchmarks"][0]["scores"]}

    # the offline HTML of both runs, side by side like any benchmark's
    from evalscope.report.command import main as report_main

    assert report_main([str(first.parent), str(second_path.parent), "-o", str(tmp_path / "report.html")]) == 0
    page = (tmp_path / "report.html").read_text()
    assert "gsm8k-0000" in page and "ARC-c-0002" in page
