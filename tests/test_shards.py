"""Shards (`--shard K/N`) run as separate processes and joined by `evalscope merge`: the same records and scores as
one unsharded run; shards that do not belong together are refused, one line each."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evalscope import shards
from evalscope.config import ConfigError
from tests.conftest import REPO
from tests.openai_stub import MODEL
from tests.servers import Stub

LIMIT = "12"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})


def _suite(stub: Stub, data: Path, work: Path, *extra: str) -> list[str]:
    return ["-m", "pytest", str(REPO / "benchmarks" / "gsm8k"), "--dataset-dir", str(data), "--limit", LIMIT,
            "--api-url", stub.base, "--model", MODEL, "--work-dir", str(work), "-p", "no:cacheprovider", "-q",
            "--eval-batch-size", "2", *extra]


def _folder(work: Path) -> Path:
    folder, = work.glob("*/report.json")
    return folder.parent


def _records(folder: Path) -> dict[str, dict]:
    lines = (folder / "predictions" / "gsm8k.jsonl").read_text().splitlines()
    return {r["sample_id"]: r for r in map(json.loads, lines)}


@pytest.fixture
def sharded(openai_stub, shared_data: Path, tmp_path: Path) -> tuple[Path, list[Path], Stub]:
    """One unsharded run and its three shards, the shards run at the same time as three processes."""
    stub = openai_stub()
    whole = _run(_suite(stub, shared_data, tmp_path / "whole"), tmp_path)
    assert whole.returncode in (0, 1), whole.stdout[-2000:]  # wrong answers are INCORRECT, not failures
    procs = [subprocess.Popen([sys.executable, *_suite(stub, shared_data, tmp_path / f"shard{k}", "--shard",
                                                       f"{k}/3")], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for k in range(3)]
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode in (0, 1), out[-2000:]
    return _folder(tmp_path / "whole"), [_folder(tmp_path / f"shard{k}") for k in range(3)], stub


def test_merged_shards_equal_one_unsharded_run(sharded, tmp_path: Path) -> None:
    whole, parts, _ = sharded
    sizes = [len(_records(p)) for p in parts]
    assert sizes == [4, 4, 4]
    ids = [set(_records(p)) for p in parts]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    shard_report = json.loads((parts[1] / "report.json").read_text())
    assert shard_report["shard"]["index"] == 1 and shard_report["shard"]["count"] == 3
    assert shard_report["shard"]["selected_before"] == {"gsm8k": 12}
    out = _run(["-m", "evalscope.cli", "merge", *map(str, parts), "-o", str(tmp_path / "merged")], tmp_path)
    assert out.returncode == 0, out.stderr
    merged = json.loads((tmp_path / "merged" / "report.json").read_text())
    alone = json.loads((whole / "report.json").read_text())
    assert merged["complete"] is True and merged["shards"]["missing"] == []
    assert merged["benchmarks"][0]["scores"] == alone["benchmarks"][0]["scores"]
    assert merged["benchmarks"][0]["selected"] == 12
    assert _records(tmp_path / "merged") == _records(whole)
    shown = _run(["-m", "evalscope.cli", "report", *map(str, parts), "--format", "md"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Runs: 1. " in shown.stdout and ", 2. " not in shown.stdout  # the three parts shown as one run
    assert "| 12 |" in shown.stdout
    # gates and --baseline work on the merged run as on any other
    gated = _run(["-m", "evalscope.cli", "merge", *map(str, parts), "-o", str(tmp_path / "gated"),
                  "--gate", "gsm8k>=0.99", "--baseline", str(whole)], tmp_path)
    assert gated.returncode == 6, gated.stdout + gated.stderr
    assert "FAIL gsm8k>=0.99" in gated.stdout and "PASS baseline gsm8k" in gated.stdout
    baseline = _run(["-m", "pytest", str(REPO / "benchmarks" / "gsm8k"), "--collect-only", "-q",
                     "--baseline", str(tmp_path / "gated"), "-p", "no:cacheprovider"], tmp_path)
    assert baseline.returncode == 0, baseline.stdout[-2000:] + baseline.stderr


def test_merge_refuses_what_does_not_belong_together(sharded, tmp_path: Path) -> None:
    whole, parts, _ = sharded

    def merge(*folders: Path, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        return _run(["-m", "evalscope.cli", "merge", *map(str, folders), "-o",
                     str(tmp_path / f"m{len(list(tmp_path.glob('m*')))}"), *extra], tmp_path)

    def refused(out: subprocess.CompletedProcess[str], text: str) -> None:
        assert out.returncode == 4 and text in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr

    refused(merge(parts[0], parts[2]), "missing shard 1/3")
    refused(merge(parts[0], parts[1], parts[1], parts[2]), "shard 1/3 given twice")
    refused(merge(whole, *parts), f"{whole}: not a shard")
    other = tmp_path / "other"  # shard 1 of the same split but run with other settings
    shutil.copytree(parts[1], other)
    report = json.loads((other / "report.json").read_text())
    report["generation_config"]["max_new_tokens"] += 1
    (other / "report.json").write_text(json.dumps(report))
    refused(merge(parts[0], other, parts[2]), "settings differ")
    overlap = tmp_path / "overlap"  # an item of shard 1 also in shard 2
    shutil.copytree(parts[2], overlap)
    stray = (parts[1] / "predictions" / "gsm8k.jsonl").read_text().splitlines()[0]
    with open(overlap / "predictions" / "gsm8k.jsonl", "a") as fh:
        fh.write(stray + "\n")
    refused(merge(parts[0], parts[1], overlap), "the shards overlap")
    assert not list(tmp_path.glob("m*/report.json"))  # nothing half-written was left behind

    partial = merge(parts[0], parts[2], extra=("--allow-partial",))
    assert partial.returncode == 0, partial.stderr
    assert "incomplete: missing 1/3" in partial.stdout
    report = json.loads(next(tmp_path.glob("m*/report.json")).read_text())
    assert report["complete"] is False and report["incomplete"]["missing_shards"] == ["1/3"]
    assert report["benchmarks"][0]["scores"][0]["n"] == 8


def test_a_killed_shard_resumes_without_recomputing(openai_stub, shared_data: Path, tmp_path: Path) -> None:
    dying = openai_stub("--die-after", "2")
    first = _run(_suite(dying, shared_data, tmp_path / "w", "--shard", "2/3", "--concurrency", "1"), tmp_path)
    assert first.returncode == 1, first.stdout[-2000:]
    folder = _folder(tmp_path / "w")
    assert sum("error" in r for r in _records(folder).values()) == 2
    dying.start()  # the server is back, on the same port
    again = _run(_suite(dying, shared_data, tmp_path / "w", "--shard", "2/3", "--resume", str(folder)), tmp_path)
    assert again.returncode in (0, 1), again.stdout[-2000:]
    assert len(dying.posts()) == 2  # only the two it had not answered
    assert all("error" not in r for r in _records(folder).values()) and len(_records(folder)) == 4


@pytest.mark.parametrize(("text", "env", "expected"), [
    ("0/4", {}, (0, 4)), ("3/4", {}, (3, 4)),
    ("auto", {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_COUNT": "3"}, (2, 3)),
    ("auto/5", {"JOB_COMPLETION_INDEX": "4"}, (4, 5)),
    (None, {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3"}, None),  # never sharded by itself
])
def test_shard_index_from_the_option_or_the_scheduler(text, env, expected) -> None:
    found = shards.parse(text, env)
    assert (found.index, found.count) == expected if expected else found is None


@pytest.mark.parametrize(("text", "env", "message"), [
    ("4/4", {}, "K must be in 0..N-1"), ("2", {}, "is not K/N"), ("a/b", {}, "is not a non-negative integer"),
    ("auto", {}, "no scheduler index found"), ("auto", {"JOB_COMPLETION_INDEX": "1"}, "give auto/N"),
])
def test_bad_shards_are_one_line(text, env, message) -> None:
    with pytest.raises(ConfigError, match=message):
        shards.parse(text, env)


@pytest.mark.parametrize("n", [0, 1, 5, 12, 97])
@pytest.mark.parametrize("count", [1, 3, 7])
def test_parts_are_disjoint_complete_and_balanced(n: int, count: int) -> None:
    items = list(range(n))
    parts = [shards.part(items, shards.Shard(k, count)) for k in range(count)]
    assert [i for p in parts for i in p] == items
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
