"""A judge metric on a real judge: LongBench-Write's S_q graded by the default model served by vLLM (`--judge URL`),
the answers written by the default model in process. (The judges' cache and resume are tested against stub
judges in test_judging.py: cheaper than a second run here.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import REPO, VllmServer

pytestmark = pytest.mark.serial  # the vLLM server fills the machine


def _run(tmp_path: Path, data: Path, judge: str, *extra: str) -> dict:
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "pytest", str(REPO / "benchmarks" / "longbench_write"), "--limit", "4",
            "--judge", judge, "--dataset-dir", str(data), "--work-dir", str(out), "--generation-config",
            "max_new_tokens=48", "-p", "no:cacheprovider", *extra]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    report = json.loads(max(out.glob("*/report.json")).read_text())
    report["_records"] = [json.loads(line) for line in
                          (Path(report["run"]["work_dir"]) / "predictions" / "longbench_write.jsonl").open()]
    return report


def test_longbench_write_judged_by_the_default_model_through_vllm(vllm_server: VllmServer, tmp_path: Path,
                                                                   shared_data: Path) -> None:
    if not (shared_data / "longbench_write" / "judge.txt").is_file():
        pytest.skip("no longbench_write data")
    report = _run(tmp_path, shared_data, f"{vllm_server.base}/v1")
    (bench,) = report["benchmarks"]
    summary = bench["judge_summary"]
    assert summary["metric"] == "S_q" and summary["verdicts"] == 4 and summary["repeats"] == 1
    assert summary["prompt_tokens"] > 4 * 300 and summary["completion_tokens"] > 0  # judge.txt alone is ~400
    records = report["_records"]
    assert len(records) == 4 and all(0 <= r["metrics"]["S_l"] <= 100 for r in records)
    for record in records:
        (entry,) = record["details"]["judge"]["entries"]
        assert "$RESPONSE$" not in entry["reply"]
        # a readable verdict gives S_q and S = (S_l + S_q) / 2; an unreadable one neither, and is counted
        if entry["verdict"] is None:
            assert "S_q" not in record["metrics"] and "S" not in record["metrics"]
        else:
            assert record["metrics"]["S"] == pytest.approx((record["metrics"]["S_l"] + entry["verdict"]) / 2)
    assert summary["unreadable"] == sum(r["details"]["judge"]["entries"][0]["verdict"] is None for r in records)
    assert bench["cut_by_max_new_tokens"] == sum(r["finish_reason"] == "length" for r in records) > 0
