"""The built wheel, installed (not editable) into a fresh virtualenv, runs the seed CLI and every benchmark's suite
from another directory: packaging that drifts from the tree fails here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from evalscope.registry import available
from tests.conftest import REPO

# Suites that need more than the shared data to collect: the user's own files, contestants, a config, or data
# that only a hub has
NEEDS_MORE = {"general_mcq", "general_qa", "arena", "perf", "opencompass", "general_vmcq", "general_vqa", "mmmu",
              "chartqa", "tool_bench"}


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **env},
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel built from this tree. Its dependencies are this venv's (a `.pth` line adds
    this venv's site-packages after the new one's, so the wheel's `evalscope` comes first, and the editable
    install's import hook, itself a `.pth` file there, is never run): what is tested is what the wheel ships."""
    tmp = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp),
                  str(REPO)], cwd=tmp)
    assert built.returncode == 0, built.stderr
    wheel, = tmp.glob("evalscope-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "_evalscope_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                      "--no-index", str(wheel)], cwd=tmp)
    assert installed.returncode == 0, installed.stderr
    return venv


def test_the_wheel_is_what_runs(wheel_venv: Path, tmp_path: Path) -> None:
    out = _run([str(wheel_venv / "bin" / "python"), "-c", "import evalscope, evalscope.registry as r; "
                "print(evalscope.__file__); print(r.benchmarks_root())"], cwd=tmp_path)
    module_file, root = out.stdout.split()
    assert module_file.startswith(str(wheel_venv)), module_file
    assert Path(root) == Path(module_file).parent / "benchmarks"


def test_seed_cli_runs_from_another_directory(wheel_venv: Path, tmp_path: Path, shared_data: Path) -> None:
    out = _run([str(wheel_venv / "bin" / "python"), "-m", "evalscope.run", "--datasets", "arc", "--limit", "2",
                "--dataset-dir", str(shared_data), "--work-dir", "runs"], cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert len(list((tmp_path / "runs").glob("*/report.json"))) == 1


def test_every_suite_collects_through_pyargs(wheel_venv: Path, tmp_path: Path, shared_data: Path) -> None:
    """Each built-in suite, by its installed name, collects the same items as the checkout's folder."""
    names = [n for n in available() if n not in NEEDS_MORE]
    common = ["--co", "-q", "--limit", "1", "--dataset-dir", str(shared_data), "-p", "no:cacheprovider"]
    installed = _run([str(wheel_venv / "bin" / "python"), "-m", "pytest", "--pyargs",
                      *(f"evalscope.benchmarks.{n}" for n in names), *common], cwd=tmp_path)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    checkout = _run([sys.executable, "-m", "pytest", *(str(REPO / "benchmarks" / n) for n in names), *common],
                    cwd=REPO)
    assert checkout.returncode == 0, checkout.stdout[-3000:]

    def items(text: str) -> list[str]:  # the runs' rootdirs differ: compare node ids from the suite's folder on
        return sorted(m[1] for m in re.finditer(r"(test_\w+\.py::\S+)", text))

    assert items(installed.stdout) == items(checkout.stdout)
    assert len(items(installed.stdout)) >= len(names)
