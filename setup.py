"""Packages found, not listed: evalscope's own, and every benchmark folder at the top of the repository shipped
inside the wheel as `evalscope.benchmarks.<name>` (so `python -m evalscope.run` finds them after a plain install).
Everything else about the build is in pyproject.toml."""

from pathlib import Path

from setuptools import find_namespace_packages, find_packages, setup

ROOT = Path(__file__).parent
# A benchmark folder is a plain directory (no __init__.py): its test files are collected by path, not imported.
folders = find_namespace_packages(where=str(ROOT / "benchmarks"), exclude=["*.*", "__pycache__"])
setup(
    packages=[*find_packages(include=["evalscope", "evalscope.*"]), "evalscope.benchmarks",
              *(f"evalscope.benchmarks.{name}" for name in folders)],
    package_dir={"evalscope.benchmarks": "benchmarks"},
)
