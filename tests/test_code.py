"""Code benchmarks: reference solutions pass and wrong ones fail in the sandbox, pass@k, code extraction, the
suites end to end (with xdist), and their options."""

from __future__ import annotations

import json
import math
import secrets
import shutil
from pathlib import Path

import pytest

from evalscope.config import DatasetArgs, RunConfig
from evalscope.execution import pool as execution
from evalscope.execution.sandbox import Execution
from evalscope.kinds.code import Outcome, extract_code, pass_at_k, runner
from evalscope.schema import Sample
from evalscope.suite import Suite

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


def test_pass_at_k_is_the_unbiased_estimator() -> None:
    for n, c, k in [(10, 3, 1), (10, 3, 5), (20, 0, 5), (20, 20, 10), (5, 1, 5), (200, 17, 100)]:
        direct = 1 - math.comb(n - c, k) / math.comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(direct, abs=1e-12), (n, c, k)
    assert pass_at_k(1, 1, 1) == 1.0 and pass_at_k(1, 0, 1) == 0.0


@pytest.mark.parametrize(("reply", "code"), [
    ("Here:\n```python\ndef f():\n    return 1\n```\nDone.", "def f():\n    return 1\n"),
    ("```\ndef f():\n    return 2\n```", "def f():\n    return 2\n"),  # no language tag
    ("```py\nimport math\n```\n```python\ndef g(): pass\n```\n```python\ndef f(x):\n    return x\n```",
     "def f(x):\n    return x\n"),  # the block that defines the entry point
    ("```bash\npip install x\n```\n```python\nprint(1)\n```", "print(1)\n"),  # Python before other languages
    ("def f():\n    return 3\n", "def f():\n    return 3\n"),  # bare code
    ("```python\ndef f():\n    return 4\n", "def f():\n    return 4\n"),  # an unclosed fence
])
def test_code_is_extracted_from_replies(reply: str, code: str) -> None:
    assert extract_code(reply, "f") == code


def test_each_assert_is_its_own_test() -> None:
    program = runner("def f(x):\n    return x * 2\n",
                     "def check(candidate):\n    assert candidate(1) == 2\n    for i in range(3):\n"
                     "        assert candidate(i) == i + i\n    assert candidate(2) == 5\n\ncheck(f)\n")
    assert program.count == 3 and program.tests.count("_record(") >= 4


@pytest.mark.parametrize("stdout", [
    "\nNONCE{\"tests\": {\"0\": \"pas",  # a daemon of the program wrote into the harness's line, or it was cut
    "\nNONCE[1, 2]",
    "\nNONCE{\"tests\": {\"0\": \"passed\"}, \"error\": null}\nNONCE{\"tests\": {}, \"error\": null}",  # two
])
def test_a_broken_result_line_is_no_result(stdout: str) -> None:
    run = Execution("exited", 0, stdout, "", 0.1)
    assert Outcome.of(run, "NONCE", 1) == Outcome(False, "no result", ("not run",))


@pytest.fixture(scope="module")
def pool():
    made = execution.Pool(RunConfig(exec_workers=2), ci=False)
    yield made
    made.close()


def outcomes(pool: execution.Pool, suite: Suite, completion) -> dict[str, Outcome]:
    """Each sample's outcome with `completion(sample)` as the model's answer."""
    futures = {}
    for sample in suite.samples:
        assert isinstance(sample, Sample)
        program = runner(*suite.bench.program(sample, completion(sample), suite.setup))  # type: ignore[arg-type]
        nonce = secrets.token_hex(8)
        futures[sample.id] = (pool.submit(program.script, program.stdin(nonce)), nonce, program.count)
    return {sid: Outcome.of(f.result(), nonce, count) for sid, (f, nonce, count) in futures.items()}


@needs_bwrap
@pytest.mark.parametrize(("name", "setup", "total"), [("humaneval", "completion", 164), ("mbpp", "lm-eval", 500)])
def test_reference_solutions_pass_and_wrong_or_empty_ones_fail(pool, shared_data: Path, name: str, setup: str,
                                                               total: int) -> None:
    suite = Suite.load(name, RunConfig(dataset_dir=shared_data, dataset_args={name: DatasetArgs(setup=setup)}))
    assert len(suite.samples) == total
    right = outcomes(pool, suite, lambda s: s.target)
    assert [sid for sid, o in right.items() if not o.passed] == []  # pass@1 = 1.0

    def wrong(sample: Sample) -> str:
        if name == "humaneval":
            return "    raise RuntimeError('wrong on purpose')\n"
        entry = sample.metadata["tests"][0].split("assert", 1)[1].split("(")[0].strip().lstrip("(").strip()
        return f"{sample.target}\n\ndef {entry}(*args, **kwargs):\n    raise RuntimeError('wrong on purpose')\n"

    assert [sid for sid, o in outcomes(pool, suite, wrong).items() if o.passed] == []
    assert [sid for sid, o in outcomes(pool, suite, lambda s: "").items() if o.passed] == []


@needs_bwrap
def test_humaneval_runs_end_to_end_and_alike_under_xdist(run_suite, shared_data: Path) -> None:
    alone = run_suite("--limit", "4", bench="humaneval", data=shared_data, max_new_tokens=12)
    spread = run_suite("--limit", "4", "-n", "2", bench="humaneval", data=shared_data, max_new_tokens=12)
    assert alone.result.ret == spread.result.ret == 0, alone.result.stdout.str()
    for sample_id, record in alone.by_id().items():
        twin = spread.by_id()[sample_id]
        assert (record["output"], record["metrics"]) == (twin["output"], twin["metrics"])
        assert [r["tests"] for r in record["details"]["runs"]] == [r["tests"] for r in twin["details"]["runs"]]
    record = alone.by_id()["default-0000"]
    run = record["details"]["runs"][0]
    assert record["prompt"].startswith("from typing import List") and "check(has_close_elements)" in run["program"]
    assert set(run) == {"program", "passed", "cause", "tests", "stdout", "stderr", "wall_s"}
    assert alone.report["benchmarks"][0]["scores"][0]["metric"] == "pass@1"


@needs_bwrap
def test_num_samples_gives_pass_at_k(run_suite, shared_data: Path) -> None:
    run = run_suite("--limit", "2", "--num-samples", "3", "--pass-k", "1,3", "--generation-config",
                    "do_sample=true,temperature=1.0,max_new_tokens=8", bench="mbpp", data=shared_data)
    assert run.result.ret == 0, run.result.stdout.str()
    record = run.records[0]
    assert set(record["metrics"]) == {"pass@1", "pass@3"} and record["details"]["samples"] == 3
    assert len(record["details"]["runs"]) == 3
    assert len({r["program"] for r in record["details"]["runs"]}) > 1  # three different samples


@pytest.mark.parametrize(("args", "message"), [
    (["--num-samples", "2"], "*--num-samples 2 with greedy decoding draws 2 identical completions*"),
    (["--pass-k", "5"], "*--pass-k 5: each k must be between 1 and --num-samples (1)*"),
    (["--sandbox", "chroot"], "*--sandbox: 'chroot' (choose from bubblewrap, docker, none)*"),
])
def test_bad_code_options_are_usage_errors(run_suite, args: list[str], message: str) -> None:
    run = run_suite(*args, bench="humaneval")
    assert run.result.ret == 4
    run.result.stderr.fnmatch_lines([message])


def test_unconfined_under_ci_stops_with_one_line(run_suite, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    run = run_suite("--limit", "2", "--sandbox", "none", bench="humaneval", data=shared_data)
    assert run.result.ret == 2
    run.result.stdout.fnmatch_lines(["*Interrupted: evalscope: cannot run the model's code: --sandbox none runs "
                                     "model-written code unconfined; under CI=true it also needs --allow-unsafe-exec*"])
    allowed = run_suite("--limit", "1", "--sandbox", "none", "--allow-unsafe-exec", bench="humaneval",
                        data=shared_data)
    assert allowed.result.ret == 0
    allowed.result.stdout.fnmatch_lines(["*warning: --sandbox none: model-written code runs unconfined*"])


def test_missing_bubblewrap_is_one_line(run_suite, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    run = run_suite("--limit", "2", bench="humaneval", data=shared_data)
    assert run.result.ret == 2
    run.result.stdout.fnmatch_lines(["*cannot run the model's code: code execution needs bwrap, setpriv, prlimit "
                                     "(apt-get install bubblewrap util-linux)*"])
    assert json.dumps(run.records).count("bwrap") >= 1
