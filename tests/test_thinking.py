"""Reasoning models: the <think> block is out of what extractors read, kept in the JSONL as `reasoning`."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evalscope.config import ConfigError, DatasetArgs, RunConfig, parse_dataset_args
from evalscope.schema import Completion
from evalscope.suite import Suite
from evalscope.thinking import _blocks, split_thinking, without_thinking
from tests.conftest import TEST_DATA
from tests.openai_stub import MODEL

QUESTIONS = [json.loads(line) for line in (TEST_DATA / "gsm8k" / "test.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(("text", "answer", "thinking"), [
    ("The answer is 18.", "The answer is 18.", None),
    ("<think>20? no, 18.</think>\n\nThe answer is 18.", "The answer is 18.", "20? no, 18."),
    ("20? no, 18.</think>The answer is 18.", "The answer is 18.", "20? no, 18."),  # the template opened it
    ("<think>still thinking about 20", "", "still thinking about 20"),  # cut off while thinking
    ("<think>a</think>B<think>c</think>D", "BD", "a\n\nc"),
    ("Use <think> tags like this.", "Use <think> tags like this.", None),  # not at the start: just text
])
def test_split_thinking(text: str, answer: str, thinking: str | None) -> None:
    assert split_thinking(text) == (answer, thinking)


def test_blocks_split_as_the_lazy_regex_would_and_in_linear_time() -> None:
    pattern, rng = re.compile(r"<think>(.*?)</think>", re.DOTALL), random.Random(0)
    for _ in range(2000):
        text = "".join(rng.choice(["<think>", "</think>", "a", " ", "\n"]) for _ in range(rng.randint(0, 12)))
        assert _blocks(text) == (pattern.findall(text), pattern.sub("", text)), text
    # Before: the regex scanned to the end from every open <think> (15 s for 5000 of them), a hang on megabytes.
    code = "from evalscope.thinking import split_thinking; print(split_thinking('x <think>' * 300_000)[1])"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("split_thinking on a reply of 300000 open <think> tags did not return in 120 s")
    assert done.stdout.strip() == "None", done.stderr


def test_every_drawn_text_loses_its_thinking_and_server_reasoning_is_kept() -> None:
    done = Completion("<think>x</think>A", 1, 1, "stop", "", texts=("<think>x</think>A", "<think>y</think>B"),
                      reasoning="from the server")
    stripped, reasoning = without_thinking(done)
    assert (stripped.text, stripped.texts, reasoning) == ("A", ("A", "B"), "from the server\n\nx")


def test_on_for_generation_off_for_loglikelihood_and_star_sets_every_benchmark() -> None:
    def suite(name: str, args: dict[str, DatasetArgs]) -> Suite:
        return Suite.load(name, RunConfig(dataset_dir=TEST_DATA, limit=1, dataset_args=args))

    assert suite("gsm8k", {}).strip_thinking and not suite("arc", {}).strip_thinking
    off = parse_dataset_args('{"*": {"strip_thinking": false}, "arc": {"setup": "generation"}}')
    assert not suite("gsm8k", off).strip_thinking and not suite("arc", off).strip_thinking
    assert suite("arc", off).setup.name == "evalscope"  # its own keys still apply
    on = parse_dataset_args('{"*": {"strip_thinking": false}, "gsm8k": {"strip_thinking": true}}')
    assert suite("gsm8k", on).strip_thinking
    with pytest.raises(ConfigError, match="strip_thinking='maybe' is not a boolean"):
        parse_dataset_args('{"*": {"strip_thinking": "maybe"}}')


def thinking_answers(tmp_path: Path) -> Path:
    """Replies that think of a wrong number first, then answer right."""
    table = {}
    for row in QUESTIONS:
        target = int(row["answer"].rpartition("####")[2].strip().replace(",", ""))
        table[row["question"]] = f"<think>Maybe {target + 7}? Let me check.</think>\n\nSo the answer is {target}."
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(table))
    return path


@pytest.mark.parametrize("split", [False, True], ids=["in the text", "as reasoning_content"])
def test_thinking_replies_score_on_their_answer(run_suite, openai_stub, tmp_path: Path, split: bool) -> None:
    stub = openai_stub("--answers", str(thinking_answers(tmp_path)), *(["--reasoning-split"] if split else []))
    run = run_suite("--api-url", stub.base, model=MODEL)
    assert run.result.ret == 0, run.result.stdout.str()
    assert len(run.records) == len(QUESTIONS) and all(r["correct"] for r in run.records)
    first = run.records[0]
    assert "<think>" not in first["output"] and first["reasoning"].startswith("Maybe ")


def test_strip_thinking_false_reads_the_whole_reply(run_suite, openai_stub, tmp_path: Path) -> None:
    stub = openai_stub("--answers", str(thinking_answers(tmp_path)))
    run = run_suite("--api-url", stub.base, "--dataset-args", '{"*": {"strip_thinking": false}}', model=MODEL)
    assert run.result.ret == 0, run.result.stdout.str()
    assert all(r["reasoning"] is None and "<think>" in r["output"] for r in run.records)
