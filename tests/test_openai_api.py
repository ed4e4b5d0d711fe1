"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 (tests/openai_stub.py): retries, a dying
server, a killed run, the response cache, reruns of failed samples, the API key, loglikelihood scoring."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from evalscope.config import RunConfig, api_base
from evalscope.models import CapabilityError, in_order
from evalscope.models.openai_api import OpenAIBackend
from evalscope.schema import ChoiceRequest
from tests.conftest import REPO, TEST_DATA
from tests.openai_stub import MODEL, char_logprob
from tests.servers import Stub

QUESTIONS = [json.loads(line) for line in (TEST_DATA / "gsm8k" / "test.jsonl").read_text().splitlines()]
N = len(QUESTIONS)


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    """Canned answers: right for even-numbered questions, off by one for odd ones."""
    table = {}
    for i, row in enumerate(QUESTIONS):
        target = int(row["answer"].rpartition("####")[2].strip().replace(",", ""))
        table[row["question"]] = f"So the answer is {target if i % 2 == 0 else target + 1}."
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(table))
    return path


def api_args(stub: Stub, *extra: str) -> tuple[str, ...]:
    return ("--api-url", stub.base, *extra)


def statuses(stub: Stub) -> Counter[int]:
    return Counter(r["status"] for r in stub.posts())


def test_429_and_500_are_retried_then_succeed(run_suite, openai_stub, answers: Path) -> None:
    stub = openai_stub("--answers", str(answers), "--fail", "2")
    run = run_suite(*api_args(stub), model=MODEL)
    assert run.result.ret == 0, run.result.stdout.str()
    assert len(run.records) == N and all("error" not in r for r in run.records)
    assert sum(r["correct"] for r in run.records) == (N + 1) // 2
    # Each prompt: a 429, a 500, then the answer; nothing asked twice after it succeeded.
    assert statuses(stub) == Counter({429: N, 500: N, 200: N})
    per_prompt = Counter(r["key"] for r in stub.posts())
    assert set(per_prompt.values()) == {3} and len(per_prompt) == N
    model = run.report["model"]
    assert (model["backend"], model["id"], model["api_url"]) == ("openai", MODEL, stub.base)
    assert model["fingerprint"] == f"api:{stub.base}|{MODEL}"


def test_requests_stay_in_flight_up_to_the_concurrency(run_suite, openai_stub, answers: Path) -> None:
    """A server gets SERVER_GROUP x --concurrency samples per group, not --eval-batch-size: with the defaults
    (batch 8, concurrency 16) all 10 questions are in flight at once, and --concurrency caps them."""
    slow = openai_stub("--answers", str(answers), "--delay", "0.5")
    run = run_suite(*api_args(slow), model=MODEL)
    assert run.result.ret == 0, run.result.stdout.str()
    assert max(r["in_flight"] for r in slow.posts()) == N
    assert run.report["run"]["batches"] == 1
    capped = openai_stub("--answers", str(answers), "--delay", "0.5")
    run = run_suite(*api_args(capped, "--concurrency", "3"), model=MODEL)
    assert run.result.ret == 0, run.result.stdout.str()
    assert max(r["in_flight"] for r in capped.posts()) == 3


def test_completions_endpoint_for_raw_prompts(run_suite, openai_stub, answers: Path) -> None:
    stub = openai_stub("--answers", str(answers))
    run = run_suite(*api_args(stub, "--template-type", "none"), model=MODEL)
    assert run.result.ret == 0, run.result.stdout.str()
    assert {r["path"] for r in stub.posts()} == {"/v1/completions"}
    assert sum(r["correct"] for r in run.records) == (N + 1) // 2


def test_server_dies_mid_run_then_cache_completes(run_suite, openai_stub, answers: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stub = openai_stub("--answers", str(answers), "--die-after", "4")
    first = run_suite(*api_args(stub, "--concurrency", "1", f"--use-cache={cache}"), model=MODEL)
    assert first.result.ret == 1  # errors, not a crash
    done = [r for r in first.records if "error" not in r]
    failed = [r for r in first.records if "error" in r]
    assert len(done) == 4 and len(failed) == N - 4
    assert all("connection refused" in r["error"] and stub.base in r["error"] for r in failed)
    served_first = {r["key"] for r in stub.posts() if r["status"] == 200}
    assert len(served_first) == 4
    with sqlite3.connect(cache / "responses.sqlite") as db:
        assert db.execute("SELECT count(*) FROM responses").fetchone()[0] == 4

    stub.start("--answers", str(answers))  # same port, so the same model fingerprint
    second = run_suite(*api_args(stub, f"--use-cache={cache}"), model=MODEL)
    assert second.result.ret == 0, second.result.stdout.str()
    assert len(second.records) == N and all("error" not in r for r in second.records)
    asked = [r["key"] for r in stub.posts()]
    assert len(asked) == N - 4 and not set(asked) & served_first  # finished samples were not re-requested
    assert second.report["run"]["cache"]["hits"] == 4 and second.report["run"]["cache"]["misses"] == N - 4
    before = {r["sample_id"]: r["output"] for r in done}
    assert {k: second.by_id()[k]["output"] for k in before} == before  # identical results from the cache


def test_rerun_failed_selects_incorrect_and_errored(run_suite, openai_stub, answers: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stub = openai_stub("--answers", str(answers), "--die-after", "4")
    first = run_suite(*api_args(stub, "--concurrency", "1", f"--use-cache={cache}"), model=MODEL)
    run_dir = next(first.work_dir.glob("*/report.json")).parent
    wrong = {r["sample_id"] for r in first.records if "error" in r or not r["correct"]}
    assert 0 < len(wrong) < N

    stub.start("--answers", str(answers))
    again = run_suite(*api_args(stub, f"--use-cache={cache}", "--rerun-failed", str(run_dir)), model=MODEL)
    assert again.result.ret == 0, again.result.stdout.str()
    assert {r["sample_id"] for r in again.records} == wrong
    errored = sum("error" in r for r in first.records)
    assert len(stub.posts()) == errored  # incorrect-but-answered samples came from the cache
    again.result.stdout.fnmatch_lines([f"*{N - len(wrong)} deselected*"])


def test_sigkill_of_the_run_loses_nothing_cached(run_suite, openai_stub, answers: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stub = openai_stub("--answers", str(answers), "--delay", "0.3")
    argv = [sys.executable, "-m", "pytest", str(REPO / "benchmarks" / "gsm8k"), "--dataset-dir", str(TEST_DATA),
            "--work-dir", str(tmp_path / "killed"), "-p", "no:cacheprovider", "--model", MODEL,
            "--api-url", stub.base, "--concurrency", "1", f"--use-cache={cache}",
            "--generation-config", "max_new_tokens=4"]  # as run_suite's rerun: the same requests
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db_file = cache / "responses.sqlite"
    deadline = time.monotonic() + 120
    cached = 0
    while cached < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if db_file.is_file():
            with sqlite3.connect(db_file, timeout=10) as db, contextlib.suppress(sqlite3.OperationalError):
                cached = db.execute("SELECT count(*) FROM responses").fetchone()[0]  # (table not made yet)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with sqlite3.connect(db_file) as db:
        kept = db.execute("SELECT count(*) FROM responses").fetchone()[0]
    assert 3 <= kept < N
    served_before = len([r for r in stub.posts() if r["status"] == 200])

    stub.stop()
    stub.start("--answers", str(answers))
    rerun = run_suite(*api_args(stub, f"--use-cache={cache}"), model=MODEL)
    assert rerun.result.ret == 0, rerun.result.stdout.str()
    assert len(rerun.records) == N and all("error" not in r for r in rerun.records)
    assert len(stub.posts()) == N - kept  # only what was not cached is asked again
    assert served_before - kept <= 1  # at most the one request in flight at the kill was answered, not cached
    assert rerun.report["run"]["cache"] == {"path": str(db_file), "hits": kept, "misses": N - kept}


def test_api_key_is_sent_but_never_written(run_suite, openai_stub, answers: Path) -> None:
    key = "sk-test-5ecret-b7e1c0de"
    stub = openai_stub("--answers", str(answers), "--key", key)
    run = run_suite(*api_args(stub, "--api-key", key, "--use-cache"), model=MODEL)
    assert run.result.ret == 0, run.result.stdout.str()
    assert len(run.records) == N
    files = [p for p in run.work_dir.rglob("*") if p.is_file()]
    assert any(p.name == "responses.sqlite" for p in files) and any(p.name == "report.json" for p in files)
    for path in files:
        assert key.encode() not in path.read_bytes(), path
    output = run.result.stdout.str() + run.result.stderr.str()
    assert key not in output
    assert "***" in run.report["run"]["argv"]

    wrong = run_suite(*api_args(stub, "--api-key", "sk-wrong"), model=MODEL)
    assert wrong.result.ret == 2
    wrong.result.stdout.fnmatch_lines([f"*{stub.base}: 401 AuthenticationError*check --api-key*"])
    assert not stub.posts()[N:]  # the model check failed first: no completion was asked


def test_connection_refused_is_one_line_naming_the_url(run_suite, openai_stub) -> None:
    stub = openai_stub()
    stub.stop()  # a port where nothing listens
    run = run_suite("--api-url", stub.base, model=MODEL)
    assert run.result.ret not in (0, 5)
    run.result.stdout.fnmatch_lines([f"*Interrupted: evalscope: the model failed to load: "
                                     f"*{stub.base}: connection refused (is the server running?)*"])
    assert "Traceback" not in run.result.stdout.str()


def test_unknown_model_is_one_line(run_suite, openai_stub) -> None:
    stub = openai_stub()
    run = run_suite("--api-url", stub.base, model="no-such-model")
    assert run.result.ret == 2
    run.result.stdout.fnmatch_lines([f"*{stub.base}: unknown model 'no-such-model' (served: {MODEL})*"])


def backend(stub: Stub) -> OpenAIBackend:
    return OpenAIBackend(RunConfig(model=MODEL, backend="openai", api_url=api_base(stub.base), template="none"), 1)


def test_loglikelihood_follows_the_server_token_offsets(openai_stub) -> None:
    stub = openai_stub()
    requests = [ChoiceRequest("Question: 2+2?\nAnswer: ", ("4", "five")), ChoiceRequest("Hi", (" there", "!"))]
    got = in_order(backend(stub).loglikelihood(requests))
    for request, result in zip(requests, got, strict=True):
        context = request.context.rstrip()
        for continuation, value, count in zip(request.continuations, result.loglikelihoods,
                                              result.continuation_tokens, strict=True):
            moved = request.context[len(context):] + continuation  # lm-eval: trailing spaces join the continuation
            assert count == len(moved)
            assert value == pytest.approx(sum(char_logprob(c) for c in moved))
        assert result.prompt_tokens == len(context)
        assert all(result.greedy)


def test_max_tokens_zero_refused_falls_back_to_one(openai_stub) -> None:
    stub = openai_stub("--refuse-zero")
    got = in_order(backend(stub).loglikelihood([ChoiceRequest("Hi", (" there", "!"))]))
    assert got[0].loglikelihoods == pytest.approx((sum(map(char_logprob, " there")), char_logprob("!")))
    assert [r["status"] for r in stub.posts()] == [400, 200, 200, 200]  # probe refused once, then max_tokens=1


def test_server_without_echo_refuses_loglikelihood_before_scoring(openai_stub, run_suite, shared_data) -> None:
    stub = openai_stub("--no-echo")
    with pytest.raises(CapabilityError, match="ignores echo=True"):
        backend(stub).loglikelihood([ChoiceRequest("Hi", (" there",))])
    assert len(stub.posts()) == 1  # the probe only

    run = run_suite("--api-url", stub.base, "--limit", "3", bench="arc", data=shared_data, model=MODEL)
    assert run.result.ret == 2
    run.result.stdout.fnmatch_lines(["*Interrupted: evalscope: cannot run this benchmark: *ignores echo=True*"])
    assert len(stub.posts()) == 2  # one probe per run, no scoring request



def test_backend_option_errors(run_suite) -> None:
    no_url = run_suite("--backend", "openai", model=MODEL)
    assert no_url.result.ret == 4
    no_url.result.stderr.fnmatch_lines(["*--backend openai needs --api-url*"])
    if importlib.util.find_spec("vllm") is None:  # the project's venv; vLLM lives in .venv-vllm (make vllm)
        in_process = run_suite("--backend", "vllm", model=None)
        assert in_process.result.ret == 2
        in_process.result.stdout.fnmatch_lines(["*--backend vllm needs vLLM in this environment*--api-url*"])


def test_a_reply_with_a_lone_surrogate_is_recorded_and_its_neighbours_unaffected(run_suite, openai_stub,
                                                                                 tmp_path: Path) -> None:
    """A server may send `\\udc80` (a lone surrogate, no UTF-8 form): the cache, the JSONL and xdist's channel
    take it; its sample is scored (the character becomes U+FFFD), the others of its group as well."""
    table = {row["question"]: f"So the answer is {row['answer'].rpartition('####')[2].strip().replace(',', '')}."
             for row in QUESTIONS}
    odd = QUESTIONS[3]["question"]
    table[odd] = table[odd][:-1] + " \udc80."
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(table))  # ASCII JSON: the surrogate travels as its escape, as a server sends it
    stub = openai_stub("--answers", str(path))
    cache = tmp_path / "cache"
    for extra in ((), ("-n", "2")):  # the second run: every reply from the cache, records across xdist
        run = run_suite(*api_args(stub, f"--use-cache={cache}", "--eval-batch-size", "4"), *extra, model=MODEL)
        assert run.result.ret == 0, run.result.stdout.str()
        assert len(run.records) == N and all("error" not in r and r["correct"] for r in run.records)
        assert run.by_id()["main-0003"]["output"].endswith(" \ufffd.")
    assert len(stub.posts()) == N  # the second run asked nothing: the reply with the surrogate was cached


def test_a_fleet_spreads_requests_and_survives_an_endpoint_dying(run_suite, openai_stub, answers: Path,
                                                                  tmp_path: Path) -> None:
    clean = run_suite(*api_args(openai_stub("--answers", str(answers))), model=MODEL)
    assert clean.result.ret == 0, clean.result.stdout.str()
    fleet = [openai_stub("--answers", str(answers)), openai_stub("--answers", str(answers), "--die-after", "2"),
             openai_stub("--answers", str(answers))]
    urls = tmp_path / "fleet.txt"  # the first two as a file of URLs, the third repeated on the command line
    urls.write_text(f"# replicas\n{fleet[0].base}\n{fleet[1].base}\n")
    run = run_suite("--api-url", str(urls), "--api-url", fleet[2].base, "--concurrency", "1", model=MODEL)
    assert run.result.ret == 0, run.result.stdout.str()
    assert {k: r["output"] for k, r in run.by_id().items()} == {k: r["output"] for k, r in clean.by_id().items()}
    answered = Counter(r["key"] for stub in fleet for r in stub.posts() if r["status"] == 200)
    assert len(answered) == N and set(answered.values()) == {1}  # every sample answered once, by one endpoint
    assert all(any(r["status"] == 200 for r in stub.posts()) for stub in fleet)  # each one got work
    stats = run.report["run"]["endpoints"]
    assert set(stats) == {stub.base for stub in fleet}
    assert stats[fleet[1].base]["taken_out"] >= 1 and stats[fleet[1].base]["answered"] == 2
    assert sum(s["answered"] for s in stats.values()) == N + 1  # and the GET /models that checks the model
    assert all(s["latency_p50_s"] is not None for s in stats.values())
    assert run.report["model"]["fingerprint"] == f"api:{','.join(sorted(s.base for s in fleet))}|{MODEL}"


def test_a_fleet_url_file_without_urls_is_one_line(run_suite, tmp_path: Path) -> None:
    empty = tmp_path / "fleet.txt"
    empty.write_text("# nothing yet\n")
    run = run_suite("--api-url", str(empty), model=MODEL)
    assert run.result.ret == 4
    assert f"--api-url {empty}: the file lists no URL" in run.result.stderr.str()
