"""The sandbox against hostile programs: each scored 0 and contained, the run goes on, the host untouched."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from evalscope.execution.sandbox import Bubblewrap, Docker, Limits, SandboxError, _hint, make, uid_for
from evalscope.kinds.code import Outcome, runner
from tests.conftest import REPO, default_ctrl_c

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed "
                                "(apt-get install bubblewrap)")

SIGNATURE = "def add(a: int, b: int) -> int:\n"
TESTS = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n\ncheck(add)\n"


def sandbox_processes(uids: set[int]) -> list[str]:
    """Live (not zombie) processes running as `uids` (other tests' programs may be running beside these)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        uid = int(fields.get("Uid", "0").split()[0])
        if uid in uids and not fields.get("State", "").strip().startswith("Z"):
            found.append(f"{status.parent.name} {fields.get('Name', '').strip()}")
    return found


@pytest.fixture(scope="module")
def box() -> Bubblewrap:
    return Bubblewrap()


def judge(box: Bubblewrap, body: str, limits: Limits | None = None) -> tuple[Outcome, str]:
    """`body` as the completion of `add`, run against its tests as a benchmark would; (outcome, stdout)."""
    program = runner(SIGNATURE + body, TESTS)
    nonce = secrets.token_hex(8)
    run = box.run(program.script, program.stdin(nonce), limits or Limits(timeout_s=5))
    return Outcome.of(run, nonce, program.count), run.stdout


def test_a_right_answer_passes_and_a_wrong_one_fails(box: Bubblewrap) -> None:
    assert judge(box, "    return a + b\n")[0] == Outcome(True, "passed", ("passed", "passed"))
    assert judge(box, "    return 5\n")[0] == Outcome(False, "failed assertion", ("passed", "failed"))
    assert judge(box, "    return a / 0\n")[0].cause == "ZeroDivisionError"
    assert judge(box, "")[0].cause == "IndentationError"  # an empty body
    assert judge(box, "    raise SystemExit(0)\nadd = None\nimport sys; sys.exit(0)\n")[0].cause == "no result"


FORGED = '{"tests": {"0": "passed", "1": "passed"}, "error": null}'  # a result line of this harness
FORGED_OLD = '{"0": "passed", "1": "passed"}'  # and of the runner before it
FRAMES = ("    import sys\n    seen, frame = [], sys._getframe()\n    while frame is not None:\n"
          "        seen += [frame.f_globals, frame.f_locals]\n        frame = frame.f_back\n")
HACKS = {
    # reads the nonce from __main__ and every frame above it, prints passing result lines and leaves at once
    "forges the result line": (
        FRAMES + "    import __main__, os\n    seen.append(vars(__main__))\n"
        "    for names in seen:\n        for value in list(names.values()):\n            if isinstance(value, str):\n"
        f"                print('\\n' + value + {FORGED!r})\n                print('\\n' + value + {FORGED_OLD!r})\n"
        "    sys.stdout.flush()\n    os._exit(0)\n"),
    # swaps the harness's recording function, wherever it can find it, for one that records a pass
    "replaces the recording function": (
        FRAMES + "    for names in seen:\n        for key, value in list(names.items()):\n"
        "            if 'record' in key and callable(value):\n"
        "                names[key] = lambda i, outcome, real=value: real(i, 'passed')\n    return None\n"),
    # an atexit hook that prints a passing result line, then an exit before the tests run
    "forges at exit": (
        "    return None\nimport atexit, __main__\n"
        "def forge():\n    for value in list(vars(__main__).values()):\n        if isinstance(value, str):\n"
        f"            print('\\n' + value + {FORGED!r})\n            print('\\n' + value + {FORGED_OLD!r})\n"
        "atexit.register(forge)\nraise SystemExit(0)\n"),
    # a value equal to everything
    "equals anything": ("    class Anything:\n        def __eq__(self, other):\n            return True\n"
                        "        __hash__ = object.__hash__\n    return Anything()\n"),
    "an int equal to anything": ("    class Sly(int):\n        def __eq__(self, other):\n            return True\n"
                                 "        __hash__ = int.__hash__\n    return Sly(0)\n"),
    # reads the tests (and the nonce) from the harness's stdin or memory
    "reads the harness": ("    import os\n    for path in ('fd/0', 'mem'):\n        try:\n"
                          "            open(f'/proc/{os.getppid()}/{path}', 'rb')\n            print('reached', path)\n"
                          "        except OSError:\n            pass\n    return None\n"),
}


@pytest.mark.parametrize("hack", HACKS)
def test_a_program_cannot_pass_without_solving_the_problem(box: Bubblewrap, hack: str) -> None:
    outcome, stdout = judge(box, HACKS[hack])
    assert not outcome.passed and "passed" not in outcome.tests, outcome
    assert "reached" not in stdout


@pytest.mark.parametrize("reply", [
    SIGNATURE + "    return a + b\n\nif __name__ == '__main__':\n    import unittest\n    unittest.main()\n",
    SIGNATURE + "    return a + b\n\nif __name__ == '__main__':\n    print(add(int(input()), 1))\n",
    "from __future__ import annotations\n\n" + SIGNATURE + "    return a + b\n",
])
def test_a_right_answer_passes_with_a_main_block_or_a_future_import(box: Bubblewrap, reply: str) -> None:
    program = runner(reply, TESTS)
    nonce = secrets.token_hex(8)
    run = box.run(program.script, program.stdin(nonce), Limits(timeout_s=5))
    assert Outcome.of(run, nonce, program.count) == Outcome(True, "passed", ("passed", "passed")), run.stderr


def test_membership_and_equality_are_decided_by_the_tests(box: Bubblewrap) -> None:
    """`x in f()` iterates the result and compares here: a `__contains__` that always says yes is not asked."""
    code = ("class Everything:\n    def __contains__(self, item):\n        return True\n"
            "    def __iter__(self):\n        return iter([0])\n    def __eq__(self, other):\n        return True\n"
            "def f():\n    return Everything()\ndef g():\n    return [Everything()]\n")
    program = runner(code, "assert 5 in f()\nassert g() == [5]\nassert 0 in f()\n")
    nonce = secrets.token_hex(8)
    run = box.run(program.script, program.stdin(nonce), Limits(timeout_s=5))
    assert Outcome.of(run, nonce, program.count).tests == ("failed", "failed", "passed")


def test_values_of_library_types_cross_and_compare_as_they_would(box: Bubblewrap) -> None:
    """Counter, OrderedDict, namedtuple and subclasses that keep their base's equality compare as in one process;
    generators, objects and exceptions stay in the program's process and still work through the tests."""
    code = ("import collections\nclass Node:\n    def __init__(self, v):\n        self.v, self.left = v, None\n"
            "def depth(n):\n    return 0 if n is None else 1 + depth(n.left)\n"
            "def count(xs):\n    return collections.Counter(xs)\n"
            "Point = collections.namedtuple('Point', 'x y')\ndef point():\n    return Point(1, 2)\n"
            "class Mine(list):\n    pass\ndef mine():\n    return Mine([1, 2])\n"
            "def squares(n):\n    return (i * i for i in range(n))\n"
            "def big():\n    return 7 ** 5000, {(1, 2): {3}, b'x': 1.5j}, float('nan')\n"
            "def fails():\n    raise KeyError('k')\n")
    tests = ("root = Node(1)\nroot.left = Node(2)\nassert depth(root) == 2\nassert root.left.v == 2\n"
             "assert count('abca') == {'a': 2, 'b': 1, 'c': 1}\nassert count('ab').most_common(1) == [('a', 1)]\n"
             "assert point() == (1, 2) and point().y == 2\nassert mine() == [1, 2]\n"
             "assert list(squares(3)) == [0, 1, 4] and sum(squares(4)) == 14\n"
             "n, d, nan = big()\nassert n == 7 ** 5000 and d == {(1, 2): {3}, b'x': 1.5j} and nan != nan\n"
             "try:\n    fails()\nexcept KeyError:\n    caught = True\nassert caught\n")
    program = runner(code, tests)
    nonce = secrets.token_hex(8)
    run = box.run(program.script, program.stdin(nonce), Limits(timeout_s=5))
    assert Outcome.of(run, nonce, program.count) == Outcome(True, "passed", ("passed",) * 9), run.stderr


@pytest.fixture
def canaries(tmp_path_factory: pytest.TempPathFactory):
    """Files the programs try to change: one in the project folder, one in the host's /tmp."""
    project = REPO / "tests" / f".canary-{os.getpid()}-{secrets.token_hex(4)}"
    host_tmp = Path("/tmp") / f"evalscope-canary-{secrets.token_hex(4)}"
    for path in (project, host_tmp):
        path.write_text("untouched")
    yield project, host_tmp
    for path in (project, host_tmp):
        path.unlink(missing_ok=True)


@pytest.fixture
def listener():
    """A TCP server on 127.0.0.1 that counts the connections it gets."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def test_hostile_programs_score_zero_and_leave_the_host_untouched(box: Bubblewrap, canaries, listener,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    project, host_tmp = canaries
    port, accepted = listener
    secret = f"sk-{secrets.token_hex(8)}"
    monkeypatch.setenv("EVALSCOPE_TEST_SECRET", secret)
    hostile = {
        "fork bomb": ("    import os\n    while True:\n        try:\n            os.fork()\n        except OSError:\n"
                      "            pass\n", {"timeout", "killed"}),
        "64 GiB": ("    x = bytearray(64 << 30)\n    return a + b\n", {"memory"}),
        "infinite loop": ("    while True:\n        pass\n", {"timeout"}),
        "ignores SIGTERM": ("    import signal\n    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n    while True:\n"
                            "        pass\n", {"timeout"}),
        "files outside its tmp": (f"    import os\n    for p in ({str(project)!r}, {str(host_tmp)!r}):\n"
                                  "        try:\n            open(p, 'w').write('changed')\n"
                                  "        except OSError:\n            pass\n        try:\n"
                                  "            os.remove(p)\n        except OSError:\n            pass\n"
                                  "    return None\n", {"failed assertion"}),
        "connects to the host": (f"    import socket\n    socket.create_connection(('127.0.0.1', {port}), 2)\n"
                                 "    return a + b\n", {"ConnectionRefusedError", "OSError"}),
        "reads a secret": ("    import os\n    print(dict(os.environ))\n    return None\n", {"failed assertion"}),
        "1 GiB to stdout": ("    import sys\n    for _ in range(16384):\n        sys.stdout.write('x' * 65536)\n"
                            "    return a + b\n", {"output limit"}),
        "kills its parent": ("    import os\n    os.kill(os.getppid(), 9)\n    return None\n", {"killed", "no result"}),
        "raises its rlimits": ("    import resource\n    resource.setrlimit(resource.RLIMIT_NPROC, (-1, -1))\n"
                               "    return a + b\n", {"ValueError"}),
        "leaves a daemon": ("    import os, time\n    if os.fork() == 0:\n        os.setsid()\n        time.sleep(60)\n"
                            "    return None\n", {"failed assertion"}),
    }
    for name, (body, causes) in hostile.items():
        outcome, stdout = judge(box, body, Limits(timeout_s=3))
        assert not outcome.passed and outcome.cause in causes, (name, outcome)
        assert secret not in stdout, name
        assert judge(box, "    return a + b\n")[0].passed, f"the run did not go on after {name}"
    assert project.read_text() == host_tmp.read_text() == "untouched"
    assert accepted == []
    deadline = time.time() + 10
    while sandbox_processes(box.used) and time.time() < deadline:  # a killed namespace takes a moment to go
        time.sleep(0.1)
    assert sandbox_processes(box.used) == []


def test_root_is_not_exempt_from_the_process_limit(box: Bubblewrap) -> None:
    """Root ignores RLIMIT_NPROC, so programs run as another uid: 40 sleeping children hit a limit of 16."""
    body = ("    import os, time\n    made = 0\n    for _ in range(40):\n        try:\n"
            "            if os.fork() == 0:\n                time.sleep(5)\n                os._exit(0)\n"
            "            made += 1\n        except OSError:\n            break\n"
            "    print('children', made)\n    return a + b\n")
    outcome, stdout = judge(box, body, Limits(timeout_s=10, processes=16))
    assert outcome.passed and "children 40" not in stdout
    assert 5 <= int(stdout.split("children ")[1].split()[0]) < 16


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_a_harness_that_dies_leaves_no_program_behind(how: int, tmp_path: Path) -> None:
    script = tmp_path / "harness.py"
    script.write_text(
        "import time\nfrom evalscope.execution import pool as execution\nfrom evalscope.config import RunConfig\n"
        "pool = execution.Pool(RunConfig(exec_workers=2, exec_timeout=60), ci=False)\n"
        "try:\n    for _ in range(2):\n        pool.submit('import time\\ntime.sleep(60)')\n"
        "    print('started', flush=True)\n    time.sleep(60)\nfinally:\n    pool.close()\n")
    harness = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                               preexec_fn=default_ctrl_c)
    assert harness.stdout is not None and harness.stdout.readline().strip() == "started"
    uids = {uid_for(harness.pid, n) for n in range(4)}  # the probe, then the two sleepers
    deadline = time.time() + 10
    # Wait for the sleepers' python, not just their uid: a harness killed before a program's death signal is set
    # makes that program stop before it starts (tested below), and there would be nothing left to find.
    while sum("python" in p for p in sandbox_processes(uids)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert sandbox_processes(uids)
    harness.send_signal(how)
    harness.wait(timeout=30)
    deadline = time.time() + 10
    while sandbox_processes(uids) and time.time() < deadline:
        time.sleep(0.1)
    assert sandbox_processes(uids) == []


def test_unconfined_is_refused_under_ci_unless_allowed() -> None:
    with pytest.raises(SandboxError, match="under CI=true it also needs --allow-unsafe-exec"):
        make("none", ci=True, allow_unsafe=False)
    assert make("none", ci=True, allow_unsafe=True).name == "none"
    with pytest.raises(SandboxError, match=r"no Docker daemon|needs the docker CLI"):
        make("docker", ci=False, allow_unsafe=False)  # none runs here


def test_files_in_tmp_count_against_the_programs_memory(box: Bubblewrap) -> None:
    """12 GiB written into its /tmp (16 MiB files, under the file-size limit) stop at its cgroup's 512 MiB: it
    fails with `memory`, and the host never holds more than that."""
    if box.no_cgroup:
        pytest.skip(f"no writable cgroup here ({box.no_cgroup}): /tmp files are not capped")
    body = ("    block = b'x' * (16 << 20)\n    for i in range(768):\n"
            "        with open(f'/tmp/fill-{i}', 'wb') as f:\n            f.write(block)\n    return a + b\n")
    outcome, _ = judge(box, body, Limits(timeout_s=60, memory_bytes=512 << 20))
    assert (outcome.passed, outcome.cause) == (False, "memory")
    assert judge(box, "    return a + b\n")[0].passed


def test_harnesses_side_by_side_never_share_a_uid() -> None:
    """Uids are the harness's pid's own: a fork bomb under one cannot use up another's process limit."""
    for pid in (1, 2, 300, 4001, 32768, 4194303):
        mine = {uid_for(pid, n) for n in range(500)}
        for other in (pid + 1, pid + 4000, pid + 8000, pid * 2 + 1):
            assert mine.isdisjoint(uid_for(other, n) for n in range(500)), (pid, other)
        assert all(0 < uid < (1 << 31) for uid in mine)


def run_as_nobody(script: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`script` under the system's Python as uid 65534 (this checkout on its path)."""
    with tempfile.TemporaryDirectory(prefix="evalscope-nobody-") as folder:
        path = Path(folder) / "as_nobody.py"
        path.write_text(script)
        os.chmod(folder, 0o755)
        return subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                               "/usr/bin/python3", str(path)], capture_output=True, text=True, timeout=timeout,
                              cwd="/", env={"PYTHONPATH": str(REPO), "PATH": os.environ.get("PATH", "/usr/bin:/bin")})


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as another user")
def test_as_an_unprivileged_user_with_many_processes_programs_still_run() -> None:
    """A desktop user already runs more processes than a program may start: the program's process limit counts
    them, so the sandbox starts, and a program still stops at its own limit; no cgroup is said in one line."""
    result = run_as_nobody(
        "import os, signal, time\nfrom evalscope.execution.sandbox import Bubblewrap, Limits\n"
        "children = []\nfor _ in range(48):\n    pid = os.fork()\n    if pid == 0:\n        time.sleep(60)\n"
        "        os._exit(0)\n    children.append(pid)\n"
        "try:\n    box = Bubblewrap()\n    print('cgroup:', box.no_cgroup)\n"
        "    print('run:', box.run('print(40 + 2)', '', Limits(timeout_s=30)).stdout.strip())\n"
        "    bomb = 'import os, time\\nmade = 0\\nfor _ in range(64):\\n    try:\\n        if os.fork() == 0:\\n'"
        "           '            time.sleep(5)\\n            os._exit(0)\\n        made += 1\\n    except OSError:\\n'"
        "           '        break\\nprint(made)\\n'\n"
        "    print('children:', box.run(bomb, '', Limits(timeout_s=30, processes=16)).stdout.strip())\n"
        "finally:\n    for pid in children:\n        os.kill(pid, signal.SIGKILL)\n")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines["run"] == "42"
    assert 5 <= int(lines["children"]) < 16
    assert lines["cgroup"].startswith("cannot make a cgroup") and "\n" not in lines["cgroup"]


def test_the_probe_names_the_process_limit_when_that_is_what_failed() -> None:
    assert "ulimit -u" in _hint("bwrap: Creating new namespace failed: Resource temporarily unavailable")
    assert "user namespaces" in _hint("bwrap: No permissions to creating new namespace")


def test_a_harness_gone_before_the_death_signal_is_set_starts_no_program(tmp_path: Path) -> None:
    """The window between fork and setpriv's death signal: a harness that dies in it leaves a program no signal
    will ever stop. Here the harness is gone before the program's command starts; the command, reparented (to
    a subreaper that reports how it ended), sees it and the program does not run."""
    harness, supervisor = tmp_path / "harness.py", tmp_path / "supervisor.py"
    harness.write_text(
        "import os, sys, time\nfrom pathlib import Path\nfrom evalscope.execution.sandbox import Bubblewrap, Limits\n"
        "box = Bubblewrap()\nprogram = Path(sys.argv[1])\nprogram.write_text('print(\"ran\")\\n')\n"
        "command = box.command(program, Limits(timeout_s=60), 7)\nharness = os.getpid()\n"
        "child = os.fork()\nif child == 0:\n    while os.getppid() == harness:\n        time.sleep(0.01)\n"
        "    os.execvp(command[0], command)\nprint(child, flush=True)\nos._exit(0)\n")
    supervisor.write_text(
        "import ctypes, os, subprocess, sys\nctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER\n"
        "child = int(subprocess.run([sys.executable, *sys.argv[1:]], check=True, capture_output=True).stdout)\n"
        "_, status = os.waitpid(child, 0)\nprint('exit', os.waitstatus_to_exitcode(status))\n")
    os.chmod(tmp_path, 0o755)
    result = subprocess.run([sys.executable, str(supervisor), str(harness), str(tmp_path / "program.py")],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.stdout.split() == ["exit", "125"], (result.stdout, result.stderr)


def test_docker_names_its_container_and_removes_it_past_the_time_limit(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A `docker` on PATH that logs its arguments and, for `run`, hangs like a container that never ends."""
    log = tmp_path / "docker.log"
    fake = tmp_path / "docker"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n[ "$1" = run ] && exec sleep 30\nexit 0\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    docker = Docker()
    run = docker.run("print(1)", "", Limits(timeout_s=1, cpus=1.5))
    assert run.status == "timeout"
    started, removed = log.read_text().splitlines()
    name = started.split("--name ")[1].split()[0]
    assert "--cpus=1.5" in started and "--memory-swap=" in started and "--network none" in started
    assert removed == f"rm -f {name}"
