"""The evaluation backends' pytest options: `--opencompass-config` binds the opencompass suite to its task (its
datasets listed by OpenCompass at configure time); a failed OpenCompass run ends the session with exit 4."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evalscope import options, registry
from evalscope.backends import BackendError
from evalscope.options import Option, OptionTable

BACKENDS = OptionTable("backend", "evaluation backends (pytest benchmarks/opencompass)", (
    Option("--opencompass-config", "OpenCompass's task, the seed's eval_config keys: a YAML/JSON file or inline JSON "
           "{datasets: [gsm8k, ARC_c], models: [{path, openai_api_base, is_chat, batch_size}], limit}"),
))


def pytest_addoption(parser: pytest.Parser) -> None:
    BACKENDS.add_to(parser)


def _targeted(config: pytest.Config, name: str) -> bool:
    """Whether the command line names the suite's folder or a file in it (not a parent folder)."""
    return any(name in Path(arg.split("::", 1)[0]).resolve().parts[-2:] for arg in config.args)


@pytest.hookimpl(tryfirst=True)  # before the core reads --limit: the task's `limit` is the default
def pytest_configure(config: pytest.Config) -> None:
    from evalscope.backends import opencompass as oc

    spec = BACKENDS.value(config, "opencompass_config")
    if not spec:
        if _targeted(config, oc.FOLDER) and not config.option.help:
            raise pytest.UsageError("benchmarks/opencompass needs its task: --opencompass-config FILE")
        return
    try:
        task = oc.load_task(spec)
        run = options.run_config(config)
        listing = oc.prepare(task, run.dataset_dir, run.work_dir / ".opencompass")
    except (ValueError, BackendError) as exc:
        raise pytest.UsageError(f"opencompass: {exc}") from None
    if task.limit is not None and options.value(config, "limit") is None:
        setattr(config.option, options.CORE.dest("limit"), str(task.limit))
    registry.get(oc.FOLDER).bind(task, listing)  # type: ignore[attr-defined]
    config.pluginmanager.register(Failures(), "evalscope-opencompass")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Without its task, a run of a folder holding the opencompass suite (`pytest benchmarks`) leaves it out."""
    from evalscope.backends.opencompass import FOLDER

    if collection_path.name == FOLDER and (collection_path / "benchmark.py").is_file() \
            and not BACKENDS.value(config, "opencompass_config"):
        return True
    return None


class Failures:
    """The first OpenCompass failure this process saw (the controller sees every worker's reports): it ends the run
    with exit 4, in one line naming it and its log."""

    def __init__(self) -> None:
        self.first: str | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.first is None and report.failed and "BackendError:" in report.longreprtext:
            lines = report.longreprtext.strip().splitlines()
            self.first = lines[-1].split("BackendError: ", 1)[-1] if lines else "OpenCompass failed"

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Any:
        failed = self.first is not None and not options.is_worker(session.config)
        if failed:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
        result = yield
        recorder = session.config.pluginmanager.get_plugin("evalscope-recorder")
        if failed and recorder is not None:  # it wrote the status the hook was called with
            recorder.amend(int(session.exitstatus))
        return result

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if self.first is not None:
            terminalreporter.write_line(f"evalscope: {self.first}", red=True)
