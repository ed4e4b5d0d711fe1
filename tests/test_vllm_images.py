"""general_vmcq on the tiny random VLM through vLLM, in process (`--backend vllm`, vLLM's python) and through its
OpenAI server (`--api-url`, images as data URIs), each against the transformers backend on the same weights: the
same prompts, the same prompt token counts (image tokens included) and the same greedy answers.

vLLM's CPU start-up takes minutes: these run only with EVALSCOPE_VLLM_IMAGES=1 (`make test-images-vllm`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import image_data
from tests.conftest import REPO
from tests.servers import VllmServer, serving, vllm_python
from tests.tiny_vlm import tiny_vlm

pytestmark = [pytest.mark.serial,
              pytest.mark.skipif(os.environ.get("EVALSCOPE_VLLM_IMAGES") != "1",
                                 reason="vLLM image runs take minutes on a CPU: set EVALSCOPE_VLLM_IMAGES=1")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("vmcq")
    image_data.vmcq_tsv(data, n=4)
    image_data.vmcq_jsonl(data)
    return data


def evaluate(python: str, work: Path, data: Path, model: str, *args: str) -> dict[str, dict[str, Any]]:
    """The issue's command: `pytest benchmarks/general_vmcq --dataset-args '{"general_vmcq": {"path": DIR}}'
    --model MODEL ...`, in a subprocess of `python`; its records by sample id."""
    argv = [python, "-m", "pytest", str(REPO / "benchmarks" / "general_vmcq"), "--dataset-args",
            json.dumps({"general_vmcq": {"path": str(data)}}), "--model", model, "--work-dir", str(work),
            "--generation-config", "max_new_tokens=8", "-p", "no:cacheprovider", *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800, env=env, cwd=work.parent)
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return {r["sample_id"]: r for path in work.glob("*/predictions/*.jsonl")
            for r in map(json.loads, path.read_text().splitlines())}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, folder: Path) -> dict[str, dict[str, Any]]:
    return evaluate(sys.executable, tmp_path_factory.mktemp("transformers") / "out", folder, str(tiny_vlm()))


@pytest.fixture(scope="module")
def vlm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    with serving(tiny_vlm(), tmp_path_factory.mktemp("vllm-vlm"), "--limit-mm-per-prompt", '{"image": 8}') as server:
        yield server


def same_answers(run: dict[str, dict[str, Any]], reference: dict[str, dict[str, Any]]) -> None:
    assert set(run) == set(reference) and len(run) == 6
    for key, record in run.items():
        assert record["images"] == reference[key]["images"]
        assert record["prompt_tokens"] == reference[key]["prompt_tokens"], key  # the image tokens are the same
        assert record["output"] == reference[key]["output"], key


def test_vllm_in_process(reference: dict[str, dict[str, Any]], folder: Path, tmp_path: Path) -> None:
    run = evaluate(vllm_python(), tmp_path / "out", folder, str(tiny_vlm()), "--backend", "vllm")
    assert all(r["prompt"] == reference[k]["prompt"] for k, r in run.items())
    same_answers(run, reference)


def test_vllm_server_with_data_uris(reference: dict[str, dict[str, Any]], folder: Path, vlm_server: VllmServer,
                                    tmp_path: Path) -> None:
    run = evaluate(sys.executable, tmp_path / "out", folder, vlm_server.model, "--api-url", vlm_server.base)
    spread = evaluate(sys.executable, tmp_path / "spread", folder, vlm_server.model, "--api-url", vlm_server.base,
                      "-n", "2")
    # the report's prompt is the messages with each image by name and hash, never its bytes
    assert all("base64" not in r["prompt"] and "sha256:" in r["prompt"] for r in run.values())
    same_answers(run, reference)
    assert {k: r["output"] for k, r in spread.items()} == {k: r["output"] for k, r in run.items()}
