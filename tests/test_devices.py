"""Device rules: GPUs shared out to xdist workers, dtype and batch sizing; and the CPU path of `auto` for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalscope import devices
from evalscope.config import RunConfig
from tests.conftest import REPO, TEST_DATA


def test_visible_gpus_come_from_the_environment_or_the_driver(tmp_path: Path) -> None:
    assert devices.visible_gpus({"CUDA_VISIBLE_DEVICES": "0,1, 3"}) == ["0", "1", "3"]
    assert devices.visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []  # an empty value hides every GPU
    assert devices.visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == []
    cards = tmp_path / "gpus"
    for bus in ("0000:01:00.0", "0000:41:00.0"):
        (cards / bus).mkdir(parents=True)
    assert devices.visible_gpus({}, proc=cards) == ["0", "1"]
    assert devices.visible_gpus({}, proc=tmp_path / "none") == []


def test_worker_k_takes_gpu_k_mod_g() -> None:
    gpus = ["0", "1", "2", "3"]
    assert [devices.worker_gpus(k, gpus) for k in range(6)] == [["0"], ["1"], ["2"], ["3"], ["0"], ["1"]]
    assert [devices.worker_gpus(k, gpus, per_worker=2) for k in range(3)] == [["0", "1"], ["2", "3"], ["0", "1"]]
    assert devices.worker_gpus(0, []) == []
    assert devices.worker_index("gw11") == 11
    env = {"CUDA_VISIBLE_DEVICES": "4,6"}
    assert devices.pin_worker("gw3", environ=env) == ["6"] and env["CUDA_VISIBLE_DEVICES"] == "6"
    hidden = {"CUDA_VISIBLE_DEVICES": ""}
    assert devices.pin_worker("gw0", environ=hidden) == [] and hidden == {"CUDA_VISIBLE_DEVICES": ""}


def test_more_workers_than_gpus_share_with_a_warning() -> None:
    assert devices.sharing_warning(4, 4) is None and devices.sharing_warning(2, 0) is None
    assert devices.sharing_warning(8, 4) == ("8 xdist workers on 4 GPUs: up to 2 workers per GPU share its memory and "
                                             "compute (-n auto gives one worker per GPU)")
    assert "up to 3 workers per GPU" in str(devices.sharing_warning(5, 2))
    assert devices.sharing_warning(3, 4, per_worker=2) is not None  # 2 tensor-parallel groups for 3 workers
    assert devices.auto_workers(4) == 4 and devices.auto_workers(8, per_worker=2) == 4
    assert devices.auto_workers(0) is None  # xdist counts cores


def test_device_and_dtype_choice() -> None:
    assert devices.resolve_device("auto", cuda=False) == "cpu"
    assert devices.resolve_device("auto", cuda=True) == "cuda"
    assert devices.resolve_device("cpu", cuda=True) == "cpu" and devices.resolve_device("cuda:1", cuda=True) == "cuda:1"
    assert devices.resolve_dtype("auto", on_gpu=True, config_dtype="torch.bfloat16") == "bfloat16"
    assert devices.resolve_dtype("auto", on_gpu=True, config_dtype=None) == "float32"
    assert devices.resolve_dtype("auto", on_gpu=False, config_dtype="bfloat16") == "float32"
    assert devices.resolve_dtype("float16", on_gpu=False, config_dtype="bfloat16") == "float16"


def test_batch_size_rule_from_memory_and_model_shape() -> None:
    from transformers import LlamaConfig

    # SmolLM2-135M: 30 layers, 3 KV heads of 64 dims: 23 KiB of bf16 KV cache per token.
    smol = LlamaConfig(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3)
    kv = devices.model_kv_bytes(smol, 2)
    assert kv == devices.kv_bytes_per_token(30, 3, 64, 2) == 2 * 30 * 3 * 64 * 2
    budget = devices.token_budget(free_bytes=10 * 2**30, kv_per_token=kv)
    assert budget == int(10 * 2**30 * devices.MEMORY_SHARE) // kv
    assert devices.rows_that_fit(budget, width=1024) == budget // 1024
    assert devices.rows_that_fit(10, width=1024) == 1  # never zero rows
    assert devices.token_budget(free_bytes=10 * 2**30, kv_per_token=kv, hidden_bytes_per_token=kv) == budget // 2


def test_auto_device_and_precision_pick_the_cpu_here(tiny_model: Path) -> None:
    if devices.cuda_available():
        pytest.skip("this test checks the CPU-only path")
    from evalscope.models.transformers_local import TransformersBackend

    backend = TransformersBackend(RunConfig(model=str(tiny_model)), 1)  # device_map=auto, precision=auto
    assert backend.info()["device"] == "cpu" and backend.info()["dtype"] == "float32"


def test_workers_are_pinned_to_gpus_and_auto_counts_them(pytester: pytest.Pytester, tiny_model: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """CUDA_VISIBLE_DEVICES names two cards: `-n auto` makes two workers and each sees one card (torch finds no
    driver on a CPU machine, so they still compute on the CPU)."""
    pytester.makepyfile(pinned_plugin="""
        import os
        def pytest_sessionfinish(session):
            worker = getattr(session.config, "workerinput", {}).get("workerid")
            if worker:
                with open(f"pinned-{worker}", "w") as fh:
                    fh.write(os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
    """)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    args = [str(REPO / "benchmarks" / "gsm8k"), "--model", str(tiny_model), "--dataset-dir", str(TEST_DATA),
            "--limit", "4", "--generation-config", "max_new_tokens=2", "-p", "no:cacheprovider", "-p",
            "pinned_plugin"]
    auto = pytester.runpytest_subprocess(*args, "-n", "auto", "--work-dir", "auto")
    assert auto.ret == 0, auto.stdout.str()
    auto.stdout.fnmatch_lines(["*2 workers [[]4 items[]]*"])
    assert {(pytester.path / f"pinned-gw{k}").read_text() for k in range(2)} == {"5", "7"}
    (report,) = (pytester.path / "auto").glob("*/report.json")
    used = json.loads(report.read_text())["run"]["devices"]  # one per worker that loaded the model
    assert 1 <= len(used) <= 2 and set(used) == {"cpu"}
    crowded = pytester.runpytest_subprocess(*args, "-n", "3", "--work-dir", "crowded")
    assert crowded.ret == 0
    crowded.stdout.fnmatch_lines(["*evalscope: warning: 3 xdist workers on 2 GPUs: up to 2 workers per GPU*"])
