"""The response cache: keys change with anything that changes the answer; responses round-trip; commits are durable."""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from evalscope import utf8
from evalscope.cache import ResponseCache, request_key
from evalscope.config import GenerationConfig, RunConfig, cache_file
from evalscope.report.recorder import redact
from evalscope.run import pytest_args
from evalscope.schema import ChoiceLoglikelihoods, ChoiceRequest, Completion, GenerationRequest

CONFIG = RunConfig()
ASK = GenerationRequest("2+2=", stop=("\n",))


def test_key_depends_on_model_backend_request_and_config() -> None:
    base = request_key("api:u|m", "openai", ASK, CONFIG)
    assert base == request_key("api:u|m", "openai", GenerationRequest("2+2=", stop=("\n",)), CONFIG)
    variants = [
        request_key("api:u|other", "openai", ASK, CONFIG),
        request_key("api:u|m", "vllm", ASK, CONFIG),
        request_key("api:u|m", "openai", dataclasses.replace(ASK, prompt="2+2 ="), CONFIG),
        request_key("api:u|m", "openai", dataclasses.replace(ASK, stop=("\n", "Q:")), CONFIG),
        request_key("api:u|m", "openai", dataclasses.replace(ASK, system="be brief"), CONFIG),
        request_key("api:u|m", "openai", ASK, replace(CONFIG, generation=GenerationConfig(top_p=0.5))),
        request_key("api:u|m", "openai", ASK, dataclasses.replace(CONFIG, seed=1)),
        request_key("api:u|m", "openai", ASK, dataclasses.replace(CONFIG, template="none")),
    ]
    assert len({base, *variants}) == len(variants) + 1


def test_responses_round_trip_and_survive_a_new_connection(tmp_path: Path) -> None:
    path = tmp_path / "c" / "responses.sqlite"
    cache = ResponseCache(path)
    done = Completion("4", 3, 1, "stop", "2+2=")
    scored = ChoiceLoglikelihoods((-1.5, -0.25), (False, True), (1, 2), 7, "ctx")
    choice = ChoiceRequest("ctx", (" a", " b"))
    cache.put("k1", "openai", "api:u|m", ASK, done)
    cache.put("k2", "openai", "api:u|m", choice, scored)
    # Committed at once: another connection sees both rows while this one is still open (no close, no flush).
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT count(*) FROM responses").fetchone()[0] == 2
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = ResponseCache(path)
    assert again.get("k1", ASK) == done and again.get("k2", choice) == scored and again.get("k3", ASK) is None
    assert (again.hits, again.misses) == (2, 1)
    cache.close()
    again.close()


def test_cache_location_and_seed_parameter(tmp_path: Path) -> None:
    assert cache_file(None, tmp_path) is None
    assert cache_file("true", tmp_path) == tmp_path / "cache" / "responses.sqlite"
    assert cache_file("/x/y", tmp_path) == Path("/x/y/responses.sqlite")
    assert cache_file("/x/r.sqlite", tmp_path) == Path("/x/r.sqlite")
    assert "--use-cache=true" in pytest_args({"datasets": ["gsm8k"], "use_cache": True})
    assert "--use-cache=/c" in pytest_args({"datasets": ["gsm8k"], "use_cache": "/c"})


def test_a_lone_surrogate_is_stored_and_read_back_as_it_was(tmp_path: Path) -> None:
    """A reply with `\udc80` (no UTF-8 form) is kept exactly, next to plain UTF-8 replies; a prompt with one has a
    key; valid text is stored as itself (not as escapes)."""
    cache = ResponseCache(tmp_path / "responses.sqlite")
    odd = Completion("4 \udc80 é", 3, 2, "stop", "2+2=", ("4 \udc80 é", "x\ud800"), "think \udc80")
    plain = Completion("4 é", 3, 1, "stop", "2+2=")
    cache.put("odd", "openai", "api:u|m", ASK, odd)
    cache.put("plain", "openai", "api:u|m", ASK, plain)
    assert cache.failed is None and cache.get("odd", ASK) == odd and cache.get("plain", ASK) == plain
    with sqlite3.connect(tmp_path / "responses.sqlite") as db:
        assert "4 é" in db.execute("SELECT response FROM responses WHERE key = 'plain'").fetchone()[0]
    assert request_key("api:u|m", "openai", dataclasses.replace(ASK, prompt="\udc80"), CONFIG) != request_key(
        "api:u|m", "openai", dataclasses.replace(ASK, prompt="\ufffd"), CONFIG)
    cache.close()


# MMLU-sized: a 5-shot context is a few KB
PREAMBLE = "".join(f"Question {n}: which letter?\nA. a\nB. b\nC. c\nD. d\nAnswer: B\n\n" for n in range(40))
HEAD, TAIL = "<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n"


def mmlu_like(n: int, framed: bool) -> tuple[ChoiceRequest, ChoiceLoglikelihoods]:
    context = f"{PREAMBLE}Question {n}: and this one?\nA. w\nB. x\nC. y\nD. z\nAnswer:"
    rendered = f"{HEAD}{context}{TAIL}" if framed else context
    return ChoiceRequest(context, (" A", " B", " C", " D")), ChoiceLoglikelihoods(
        (-1.25, -0.5, -2.0, -3.0), (False, True, False, False), (1, 1, 1, 1), 120 + n, rendered)


@pytest.mark.parametrize("framed", [False, True])
def test_loglikelihood_rows_keep_their_frame_once_not_their_context(tmp_path: Path, framed: bool) -> None:
    path = tmp_path / "responses.sqlite"
    cache = ResponseCache(path)
    items = [mmlu_like(n, framed) for n in range(40)]
    for n, (request, response) in enumerate(items):
        cache.put(f"k{n}", "transformers", "sha", request, response)
    with sqlite3.connect(path) as db:
        rows = [r for (r,) in db.execute("SELECT response FROM responses")]
        assert db.execute("SELECT head, tail FROM frames").fetchall() == [(HEAD, TAIL) if framed else ("", "")]
    assert len(rows) == 40 and not any("Question" in r for r in rows)
    # what the rows held before: the rendered prompt in each
    before = sum(len(utf8.dumps({"type": "ChoiceLoglikelihoods", **dataclasses.asdict(r)})) for _, r in items)
    assert 4 * sum(map(len, rows)) < before
    again = ResponseCache(path)  # another process: frames read from the file
    assert [again.get(f"k{n}", request) for n, (request, _) in enumerate(items)] == [r for _, r in items]
    cache.close()
    again.close()


def test_rows_written_with_the_whole_prompt_and_prompts_that_do_not_hold_their_context_read_back(
        tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    cache = ResponseCache(path)
    old_request, old = mmlu_like(1, framed=True)
    with sqlite3.connect(path) as db:  # a row as every earlier version wrote it
        db.execute("INSERT INTO responses VALUES ('old', 'transformers', 'sha', 'loglikelihood', ?, 0)",
                   (utf8.dumps({"type": "ChoiceLoglikelihoods", **dataclasses.asdict(old)}),))
    request, response = mmlu_like(2, framed=False)
    rewritten = dataclasses.replace(response, rendered_prompt=response.rendered_prompt.strip().upper())
    cache.put("new", "transformers", "sha", request, rewritten)
    assert cache.get("old", old_request) == old and cache.get("new", request) == rewritten
    cache.close()


def test_api_key_is_redacted_from_argv() -> None:
    argv = ["pytest", "--api-key", "sk-1", "--api-key=sk-2", "--model", "m"]
    assert redact(argv) == ["pytest", "--api-key", "***", "--api-key=***", "--model", "m"]


def test_json_specs_and_headers_are_redacted_from_argv() -> None:
    key = "sk-test-PLANTED-0123456789"
    argv = ["pytest", "--candidate", f'a={{"model": "m", "api_key": "{key}"}}',
            f'--candidate=b={{"api_url": "http://u:{key}@h:1/v1", "generation_config": {{"api_key": "{key}"}}}}',
            "--judge", f'{{"api\\u005fkey": "{key}"}}', f'--judge={{"api_key": "{key}"',  # a JSON that does not parse
            "--headers", f"Authorization=Bearer {key}", f"--headers=X-Key={key}", "--hea", f"X={key}", "--help"]
    assert redact(argv) == [
        "pytest", "--candidate", 'a={"model": "m", "api_key": "***"}',
        '--candidate=b={"api_url": "http://h:1/v1", "generation_config": {"api_key": "***"}}',
        "--judge", '{"api_key": "***"}', "--judge={***}",
        "--headers", "Authorization=***", "--headers=X-Key=***", "--hea", "X=***", "--help"]
