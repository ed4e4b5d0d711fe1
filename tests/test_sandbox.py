"""The sandbox against hostile programs: each scored 0 and contained, the run goes on, the host untouched."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from evalscope.execution.sandbox import Bubblewrap, Limits, SandboxError, make, uid_for
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
    source, count = runner(SIGNATURE + body, TESTS)
    nonce = secrets.token_hex(8)
    run = box.run(source, nonce + "\n", limits or Limits(timeout_s=5))
    return Outcome.of(run, nonce, count), run.stdout


def test_a_right_answer_passes_and_a_wrong_one_fails(box: Bubblewrap) -> None:
    assert judge(box, "    return a + b\n")[0] == Outcome(True, "passed", ("passed", "passed"))
    assert judge(box, "    return 5\n")[0] == Outcome(False, "failed assertion", ("passed", "failed"))
    assert judge(box, "    return a / 0\n")[0].cause == "ZeroDivisionError"
    assert judge(box, "")[0].cause == "IndentationError"  # an empty body
    assert judge(box, "    raise SystemExit(0)\nadd = None\nimport sys; sys.exit(0)\n")[0].cause == "no result"


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
        "kills its parent": ("    import os\n    os.kill(os.getppid(), 9)\n    return None\n", {"failed assertion"}),
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
    # Wait for the sleepers' python, not just their uid: setpriv takes the uid a moment before it sets the death
    # signal, and a harness killed in between leaves that one program to its own end (noted in the README).
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
