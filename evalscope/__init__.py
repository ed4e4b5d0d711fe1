"""evalscope: LLM evaluation as pytest suites, one test item per benchmark sample."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def run_task(task_cfg: dict[str, Any] | str) -> dict[str, Any]:
    """Run an evaluation described by the seed's task dict (or a JSON/YAML file path); returns the JSON
    report with `exit_code` and `report_path` added."""
    from evalscope.run import run_task as _run_task

    return _run_task(task_cfg)


__all__ = ["__version__", "run_task"]
