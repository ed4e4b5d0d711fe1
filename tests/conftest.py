"""Fixtures for the harness's own tests: a tiny real model, the default model, data folders, a suite runner."""

from __future__ import annotations

import json
import os
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data"


def default_ctrl_c() -> None:
    """`preexec_fn` for a program a test interrupts: SIGINT's default action, whatever this process inherited (a
    shell job started with `&` ignores SIGINT, and so would every program it starts, so Ctrl-C would do nothing)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
SHARED_DATA = Path(os.environ.get("EVALSCOPE_DATASET_DIR", REPO.parent / "shared" / "data"))

# pytester points HOME at a temporary folder; keep the converted-model cache where it really is.
os.environ.setdefault("EVALSCOPE_CACHE", str(Path.home() / ".cache" / "evalscope"))


@pytest.fixture(scope="session")
def default_model_folder() -> Path:
    """The embedded SmolLM2 .gguf, converted once to an HF folder (cached under ~/.cache/evalscope)."""
    from evalscope.models import resolve

    folder, _ = resolve.converted_gguf(resolve.default_model_file())
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, default_model_folder: Path) -> Path:
    """A 2-layer Llama with random weights and SmolLM2's tokenizer: a real model that runs in milliseconds."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-llama")
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json"):
        if (default_model_folder / name).exists():
            shutil.copy(default_model_folder / name, folder / name)
    base = json.loads((default_model_folder / "config.json").read_text())
    config = LlamaConfig(
        vocab_size=base["vocab_size"], hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=True,
        bos_token_id=base.get("bos_token_id"), eos_token_id=base.get("eos_token_id"),
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "gsm8k" / "test.jsonl").is_file():
        pytest.skip(f"benchmark data not found at {SHARED_DATA} (set EVALSCOPE_DATASET_DIR)")
    return SHARED_DATA


@dataclass
class SuiteRun:
    """A finished pytest run of a benchmark suite, with its outputs parsed."""

    result: pytest.RunResult
    work_dir: Path
    report: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def outcomes(self) -> dict[str, int]:
        return self.result.parseoutcomes()

    def by_id(self) -> dict[str, dict[str, Any]]:
        return {r["sample_id"]: r for r in self.records}


@pytest.fixture
def run_suite(pytester: pytest.Pytester, tiny_model: Path):
    """Run `pytest benchmarks/<name>` in a subprocess (tiny model, tiny data unless overridden)."""

    def run(*args: str, bench: str = "gsm8k", model: Path | str | None = tiny_model,
            data: Path = TEST_DATA, max_new_tokens: int = 4, timeout: float | None = None) -> SuiteRun:
        work = pytester.path / f"out-{len(list(pytester.path.glob('out-*')))}"
        argv = [str(REPO / "benchmarks" / bench), "--dataset-dir", str(data), "--work-dir", str(work),
                "--generation-config", f"max_new_tokens={max_new_tokens}", "-p", "no:cacheprovider"]
        if model is not None:
            argv += ["--model", str(model)]
        result = pytester.runpytest_subprocess(*argv, *args, timeout=timeout)  # timeout: a hang fails the test
        run = SuiteRun(result, work)
        reports = sorted(work.glob("*/report.json"))
        if reports:
            run.report = json.loads(reports[-1].read_text())
        for path in sorted(work.glob(f"*/predictions/{bench}.jsonl")):
            run.records += [json.loads(line) for line in path.read_text().splitlines()]
        return run

    return run


def alike_under_xdist(run_suite, *args: str, bench: str, data: Path) -> SuiteRun:
    """Run a benchmark alone and with `-n 2`: both must pass with the same outputs and scores; the first is
    returned for more checks."""
    alone, spread = run_suite(*args, bench=bench, data=data), run_suite(*args, "-n", "2", bench=bench, data=data)
    assert alone.result.ret == spread.result.ret == 0, alone.result.stdout.str()
    assert {k: (r["output"], r["metrics"]) for k, r in alone.by_id().items()} == \
        {k: (r["output"], r["metrics"]) for k, r in spread.by_id().items()}
    return alone
