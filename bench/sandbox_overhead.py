"""Sandbox overhead: programs/s through bubblewrap (namespaces, rlimits, uid) against plain `python -c`, same run.

    python bench/sandbox_overhead.py [--programs 200] [--workers 1 2]

Each program is a HumanEval-sized one (defines a function, runs five asserts). Plain: one `python -c` per program.
Sandboxed: the program as a benchmark runs it (the harness, the model's code in a process of its own, the tests
calling it over a pipe, a cgroup where one is writable). `workers` at a time; the ratio is plain / sandboxed
programs per second.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalscope.execution.sandbox import Bubblewrap, Limits
from evalscope.kinds.code import Outcome, runner

CODE = "def add(a, b):\n    return a + b\n"
TESTS = "".join(f"assert add({i}, {i}) == {2 * i}\n" for i in range(5))
PROGRAM = f"{CODE}\n{TESTS}print('ok')\n"


def rate(run, programs: int, workers: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        outputs = list(pool.map(lambda _: run(), range(programs)))
    assert all(o.strip() == "ok" for o in outputs), outputs[:3]
    return programs / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    box = Bubblewrap()
    limits = Limits(timeout_s=10)

    def plain() -> str:
        return subprocess.run([box.python, "-I", "-c", PROGRAM], capture_output=True, text=True).stdout

    program = runner(CODE, TESTS)

    def sandboxed() -> str:
        run = box.run(program.script, program.stdin("nonce"), limits)
        return "ok" if Outcome.of(run, "nonce", program.count).passed else run.stderr

    print(f"interpreter {box.python}; cgroup: {box.no_cgroup or 'yes'}; {args.programs} programs per point")
    print("| workers | plain python -c (programs/s) | sandboxed (programs/s) | sandbox cost (plain / sandboxed) |")
    print("|---|---|---|---|")
    for workers in args.workers:
        fast, boxed = rate(plain, args.programs, workers), rate(sandboxed, args.programs, workers)
        print(f"| {workers} | {fast:.1f} | {boxed:.1f} | {fast / boxed:.2f}x |")


if __name__ == "__main__":
    main()
