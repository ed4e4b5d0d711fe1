"""The embedded default model end to end: gguf conversion cache, real answers, pass and incorrect outcomes."""

from __future__ import annotations

import time
from pathlib import Path

from evalscope.models import resolve


def test_gguf_is_converted_once_and_reloads_from_the_cache(default_model_folder: Path) -> None:
    assert (default_model_folder / ".complete").exists()
    assert (default_model_folder / "config.json").is_file() and list(default_model_folder.glob("*.safetensors"))
    start = time.perf_counter()
    again, sha = resolve.converted_gguf(resolve.default_model_file())
    assert again == default_model_folder and len(sha) == 64
    assert time.perf_counter() - start < 5  # a hash of the file, no second conversion


def test_default_model_answers_and_outcomes_follow_the_scores(run_suite) -> None:
    # The tiny fixture's one-step problems: SmolLM2 gets some right (e.g. 4 + 6) and some wrong, so both
    # outcomes show up, and wrong answers leave the exit code at 0.
    run = run_suite("--limit", "4", model=None, max_new_tokens=48)
    assert run.result.ret == 0, run.result.stdout.str()
    correct = sum(r["correct"] for r in run.records)
    assert run.outcomes.get("passed", 0) == correct
    assert run.outcomes.get("incorrect", 0) == 4 - correct
    assert correct >= 1, [r["output"] for r in run.records]
    assert run.report["model"]["id"] == resolve.DEFAULT_MODEL_ID
    assert run.report["model"]["fingerprint"].startswith("gguf-sha256:")
    assert run.report["model"]["chat_template"] is True
    assert 4 - correct >= 1
    for record in run.records:
        assert record["prompt"].startswith("<|im_start|>")  # the tokenizer's chat template was applied
        assert record["correct"] == (record["extracted"]["acc"] == record["target"])


def test_raw_prompts_without_chat_template(run_suite) -> None:
    run = run_suite("--limit", "1", "--template-type", "none", model=None, max_new_tokens=24)
    assert run.result.ret == 0
    assert run.records[0]["prompt"].startswith("Question: There are 15 trees")
    assert run.report["model"]["chat_template"] is False
