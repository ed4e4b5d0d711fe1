"""The seed's entry points (`python -m evalscope.run`, `evalscope eval`, `run_task(dict)`) as one pytest run."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalscope.options import OPTIONS, Option

PARAMETERS: dict[str, Option] = {name: opt for opt in OPTIONS for name in (opt.key, *opt.seed_names)}
"""Seed parameter (run_task key, CLI dest) -> plugin option: derived from the one option table."""
ACCEPTED_NOOP = {"dataset_hub", "mem_cache", "eval_type", "stage", "debug", "dry_run"}
"""Seed parameters that need no action here (e.g. the hub is chosen per benchmark, ModelScope first)."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evalscope eval", description="Evaluate a model on benchmarks (runs the benchmarks' pytest suites).",
        epilog="Arguments after `--` go to pytest unchanged, e.g. `-- -n 2 -x`.")
    p.add_argument("--datasets", nargs="+", help="benchmark names, e.g. gsm8k arc (not with --eval-backend)")
    p.add_argument("--eval-backend", dest="eval_backend", default=None,
                   help="Native (default) or OpenCompass (evalscope.backends), with --eval-config")
    p.add_argument("--eval-config", dest="eval_config", default=None,
                   help="the backend's task: a YAML/JSON file (OpenCompass: datasets, models, limit)")
    for opt in OPTIONS:
        flags = (opt.flag, *opt.aliases)
        if opt.kind == "flag":
            p.add_argument(*flags, dest=opt.key, action="store_true", default=None, help=opt.help)
        elif opt.kind == "append":
            p.add_argument(*flags, dest=opt.key, action="append", default=None, help=opt.help)
        elif opt.kind == "optional":
            p.add_argument(*flags, dest=opt.key, nargs="?", const=True, default=None, help=opt.help)
        else:
            p.add_argument(*flags, dest=opt.key, default=None, help=opt.help)
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
    from evalscope import backends
    from evalscope.registry import add_root, benchmark_dir, benchmarks_root

    params, backend_args = backends.pytest_args(params)  # `eval_backend`: that backend's suite, our run
    extra = [*backend_args, *extra]
    for root in [params["benchmarks_dir"]] if isinstance(params.get("benchmarks_dir"), str) else \
            params.get("benchmarks_dir") or []:
        add_root(Path(root).expanduser(), bool(params.get("allow_override")))
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
        if value is None or key in ("datasets", "work_dir", "outputs", "workers") or key in ACCEPTED_NOOP:
            continue
        if key not in PARAMETERS:
            raise ValueError(f"unknown parameter {key!r}")
        opt = PARAMETERS[key]
        if key in ("model_args", "generation_config") and isinstance(value, dict):
            value = ",".join(f"{k}={_stringify(v)}" for k, v in value.items())
        if opt.kind == "flag":
            args += [opt.flag] if value else []
        elif opt.kind == "append":
            for one in [value] if isinstance(value, str) else value:
                args += [opt.flag, _stringify(one)]
        elif opt.kind == "optional":
            if value is not False:  # `use_cache: True` is the flag alone; a string is its folder
                args.append(f"{opt.flag}={'true' if value is True else value}")
        else:
            args += [opt.flag, _stringify(value)]
    if params.get("workers") is not None:
        args += ["-n", str(params["workers"])]
    return [*args, *extra]


class _ReportCatcher:
    """Keeps the report path of the run it is registered in."""

    report_path: Path | None = None

    def pytest_unconfigure(self, config: Any) -> None:
        recorder = config.pluginmanager.get_plugin("evalscope-recorder")
        if recorder is not None:
            self.report_path = recorder.report_path


def execute(params: dict[str, Any], extra: Sequence[str] = ()) -> tuple[int, Path | None]:
    import pytest

    from evalscope.registry import UnknownBenchmark

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
