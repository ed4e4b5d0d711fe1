"""The perf suite end to end: `pytest benchmarks/perf -m perf` and `evalscope perf` against the calibration server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from evalscope.perf.client import Endpoint
from evalscope.perf.plan import LoadPlan, MissingHeaders
from tests.conftest import REPO
from tests.planted import KEY, assert_nowhere

SUITE = str(REPO / "benchmarks" / "perf")


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(SUITE, "-p", "no:locust", "-p", "no:cacheprovider",
                                         "--work-dir", str(pytester.path / "out"), *args)


def test_sweep_writes_table_json_records_and_html(pytester: pytest.Pytester, calibration) -> None:
    server = calibration(ttft=0.005, itl=0.002)
    result = _run(pytester, "-m", "perf", "--api-url", server.base, "--model", "calib", "--parallel", "1,2,4",
                  "--number", "8", "--max-tokens", "6", "--slo", "ttft_p99<=5s,success_rate>=0.99")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*3 passed*"])
    result.stdout.fnmatch_lines(["*evalscope perf*", "*point*requests*TTFT p50 ms*", "report: *report.json*"])
    (report,) = (pytester.path / "out").glob("perf-*/report.json")
    data = json.loads(report.read_text())
    assert [p["point"]["parallel"] for p in data["points"]] == [1, 2, 4]
    point = data["points"][0]
    assert point["model"] == "calib" and point["violations"] == []
    assert point["summary"]["successes"] == 8 and point["summary"]["latency"]["ttft"]["n"] == 8
    lines = Path(point["records"]).read_text().splitlines()
    assert len(lines) == 9  # 8 measured + 1 warm-up
    page = (report.parent / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "<script" not in page and "http://" not in page.replace(
        server.base, "")


def test_perf_items_are_deselected_without_m_perf(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--parallel", "1,4")
    result.stdout.fnmatch_lines(["*2 deselected*"])
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_slo_violation_fails_the_point_with_measured_values(pytester: pytest.Pytester, calibration) -> None:
    server = calibration(ttft=0.03, itl=0.001)
    result = _run(pytester, "-m", "perf", "--api-url", server.base, "--number", "4", "--max-tokens", "4",
                  "--slo", "ttft_p50<=1ms,success_rate>=0.5")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*parallel1-number4: ttft_p50<=1ms: measured 3?.??ms (VIOLATED); "
                                 "success_rate>=0.5: measured 1 (ok)*"])


def test_model_name_defaults_to_the_servers_first_model(pytester: pytest.Pytester, calibration) -> None:
    server = calibration(ttft=0.001, itl=0.001)
    result = _run(pytester, "-m", "perf", "--url", server.url("completions"), "--api", "completions",
                  "--number", "2", "--max-tokens", "2", "--dataset", "random", "--max-prompt-length", "16")
    assert result.ret == 0, result.stdout.str()
    (summary,) = (pytester.path / "out").glob("perf-*/*/summary.json")
    assert json.loads(summary.read_text())["model"] == "calibration"


@pytest.mark.parametrize(("args", "message"), [
    (["--slo", "ttft<=1s"], "*--slo: unknown metric 'ttft'*"),
    (["--parallel", "1,2", "--number", "1,2,3"], "*--parallel: 2 values for 3 sweep points (give 1 or 3)*"),
    (["--url", "http://10.1.2.3:8000/v1/chat/completions"], "*is not on 127.0.0.1/localhost*"),
    (["--max-tokens", "0"], "*--max-tokens: 0 is below 1*"),
])
def test_bad_options_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    result = _run(pytester, "-m", "perf", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_m_perf_without_a_server_is_a_collection_error(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "-m", "perf")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*-m perf needs the server: --api-url*"])


def test_evalscope_perf_cli_takes_evalscopes_flags(tmp_path: Path, calibration) -> None:
    server = calibration(ttft=0.002, itl=0.001)
    out = subprocess.run(
        [sys.executable, "-m", "evalscope.cli", "perf", "--url", server.url(), "--model", "m", "--parallel", "1", "2",
         "--number", "3", "4", "--max-tokens", "3", "--dataset", "random", "--min-prompt-length", "5",
         "--max-prompt-length", "9", "--headers", "X-Test=1", "--outputs", str(tmp_path),
         "--", "-p", "no:cacheprovider"],
        capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout
    (report,) = tmp_path.glob("perf-*/report.json")
    assert [p["point"]["number"] for p in json.loads(report.read_text())["points"]] == [3, 4]


def test_remote_worker_gets_the_plan_and_sends_records_back(tmp_path: Path, calibration) -> None:
    """A worker started apart (`evalscope perf-worker`, in a folder of its own, no plan file) joins the master over
    TCP, takes its share of the plan from the master and sends its records back: `--locust-remote-workers`."""
    server = calibration(ttft=0.002, itl=0.001)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "remote").mkdir()
    remote = subprocess.Popen([sys.executable, "-m", "evalscope.cli", "perf-worker", "--master", f"127.0.0.1:{port}"],
                              cwd=tmp_path / "remote", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "evalscope.cli", "perf", "--url", server.url(), "--model", "m", "--parallel", "4",
             "--number", "12", "--max-tokens", "3", "--locust-workers", "1", "--locust-remote-workers", "1",
             "--locust-master", f"127.0.0.1:{port}", "--outputs", str(tmp_path), "--", "-p", "no:cacheprovider"],
            capture_output=True, text=True, timeout=240, cwd=tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
        assert remote.wait(timeout=60) == 0
    finally:
        remote.kill()
        remote.wait()
    assert list((tmp_path / "remote").iterdir()) == []  # the remote worker wrote nothing: records went back
    (report,) = tmp_path.glob("perf-*/report.json")
    (point,) = json.loads(report.read_text())["points"]
    records = [json.loads(line) for line in Path(point["records"]).read_text().splitlines()]
    measured = [r for r in records if not r["warmup"]]
    assert sorted(r["index"] for r in measured) == list(range(12))
    assert {r["worker"] for r in measured} == {0, 1} and all(r["status"] == 200 for r in measured)
    assert point["summary"]["successes"] == 12


@pytest.mark.serial
def test_short_sweep_against_vllm_cpu(pytester: pytest.Pytester, vllm_server) -> None:
    """The suite against vLLM's CPU server (skipped without `make vllm`)."""
    result = _run(pytester, "-m", "perf", "--api-url", vllm_server.base, "--model", vllm_server.model,
                  "--parallel", "1,2", "--number", "4", "--max-tokens", "8", "--max-prompt-length", "32",
                  "--max-duration", "120", "--slo", "success_rate>=1")
    assert result.ret == 0, result.stdout.str()
    (report,) = (pytester.path / "out").glob("perf-*/report.json")
    points = json.loads(report.read_text())["points"]
    assert [p["point"]["parallel"] for p in points] == [1, 2]
    for point in points:
        s = point["summary"]
        # vLLM honours ignore_eos and reports usage: every output is exactly max_tokens, checked against usage.
        assert s["successes"] == 4 and s["length_mismatches"] == 0 and s["usage_missing"] == 0
        assert s["output_tokens_mean"] == 8
        assert s["latency"]["ttft"]["p50"] > 0 and s["latency"]["tpot"]["n"] == 4


def test_a_planted_key_reaches_the_server_and_no_perf_output(pytester: pytest.Pytester, calibration) -> None:
    """`--api-key` and `--headers 'NAME=Bearer KEY'` (a value with a space) are sent, locally and by Locust workers,
    and are in no file of the perf folder (report.json, report.html, summaries, records, locust.log), the terminal
    or an error line; the plan file and the plan sent to workers name headers without values."""
    server = calibration(ttft=0.001, itl=0.001, key=KEY)
    for auth, workers in ((["--api-key", KEY], "0"), (["--headers", f"Authorization=Bearer {KEY}"], "2")):
        result = _run(pytester, "-m", "perf", "--api-url", server.base, *auth, "--headers", f"X-Copy={KEY}",
                      "--parallel", "2", "--number", "4", "--max-tokens", "3", "--locust-workers", workers)
        assert result.ret == 0, result.stdout.str()  # every request answered: the server got the key
        (report,) = (pytester.path / "out").glob("perf-*/report.json")
        assert json.loads(report.read_text())["points"][0]["summary"]["successes"] == 4
        assert_nowhere(KEY, pytester.path / "out", result.stdout.str(), result.stderr.str())
        shutil.rmtree(pytester.path / "out")
    plan = LoadPlan(Endpoint(url=server.url(), model="m", headers={"Authorization": f"Bearer {KEY}"}), ("x",), 1)
    assert KEY not in json.dumps(plan.to_json()) and plan.to_json()["endpoint"]["headers"] == ["Authorization"]
    assert LoadPlan.from_json(plan.to_json(), {"Authorization": "Bearer k"}).endpoint.headers == {
        "Authorization": "Bearer k"}
    with pytest.raises(MissingHeaders, match=r"^the plan sends header Authorization, which this process"):
        LoadPlan.from_json(plan.to_json(), {})
    for bad in (KEY, f"={KEY}", f"Bearer {KEY}=x"):  # no '=', no name, not a header name: the value is not shown
        result = _run(pytester, "-m", "perf", "--api-url", server.base, "--headers", "X-Ok=1", "--headers", bad)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["*--headers: value 2 of 2 * (expected NAME=VALUE*"])
        assert_nowhere(KEY, result.stdout.str(), result.stderr.str())


def test_a_remote_worker_is_sent_no_key_and_uses_its_own(tmp_path: Path, calibration) -> None:
    """The master's plan names the Authorization header without its value: a remote worker not given the key
    refuses the plan in one line (the run fails), one given it (env EVALSCOPE_API_KEY) sends it."""
    server = calibration(ttft=0.001, itl=0.001, key=KEY)
    env = {k: v for k, v in os.environ.items() if k not in ("EVALSCOPE_API_KEY", "OPENAI_API_KEY")}
    for given in ({}, {"EVALSCOPE_API_KEY": KEY}):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        remote = subprocess.Popen([sys.executable, "-m", "evalscope.cli", "perf-worker", "--master",
                                   f"127.0.0.1:{port}"], env={**env, **given}, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        out = tmp_path / f"out-{len(given)}"
        try:
            run = subprocess.run(
                [sys.executable, "-m", "evalscope.cli", "perf", "--url", server.url(), "--model", "m", "--api-key",
                 KEY, "--parallel", "1", "--number", "3", "--max-tokens", "2", "--locust-remote-workers", "1",
                 "--locust-master", f"127.0.0.1:{port}", "--outputs", str(out), "--", "-p", "no:cacheprovider"],
                capture_output=True, text=True, timeout=240, cwd=tmp_path, env=env)
            worker_out = remote.communicate(timeout=60)[0]
        finally:
            remote.kill()
            remote.wait()
        assert_nowhere(KEY, out, run.stdout, run.stderr, worker_out)
        if given:
            assert run.returncode == 0 and remote.returncode == 0, run.stdout + worker_out
        else:
            assert run.returncode != 0 and remote.returncode == 5, run.stdout + worker_out
            assert "cannot run the master's plan: the plan sends header Authorization, which this process was not " \
                   "given (`evalscope perf-worker --api-key KEY`" in worker_out
            assert "a worker refused the plan: the plan sends header Authorization" in run.stdout
