"""Runs that survive anything: resume after kill -9 (pytest and an xdist worker), Ctrl-C, bad caches, bad data,
bad servers, pairing that checks it pairs the same questions, secrets kept out, and a faulty network."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from evalscope.cache import ResponseCache
from evalscope.paired import compare
from evalscope.schema import Completion, GenerationRequest
from tests.conftest import REPO, TEST_DATA, default_ctrl_c
from tests.faulty_proxy import FaultyProxy
from tests.openai_stub import MODEL
from tests.planted import KEY, assert_nowhere

KILLER = """
import os, signal
from pathlib import Path

seen = [0]

def pytest_runtest_logreport(report):
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    # the controller also sees every worker's reports: only the named worker (or a session without workers) counts
    if report.when != "call" or worker != (os.environ.get("KILL_WORKER") or None):
        return
    seen[0] += 1
    marker = Path(os.environ["KILL_MARKER"])
    if seen[0] == int(os.environ["KILL_AFTER"]) and not marker.exists():
        marker.write_text("killed")  # once: a resumed run or a restarted worker goes on
        os.kill(os.getpid(), signal.SIGKILL)
"""


def gsm8k(tmp_path: Path, rows: list[dict] | None = None, name: str = "data") -> Path:
    """A GSM8K data folder (the test rows, or `rows`) under `tmp_path/name`."""
    folder = tmp_path / name / "gsm8k"
    folder.mkdir(parents=True)
    lines = [json.dumps(r) for r in rows] if rows else (TEST_DATA / "gsm8k" / "test.jsonl").read_text().splitlines()
    (folder / "test.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "train.jsonl").write_text((TEST_DATA / "gsm8k" / "train.jsonl").read_text())
    return folder.parent


def by_id(folder: Path) -> dict[str, dict]:
    records = [json.loads(line) for path in folder.glob("predictions/*.jsonl") for line in path.open()]
    return {r["sample_id"]: r for r in records}


# --- options that would fail on every sample are refused before any -----------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["--generation-config", "temperature=nan"], "*temperature=nan must be a finite number >= 0*"),
    (["--generation-config", "top_k=-1"], "*top_k=-1 must be >= 0*"),
    (["--generation-config", "repetition_penalty=0"], "*repetition_penalty=0.0 must be a finite number > 0*"),
    (["--seed", str(2**70)], f"*--seed: {2**70} is too large*"),
    (["--request-timeout", "0"], "*--request-timeout: 0 must be positive*"),
    (["--request-timeout", "inf"], "*--request-timeout: 'inf' is not a finite number*"),
    (["--dataset-args", '{"gsm8kk": {"few_shot_num": 0}}'], "*--dataset-args: 'gsm8kk' is not a benchmark of this "
                                                             "run (gsm8k)*"),
])
def test_values_that_would_fail_every_sample_are_usage_errors(run_suite, args: list[str], message: str) -> None:
    run = run_suite("--limit", "1", *args)
    assert run.result.ret == 4
    run.result.stderr.fnmatch_lines([message])
    assert run.records == []


@pytest.mark.parametrize("off", ["false", "0", "no"])
def test_use_cache_false_means_no_cache(run_suite, pytester: pytest.Pytester, off: str) -> None:
    run = run_suite("--limit", "1", f"--use-cache={off}")
    assert run.result.ret == 0 and "cache" not in run.report["run"]
    assert not (pytester.path / off).exists() and not list(pytester.path.rglob("cache/responses.sqlite"))
    pytester.makeini(f"[pytest]\nuse_cache = {off}\n")
    ini = run_suite("--limit", "1")
    assert "cache" not in ini.report["run"]


# --- resume ------------------------------------------------------------------------------------------------------

@pytest.fixture
def killer(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    pytester.makepyfile(killer=KILLER)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # this test may run in an xdist worker itself

    def arm(after: int, worker: str = "") -> None:
        monkeypatch.setenv("KILL_AFTER", str(after))
        monkeypatch.setenv("KILL_WORKER", worker)
        monkeypatch.setenv("KILL_MARKER", str(pytester.path / f"killed-{after}-{worker}"))

    return arm


def test_kill_9_then_resume_asks_only_for_what_is_missing(run_suite, killer, tmp_path: Path) -> None:
    # groups of one batch (not the refilling loop's 4), so that 10 samples are 5 groups and a kill falls between
    batches = ("--eval-batch-size", "2", "--model-args", "decoding=batch")
    reference = run_suite(*batches, max_new_tokens=6)
    killer(5)
    killed = run_suite(*batches, "-p", "killer", max_new_tokens=6)
    assert killed.result.ret == -signal.SIGKILL
    (folder,) = killed.work_dir.iterdir()
    report = json.loads((folder / "report.json").read_text())
    assert report["complete"] is False  # written at the start: the folder is a run, if an unfinished one
    with sqlite3.connect(folder / "responses.sqlite") as db:
        stored = db.execute("SELECT count(*) FROM responses").fetchone()[0]
    assert 5 <= stored < 10
    resumed = run_suite(*batches, "--resume", str(killed.work_dir), max_new_tokens=6)
    assert resumed.result.ret == 0, resumed.result.stdout.str()
    resumed.result.stderr.fnmatch_lines([f"*--resume {killed.work_dir}: taking its latest run, {folder.name}*"])
    final = json.loads((folder / "report.json").read_text())
    assert final["complete"] is True and final["run"]["resumed"] is True
    assert final["run"]["predicted"] == 10 - stored and final["run"]["store"]["hits"] == stored
    assert final["benchmarks"][0]["selected"] == final["benchmarks"][0]["scored"] == 10
    for sample_id, record in reference.by_id().items():
        again = by_id(folder)[sample_id]
        assert (again["output"], again["metrics"]) == (record["output"], record["metrics"]), sample_id


def test_a_killed_xdist_worker_is_recorded_and_resumed(run_suite, killer) -> None:
    killer(1, worker="gw1")
    crashed = run_suite("--eval-batch-size", "1", "-n", "2", "-p", "killer", "--max-worker-restart", "0",
                        max_new_tokens=4)
    assert crashed.result.ret == 1
    (folder,) = crashed.work_dir.iterdir()
    lost = [r for r in by_id(folder).values() if "worker crashed" in r.get("error", "")]
    assert len(lost) == 1 and lost[0]["benchmark"] == "gsm8k"
    entry = json.loads((folder / "report.json").read_text())["benchmarks"][0]
    assert entry["errors"] >= 1 and entry["selected"] == 10
    resumed = run_suite("--eval-batch-size", "1", "-n", "2", "--resume", str(folder), max_new_tokens=4)
    assert resumed.result.ret == 0, resumed.result.stdout.str()
    final = json.loads((folder / "report.json").read_text())
    assert final["complete"] is True and final["benchmarks"][0]["scored"] == 10
    assert final["run"]["predicted"] < 10  # the answers stored before the crash were not asked again


def test_resume_takes_the_latest_run_and_never_reopens_a_finished_one(run_suite, killer) -> None:
    """An older finished run and a newer killed one in a work dir: `--resume WORK_DIR` resumes the killed one and
    leaves every byte of the finished one; a finished run given to `--resume` is refused in one line."""
    finished = run_suite("--eval-batch-size", "2", max_new_tokens=6)
    work = finished.work_dir
    (done,) = work.iterdir()
    before = {p: p.read_bytes() for p in done.rglob("*") if p.is_file()}
    killer(5)
    killed = run_suite("--eval-batch-size", "2", "-p", "killer", "--work-dir", str(work), max_new_tokens=6)
    assert killed.result.ret == -signal.SIGKILL
    (newer,) = set(work.iterdir()) - {done}
    resumed = run_suite("--eval-batch-size", "2", "--resume", str(work), max_new_tokens=6)
    assert resumed.result.ret == 0, resumed.result.stdout.str()
    resumed.result.stderr.fnmatch_lines([f"*--resume {work}: taking its latest run, {newer.name}*"])
    assert {p: p.read_bytes() for p in done.rglob("*") if p.is_file()} == before
    final = json.loads((newer / "report.json").read_text())
    assert final["complete"] is True and final["run"]["resumed"] is True
    assert {k: r["output"] for k, r in by_id(newer).items()} == {k: r["output"] for k, r in by_id(done).items()}
    for given in (work, done):  # the latest run is now finished too; so is the older one
        again = run_suite("--resume", str(given), max_new_tokens=6)
        assert again.result.ret == pytest.ExitCode.USAGE_ERROR
        folder = newer if given == work else done
        again.result.stderr.fnmatch_lines([f"*--resume: {folder}: that run finished (every selected sample scored); "
                                           f"nothing to resume (--rerun-failed {folder} runs its wrong answers again "
                                           "in a new run)*"])
        assert again.records == []
    assert {p: p.read_bytes() for p in done.rglob("*") if p.is_file()} == before


def test_a_full_disk_during_a_jsonl_append_stops_in_one_line_and_loses_nothing(run_suite, tmp_path: Path) -> None:
    """The predictions file on a full device (/dev/full: every write fails with ENOSPC): the run stops with one
    line naming the file (exit 2, no INTERNALERROR), the responses computed are kept, and a resume after the space
    is back asks only for the others."""
    run = tmp_path / "work" / "20200101-000000-000000"  # a run folder to resume, killed before its first record
    (run / "predictions").mkdir(parents=True)
    (run / "responses.sqlite").touch()
    (run / "predictions" / "gsm8k.jsonl").symlink_to("/dev/full")
    full = run_suite("--eval-batch-size", "2", "--resume", str(run), max_new_tokens=6)
    assert full.result.ret == pytest.ExitCode.INTERRUPTED, full.result.stdout.str()
    full.result.stdout.fnmatch_lines([f"*Interrupted: evalscope: cannot write {run}/predictions/gsm8k.jsonl (No space "
                                      f"left on device); the run stopped, what was written before is kept: free the "
                                      f"space and --resume {run}*"])
    assert "INTERNALERROR" not in full.result.stdout.str() + full.result.stderr.str()
    assert "Traceback" not in full.result.stdout.str()
    with sqlite3.connect(run / "responses.sqlite") as db:
        kept = db.execute("SELECT count(*) FROM responses").fetchone()[0]
    assert kept >= 1  # the group computed before the failed write
    (run / "predictions" / "gsm8k.jsonl").unlink()
    resumed = run_suite("--eval-batch-size", "2", "--resume", str(run), max_new_tokens=6)
    assert resumed.result.ret == 0, resumed.result.stdout.str()
    final = json.loads((run / "report.json").read_text())
    assert final["complete"] is True and final["run"]["store"]["hits"] == kept
    assert final["run"]["predicted"] == 10 - kept and len(by_id(run)) == 10


def test_a_full_filesystem_stops_the_run_in_one_line(run_suite, tmp_path: Path) -> None:
    """A real full filesystem (a 48 KiB tmpfs, where mounting is allowed): whichever of the run's files fills it
    first, the run ends with one line naming it, the JSONL holds whole records only, and nothing is an
    INTERNALERROR."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(disk)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip() or mounted.returncode})")
    try:
        full = run_suite("--eval-batch-size", "2", "--work-dir", str(disk), max_new_tokens=6)
        output = full.result.stdout.str() + full.result.stderr.str()
        assert "INTERNALERROR" not in output and "Traceback" not in output, output
        assert full.result.ret == pytest.ExitCode.INTERRUPTED, output
        full.result.stdout.fnmatch_lines([f"*evalscope: cannot write {disk}/*/* (No space left on device); the run "
                                          "stopped*"])
        for path in disk.glob("*/predictions/*.jsonl"):
            assert all(json.loads(line) for line in path.read_text().splitlines())
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_work_dir_stands_for_its_latest_run(run_suite, tmp_path: Path) -> None:
    first = run_suite("--limit", "2")
    work = first.work_dir
    again = run_suite("--limit", "3", "--work-dir", str(work))  # a second run in the same work dir
    assert again.result.ret == 0
    latest = sorted(work.iterdir())[-1]
    out = subprocess.run([sys.executable, "-m", "evalscope.cli", "report", str(work), "--format", "md"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and f"taking its latest complete run, {latest.name}" in out.stderr
    every = subprocess.run([sys.executable, "-m", "evalscope.cli", "report", str(work), "--all", "-o",
                            str(tmp_path / "all.html")], capture_output=True, text=True)
    assert every.returncode == 0 and "(2 runs," in every.stdout
    gated = run_suite("--limit", "2", "--baseline", str(work))
    assert gated.result.ret == 0
    gated.result.stdout.fnmatch_lines(["*PASS baseline gsm8k*"])


# --- Ctrl-C ------------------------------------------------------------------------------------------------------

def test_ctrl_c_during_an_api_run_stops_at_once_and_keeps_what_arrived(openai_stub, tmp_path: Path) -> None:
    stub = openai_stub("--delay", "1.5")
    work = tmp_path / "out"
    args = [sys.executable, "-m", "pytest", str(REPO / "benchmarks" / "gsm8k"), "--dataset-dir", str(TEST_DATA),
            "--api-url", stub.base, "--model", MODEL, "--concurrency", "2", "--work-dir", str(work),
            "-p", "no:cacheprovider", "--request-timeout", "60"]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=default_ctrl_c)
    deadline = time.monotonic() + 60
    while len([r for r in stub.posts() if r["status"] == 200]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # two more requests are in flight now
    proc.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    proc.wait(timeout=30)
    assert proc.returncode == 2
    assert time.monotonic() - interrupted < 3.0  # the requests in flight were abandoned, not waited for
    (folder,) = work.iterdir()
    with sqlite3.connect(folder / "responses.sqlite") as db:
        kept = db.execute("SELECT count(*) FROM responses").fetchone()[0]
    assert kept >= 2  # every answer that arrived before the interrupt
    assert json.loads((folder / "report.json").read_text())["complete"] is False


# --- caches ------------------------------------------------------------------------------------------------------

def test_a_cache_that_cannot_be_written_warns_and_the_answers_still_count(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    cache = ResponseCache(path, timeout=0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the database
    done = Completion("4", 3, 1, "stop", "2+2=")
    with pytest.warns(UserWarning, match="cannot write it .*database is locked.*answers are still scored"):
        cache.put("k", "openai", "m", GenerationRequest("2+2="), done)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only
        cache.put("k2", "openai", "m", GenerationRequest("3+3="), done)
    holder.rollback()


def test_an_unreadable_cache_is_one_line(run_suite, tmp_path: Path) -> None:
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    run = run_suite("--limit", "1", f"--use-cache={broken}")
    assert run.result.ret == 4
    run.result.stderr.fnmatch_lines([f"*{broken}: cannot open the response cache (file is not a database); move it "
                                     "aside or use another --use-cache*"])
    run.result.stderr.no_fnmatch_line("*Traceback*")


def test_editing_a_chat_template_does_not_replay_stale_answers(run_suite, tiny_model: Path, tmp_path: Path) -> None:
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    cache = f"--use-cache={tmp_path / 'cache'}"
    first = run_suite("--limit", "2", cache, model=model)
    template = model / "chat_template.jinja"
    template.write_text(template.read_text().replace("You are a helpful", "You are a careful"))
    second = run_suite("--limit", "2", cache, model=model)
    assert second.report["run"]["cache"]["hits"] == 0 and second.report["run"]["predicted"] == 2
    assert first.records[0]["prompt"] != second.by_id()[first.records[0]["sample_id"]]["prompt"]
    (model / "generation_config.json").write_text(json.dumps({"eos_token_id": 0}))  # other EOS ids
    third = run_suite("--limit", "2", cache, model=model)
    assert third.report["model"]["fingerprint"] != second.report["model"]["fingerprint"]
    assert third.report["run"]["cache"]["hits"] == 0


# --- pairing -----------------------------------------------------------------------------------------------------

def test_a_changed_data_file_is_not_paired_by_id(run_suite, tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (TEST_DATA / "gsm8k" / "test.jsonl").read_text().splitlines()]
    before = run_suite("--limit", "6", data=gsm8k(tmp_path, rows, "v1"))
    changed = [rows[0], {"question": "A new question: what is 2 + 2?", "answer": "2 + 2 = 4\n#### 4"}, *rows[1:]]
    baseline = str(before.work_dir)
    refused = run_suite("--limit", "6", "--baseline", baseline, data=gsm8k(tmp_path, changed, "v2"))
    assert refused.result.ret == 4
    refused.result.stdout.fnmatch_lines(["*gsm8k: 5 of 6 samples paired by id are different questions in the two "
                                         "runs*pass --pair-by content*"])
    by_content = run_suite("--limit", "6", "--baseline", baseline, "--pair-by", "content",
                           data=gsm8k(tmp_path, changed, "v3"))
    assert by_content.result.ret == 0, by_content.result.stdout.str()
    assert by_content.report["gates"]["verdicts"][0]["details"]["n"] == 5  # the five questions both runs asked
    rerun = run_suite("--rerun-failed", baseline, data=gsm8k(tmp_path, changed, "v4"))
    assert rerun.result.ret == 4
    rerun.result.stderr.fnmatch_lines(["*--rerun-failed: * samples to rerun are different questions now*"])


def test_different_setups_are_flagged_beside_the_verdict(run_suite) -> None:
    before = run_suite("--limit", "3")
    other = run_suite("--limit", "3", "--baseline", str(before.work_dir), "--dataset-args",
                      '{"gsm8k": {"setup": "evalscope-0.5", "few_shot_num": 2}}')
    other.result.stdout.fnmatch_lines(["*baseline gsm8k: warning: the runs differ in setup few_shot_num 4 -> 2*"])


def test_the_bootstrap_gives_no_verdict_without_enough_pairs() -> None:
    one = compare({"a": 0.2}, {"a": 0.9})
    assert one.p_value == 1.0 and not one.significant and "not enough pairs" in str(one.note)
    same = compare({str(i): 0.2 for i in range(30)}, {str(i): 0.5 for i in range(30)})
    assert not same.significant and "every paired difference is the same" in str(same.note)
    varied = compare({str(i): 0.1 * (i % 5) for i in range(40)}, {str(i): 0.1 * (i % 5) + 0.3 for i in range(40)})
    assert varied.note is None


# --- bad data ----------------------------------------------------------------------------------------------------

def test_a_broken_jsonl_line_errors_only_its_item(run_suite, tmp_path: Path) -> None:
    lines = (TEST_DATA / "gsm8k" / "test.jsonl").read_text().splitlines()
    data = gsm8k(tmp_path)
    path = data / "gsm8k" / "test.jsonl"
    path.write_text("\n".join([lines[0], "", lines[1][: len(lines[1]) // 2], *lines[2:5]]) + "\n")
    run = run_suite(data=data)
    assert run.result.ret == 1
    errors = {r["sample_id"]: r["error"] for r in run.records if "error" in r}
    assert list(errors) == ["main-0001"] and errors["main-0001"].startswith(f"{path}:3: invalid JSON")
    assert len([r for r in run.records if "metrics" in r]) == 4


def test_a_malformed_exemplar_is_one_line(run_suite, tmp_path: Path) -> None:
    data = gsm8k(tmp_path)
    (data / "gsm8k" / "train.jsonl").write_text('{"question": "Q?", "answer": "#### 1"}\n{"question": "Q2?"}\n')
    run = run_suite("--dataset-args", '{"gsm8k": {"setup": "lm-eval"}}', data=data)
    assert run.result.ret == 2
    run.result.stdout.fnmatch_lines([f"*{data / 'gsm8k' / 'train.jsonl'}:2: missing field 'answer' (few-shot split)"])
    run.result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_a_truncated_last_record_does_not_lose_the_run(run_suite, tmp_path: Path) -> None:
    run = run_suite("--limit", "3")
    (folder,) = run.work_dir.iterdir()
    jsonl = folder / "predictions" / "gsm8k.jsonl"
    text = jsonl.read_text()
    jsonl.write_text(text[: len(text) - 40])  # a full disk cut the last line
    out = subprocess.run([sys.executable, "-m", "evalscope.cli", "report", str(folder), "--format", "md"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "skipping a truncated last record" in out.stderr


def test_a_line_separator_inside_a_record_does_not_split_it(run_suite, tmp_path: Path) -> None:
    run = run_suite("--limit", "2")
    (folder,) = run.work_dir.iterdir()
    jsonl = folder / "predictions" / "gsm8k.jsonl"
    records = [json.loads(line) for line in jsonl.read_text().split("\n") if line]
    records[0]["output"] += "\u2028 and on"  # GPQA's questions hold U+2028; a model may echo it
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    out = subprocess.run([sys.executable, "-m", "evalscope.cli", "report", str(folder), "--format", "md"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_paths_are_not_glob_patterns_and_every_shard_is_read(run_suite, tmp_path: Path) -> None:
    import pandas as pd

    plain = run_suite("--limit", "2", data=gsm8k(tmp_path, name="evals[v2]"))
    assert plain.result.ret == 0 and len(plain.records) == 2
    rows = [json.loads(line) for line in (TEST_DATA / "gsm8k" / "test.jsonl").read_text().splitlines()]
    hub = tmp_path / "hub" / "gsm8k" / "main"
    hub.mkdir(parents=True)
    for i, part in enumerate((rows[:6], rows[6:])):
        pd.DataFrame(part).to_parquet(hub / f"test-0000{i}-of-00002.parquet")
    pd.DataFrame(rows).to_parquet(hub / "train-00000-of-00001.parquet")
    sharded = run_suite("--co", "-q", data=tmp_path / "hub")
    sharded.result.stdout.fnmatch_lines(["10 tests collected*"])


# --- bad servers -------------------------------------------------------------------------------------------------

def test_a_chat_only_server_stops_the_run_once(run_suite, openai_stub) -> None:
    stub = openai_stub("--chat-only")
    run = run_suite("--api-url", stub.base, "--concurrency", "2", "--dataset-args", '{"gsm8k": {"setup": "lm-eval"}}',
                    model=MODEL)
    assert run.result.ret == 2
    run.result.stdout.fnmatch_lines(["*cannot run this benchmark: *has no /v1/completions (a chat-only server?)*"])
    # Nothing more is sent once the first answer says so: the two requests in flight, not one per sample.
    assert len([r for r in stub.posts() if r["path"].endswith("/completions")]) <= 2
    assert run.outcomes["errors"] == 1


@pytest.mark.parametrize("bench", ["gsm8k", "arc"])
def test_a_faulty_network_changes_nothing_but_the_retry_count(run_suite, openai_stub, bench: str) -> None:
    stub = openai_stub()
    args = ("--api-url", stub.base, "--template-type", "none")
    clean = run_suite(*args, bench=bench, model=MODEL)
    proxy = FaultyProxy(stub.base, seed=7).start()
    try:
        faulty = run_suite("--api-url", proxy.base, "--template-type", "none", bench=bench, model=MODEL)
    finally:
        proxy.stop()
    assert faulty.result.ret == clean.result.ret, faulty.result.stdout.str()
    assert proxy.injected > 0
    assert faulty.report["run"]["retries"] == proxy.injected
    ids = sorted(r["sample_id"] for r in faulty.records)
    assert ids == sorted(set(ids)) == sorted(clean.by_id())  # every sample scored exactly once
    for sample_id, record in clean.by_id().items():
        twin = faulty.by_id()[sample_id]
        assert (twin.get("output"), twin.get("metrics"), twin.get("loglikelihoods")) == \
            (record.get("output"), record.get("metrics"), record.get("loglikelihoods")), sample_id


# --- secrets -----------------------------------------------------------------------------------------------------

def test_no_spelling_of_a_secret_reaches_the_report_or_the_cache(run_suite, openai_stub, tmp_path: Path) -> None:
    stub = openai_stub()
    url = stub.base.replace("http://", "http://alice:url-secret@")
    cache = tmp_path / "c"
    for spelling in (["--api-key", "flag-secret"], ["-o", "api_key=ini-secret"], ["-oapi_key=ini-secret"],
                     ["--override-ini=api_key=ini-secret"]):
        run = run_suite("--api-url", url, "--limit", "1", f"--use-cache={cache}", *spelling, model=MODEL)
        assert run.result.ret == 0, run.result.stdout.str()
        text = json.dumps(run.report) + run.result.stdout.str()
        for secret in ("flag-secret", "ini-secret", "url-secret", "alice"):
            assert secret not in text, (spelling, secret)
    with sqlite3.connect(cache / "responses.sqlite") as db:
        assert "url-secret" not in json.dumps(db.execute("SELECT * FROM responses").fetchall())
    seed = subprocess.run([sys.executable, "-m", "evalscope.run", "--datasets", "gsm8k", "--limit", "1",
                           "--dataset-dir", str(TEST_DATA), "--api-url", url, "--model", MODEL, "--api-k",
                           "abbreviated-secret", "--work-dir", str(tmp_path / "seed")],  # argparse expands --api-k
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert seed.returncode == 0, seed.stdout[-2000:]
    (report,) = (tmp_path / "seed").glob("*/report.json")
    assert "abbreviated-secret" not in report.read_text() and "url-secret" not in report.read_text()
    host = tmp_path / "host.py"  # run_task from a script whose own command line holds a secret
    host.write_text(f"from evalscope import run_task\nr = run_task({{'datasets': ['gsm8k'], 'limit': 1, 'api_url': "
                    f"{stub.base!r}, 'model': {MODEL!r}, 'dataset_dir': {str(TEST_DATA)!r}, 'work_dir': "
                    f"{str(tmp_path / 'host')!r}}})\nprint('argv', r['run']['argv'])\n")
    out = subprocess.run([sys.executable, str(host), "--token", "host-secret"], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ}, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "host-secret" not in out.stdout and "gsm8k" in out.stdout


def test_a_planted_key_is_in_no_file_of_the_run_folder_and_no_output(run_suite, openai_stub,
                                                                     pytester: pytest.Pytester) -> None:
    """`--api-key`, `-o api_key=` and a URL's userinfo: nothing the run leaves (report.json, JSONL, the response
    store and cache, pytest-html, junit XML, a DEBUG log file) nor its terminal output holds the key, nor do the
    error lines of a refused connection or a rejected key."""
    stub = openai_stub("--key", KEY)
    open_stub = openai_stub()  # userinfo is sent as basic auth (not as the Bearer key): a server that asks for none
    with_user = open_stub.base.replace("http://", f"http://alice:{KEY}@")
    for n, (url, spelling) in enumerate(((stub.base, ["--api-key", KEY]), (with_user, [f"-oapi_key={KEY}"]))):
        files = pytester.path / f"files-{n}"
        run = run_suite("--api-url", url, "--limit", "2", f"--use-cache={files / 'cache'}", *spelling,
                        f"--html={files / 'rows.html'}", f"--junitxml={files / 'junit.xml'}",
                        f"--log-file={files / 'run.log'}", "--log-file-level=DEBUG", model=MODEL)
        assert run.result.ret == 0, run.result.stdout.str()
        assert len(run.records) == 2 and (files / "rows.html").is_file() and (files / "run.log").is_file()
        assert_nowhere(KEY, run.work_dir, files, run.result.stdout.str(), run.result.stderr.str())
    gone = openai_stub()
    gone.stop()
    for n, (url, spelling) in enumerate(((gone.base.replace("http://", f"http://alice:{KEY}@"), []),
                                         (stub.base, ["--api-key", KEY + "-wrong"]))):  # refused; rejected
        log = pytester.path / f"failed-{n}.log"
        failed = run_suite("--api-url", url, "--limit", "1", *spelling, f"--log-file={log}", model=MODEL)
        assert failed.result.ret not in (0, 5)
        failed.result.stdout.fnmatch_lines(["*connection refused*" if n == 0 else "*401 AuthenticationError*"])
        assert_nowhere(KEY, log, failed.result.stdout.str(), failed.result.stderr.str())
