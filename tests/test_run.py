"""The seed's entry points: `python -m evalscope.run`, `evalscope eval`, `run_task(dict)`, after a real install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalscope.registry import available
from tests.conftest import TEST_DATA


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=600)


def test_module_entry_point_runs_from_outside_the_checkout(tmp_path: Path, tiny_model: Path) -> None:
    out = _run([sys.executable, "-m", "evalscope.run", "--model", str(tiny_model), "--datasets", "gsm8k",
                "--limit", "3", "--dataset-dir", str(TEST_DATA), "--generation-config", "max_new_tokens=2",
                "--work-dir", "runs"], cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 of 10 samples selected" in out.stdout
    reports = list((tmp_path / "runs").glob("*/report.json"))
    assert len(reports) == 1
    assert json.loads(reports[0].read_text())["benchmarks"][0]["scores"][0]["n"] == 3


def test_unknown_benchmark_is_one_line_and_exit_4(tmp_path: Path) -> None:
    out = _run([sys.executable, "-m", "evalscope.run", "--datasets", "gsm9k"], cwd=tmp_path)
    assert out.returncode == 4
    assert out.stderr.strip().splitlines() == ["evalscope: error: unknown benchmark 'gsm9k' (available: "
                                               + ", ".join(available()) + ")"]


def test_run_task_with_seed_parameter_names(tmp_path: Path, tiny_model: Path) -> None:
    task = {"model": str(tiny_model), "datasets": ["gsm8k"], "limit": 2, "dataset_dir": str(TEST_DATA),
            "generation_config": {"max_new_tokens": 2, "do_sample": False}, "model_args": {"precision": "float32"},
            "dataset_args": {"gsm8k": {"few_shot_num": 2}}, "work_dir": str(tmp_path / "runs"),
            "template_type": "default-generation", "eval_batch_size": 2, "dataset_hub": "modelscope"}
    code = (f"import json; from evalscope import run_task; r = run_task({task!r}); "
            "print(json.dumps({'exit': r['exit_code'], 'n': r['benchmarks'][0]['scores'][0]['n'], "
            "'setup': r['benchmarks'][0]['setup'], 'template': r['template']}))")
    out = _run([sys.executable, "-c", code], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["exit"] == 0 and result["n"] == 2
    assert result["setup"]["few_shot_num"] == 2 and result["template"] == "default-generation"


@pytest.mark.parametrize("command", [["evalscope", "--help"], ["evalscope", "eval", "--help"]])
def test_console_script_help(command: list[str], tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / command[0]
    out = _run([str(exe), *command[1:]], cwd=tmp_path)
    assert out.returncode == 0 and "eval" in out.stdout
