"""The seed's entry points (`python -m evalscope.run`, `evalscope eval`, `run_task(dict)`) as one pytest run."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Seed parameter -> pytest option of the plugin. Values are passed through as strings.
OPTION_MAP = {
    "model": "--model",
    "model_args": "--model-args",
    "generation_config": "--generation-config",
    "template_type": "--template-type",
    "chat_template": "--template-type",
    "limit": "--limit",
    "dataset_args": "--dataset-args",
    "dataset_dir": "--dataset-dir",
    "seed": "--seed",
    "work_dir": "--work-dir",
    "outputs": "--work-dir",
    "eval_batch_size": "--eval-batch-size",
    "threads": "--threads",
    "backend": "--backend",
    "api_url": "--api-url",
    "api_key": "--api-key",
    "concurrency": "--concurrency",
    "rerun_failed": "--rerun-failed",
}
ACCEPTED_NOOP = {"dataset_hub", "mem_cache", "eval_type", "eval_backend", "stage", "debug", "dry_run"}
"""Seed parameters that need no action here (e.g. the hub is chosen per benchmark, ModelScope first)."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evalscope eval", description="Evaluate a model on benchmarks (runs the benchmarks' pytest suites).",
        epilog="Arguments after `--` go to pytest unchanged, e.g. `-- -n 2 -x`.")
    p.add_argument("--datasets", nargs="+", required=True, help="benchmark names, e.g. gsm8k arc")
    for key, flag in OPTION_MAP.items():
        if flag.lstrip("-").replace("-", "_") == key:
            p.add_argument(flag, dest=key, default=None)
    p.add_argument("--chat-template", dest="chat_template", default=None)
    p.add_argument("--outputs", dest="outputs", default=None, help="alias of --work-dir")
    p.add_argument("--use-cache", dest="use_cache", nargs="?", const=True, default=None,
                   help="per-request response cache: a folder (alone: <work-dir>/cache)")
    p.add_argument("--dataset-hub", dest="dataset_hub", default=None, help="accepted; ModelScope is tried first")
    p.add_argument("-n", "--workers", dest="workers", default=None, help="xdist workers (data parallel)")
    return p


def _stringify(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def pytest_args(params: dict[str, Any], extra: Sequence[str] = ()) -> list[str]:
    """The pytest command line for a seed-style parameter dict (raises UnknownBenchmark)."""
    from evalscope.benchmark import benchmark_dir, benchmarks_root

    datasets = params.get("datasets") or []
    if isinstance(datasets, str):
        datasets = [datasets]
    if not datasets:
        raise ValueError("no datasets given (e.g. --datasets gsm8k)")
    paths = [str(benchmark_dir(name)) for name in datasets]
    work_dir = Path(str(params.get("work_dir") or params.get("outputs") or "outputs")).resolve()
    args = [*paths, "-c", str(Path(__file__).with_name("run.ini")), "--rootdir", str(benchmarks_root()),
            "-o", f"cache_dir={work_dir / '.pytest_cache'}", "--work-dir", str(work_dir)]
    for key, value in params.items():
        if value is None or key in ("datasets", "work_dir", "outputs", "use_cache", "workers") or key in ACCEPTED_NOOP:
            continue
        if key == "model_args" and isinstance(value, dict):
            value = ",".join(f"{k}={_stringify(v)}" for k, v in value.items())
        if key == "generation_config" and isinstance(value, dict):
            value = ",".join(f"{k}={_stringify(v)}" for k, v in value.items())
        if key not in OPTION_MAP:
            raise ValueError(f"unknown parameter {key!r}")
        args += [OPTION_MAP[key], _stringify(value)]
    cache = params.get("use_cache")
    if cache:
        args.append(f"--use-cache={'true' if cache is True else cache}")
    if params.get("workers") is not None:
        args += ["-n", str(params["workers"])]
    return [*args, *extra]


class _ReportCatcher:
    """Keeps the report path of the run it is registered in."""

    report_path: Path | None = None

    def pytest_unconfigure(self, config: Any) -> None:
        from evalscope.plugin import RECORDER_KEY

        recorder = config.stash.get(RECORDER_KEY, None)
        if recorder is not None:
            self.report_path = recorder.report_path


def execute(params: dict[str, Any], extra: Sequence[str] = ()) -> tuple[int, Path | None]:
    import pytest

    from evalscope.benchmark import UnknownBenchmark

    try:
        args = pytest_args(params, extra)
    except (UnknownBenchmark, ValueError) as exc:
        print(f"evalscope: error: {exc}", file=sys.stderr)
        return 4, None
    catcher = _ReportCatcher()
    code = int(pytest.main(args, plugins=[catcher]))
    return code, catcher.report_path


def run_task(task_cfg: dict[str, Any] | str) -> dict[str, Any]:
    """Run a seed-style task (a dict, or a JSON/YAML file); returns the JSON report plus `exit_code`."""
    if isinstance(task_cfg, str):
        text = Path(task_cfg).read_text()
        if task_cfg.endswith((".yaml", ".yml")):
            import yaml

            task_cfg = dict(yaml.safe_load(text))
        else:
            task_cfg = dict(json.loads(text))
    code, report_path = execute(dict(task_cfg))
    report: dict[str, Any] = json.loads(report_path.read_text()) if report_path else {}
    return {**report, "exit_code": code, "report_path": str(report_path) if report_path else None}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    params = {k: v for k, v in vars(parser().parse_args(argv)).items() if v is not None}
    code, _ = execute(params, extra)
    return code


if __name__ == "__main__":
    sys.exit(main())
