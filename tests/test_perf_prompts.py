"""Prompt sources: random prompts of a controlled token length, openqa and JSONL files, arrival schedules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evalscope.perf import prompts
from evalscope.perf.schedule import arrival_offsets


def test_random_prompts_hit_the_length_with_the_models_tokenizer(default_model_folder: Path) -> None:
    tok = prompts.load_tokenizer(default_model_folder)
    assert tok is not None
    got = prompts.random_prompts(20, 30, 60, seed=1, tokenizer=tok)
    lengths = [len(tok.encode(p.text)) for p in got]
    assert all(30 <= n <= 60 for n in lengths), lengths
    assert [p.tokens for p in got] == lengths
    assert prompts.random_prompts(20, 30, 60, seed=1, tokenizer=tok) == got  # seeded


def test_random_prompts_without_tokenizer_use_the_word_approximation(default_model_folder: Path) -> None:
    got = prompts.random_prompts(10, 100, 100, seed=0, tokenizer=None)
    assert all(p.tokens == 100 for p in got)
    # The documented approximation: common words are single tokens for a BPE vocabulary (within 10%).
    tok = prompts.load_tokenizer(default_model_folder)
    assert tok is not None
    real = np.mean([len(tok.encode(p.text)) for p in got])
    assert 90 <= real <= 110


def test_jsonl_prompts_filtered_shuffled_and_cycled(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    rows = [{"prompt": "one two three"}, {"question": "a b"}, "plain string prompt here", {"text": "x " * 50}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    got = prompts.load(str(path), 7, min_len=2, max_len=10, seed=0, tokenizer=None)
    assert len(got) == 7 and {p.text for p in got} == {"one two three", "a b", "plain string prompt here"}


def test_prompt_lines_are_split_on_newline_only(tmp_path: Path) -> None:
    """U+2028/U+2029, \\x85 and \\x1c are valid unescaped in a JSON string: they end no line (splitlines would)."""
    path = tmp_path / "p.jsonl"
    texts = ["one\u2028two", "three\u2029four\x85five\x1csix"]
    path.write_text("".join(json.dumps({"prompt": t}, ensure_ascii=False) + "\r\n" for t in texts), encoding="utf-8")
    got = prompts.load(str(path), 2, min_len=None, max_len=None, seed=0, tokenizer=None)
    assert sorted(p.text for p in got) == sorted(texts)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"prompt": "caf\xe9"}\n')
    with pytest.raises(prompts.DatasetError, match=r"bad\.jsonl: not UTF-8 text"):
        prompts.load(str(bad), 1, min_len=None, max_len=None, seed=0, tokenizer=None)


def test_openqa_reads_the_local_file(tmp_path: Path) -> None:
    (tmp_path / "openqa").mkdir()
    (tmp_path / "openqa" / "open_qa.jsonl").write_text(json.dumps({"question": "什么是机器学习？"}) + "\n")
    got = prompts.load("openqa", 2, min_len=None, max_len=None, seed=0, tokenizer=None, dataset_dir=tmp_path)
    assert got[0].text == "什么是机器学习？" and got[0].tokens == 8  # CJK characters count one each


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "p.jsonl:1: not JSON"), ('{"answer": 1}', "p.jsonl:1: expected"), ('"a b"', "no prompt within"),
])
def test_bad_prompt_files_name_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(content + "\n")
    with pytest.raises(prompts.DatasetError, match=message):
        prompts.load(str(path), 1, min_len=5, max_len=None, seed=0, tokenizer=None)


def test_missing_sources_are_errors(tmp_path: Path) -> None:
    with pytest.raises(prompts.DatasetError, match="not found"):
        prompts.load(str(tmp_path / "nope.jsonl"), 1, min_len=None, max_len=None, seed=0, tokenizer=None)
    with pytest.raises(prompts.DatasetError, match="--dataset-path"):
        prompts.load("openqa", 1, min_len=None, max_len=None, seed=0, tokenizer=None)


def test_poisson_and_gamma_arrivals() -> None:
    poisson = np.diff(arrival_offsets(20001, rate=50.0, seed=3))
    assert poisson.mean() == pytest.approx(1 / 50, rel=0.05)
    assert poisson.std() / poisson.mean() == pytest.approx(1.0, rel=0.05)  # exponential: CV 1
    bursty = np.diff(arrival_offsets(20001, rate=50.0, burstiness=0.25, seed=3))
    assert bursty.mean() == pytest.approx(1 / 50, rel=0.1)
    assert bursty.std() / bursty.mean() == pytest.approx(2.0, rel=0.1)  # gamma shape k: CV 1/sqrt(k)
    assert arrival_offsets(5, 10.0, seed=1)[0] == 0.0
    assert arrival_offsets(5, 10.0, seed=1) == arrival_offsets(5, 10.0, seed=1)
    with pytest.raises(ValueError, match="--rate"):
        arrival_offsets(5, 0.0)
