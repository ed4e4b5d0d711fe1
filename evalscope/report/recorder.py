"""Controller-side collection of per-sample results (from every xdist worker) and the run's output files."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pytest

import evalscope
from evalscope.config import RunConfig
from evalscope.report import tables
from evalscope.schema import SampleResult
from evalscope.suite import Suite

RESULT_PROPERTY = "evalscope_result"
ITEM_PROPERTY = "evalscope_item"


SECRET_FLAGS = ("--api-key",)


def redact(argv: list[str]) -> list[str]:
    """The command line with secrets (`--api-key K`, `--api-key=K`) replaced by `***`."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in SECRET_FLAGS:
            out.append("***")
        elif arg.startswith(tuple(f"{flag}=" for flag in SECRET_FLAGS)):
            out.append(arg.split("=", 1)[0] + "=***")
        else:
            out.append(arg)
    return out


def new_run_dir(work_dir: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    path = work_dir / stamp
    path.mkdir(parents=True, exist_ok=False)
    return path


def _property(report_: pytest.TestReport, name: str) -> Any:
    for key, value in report_.user_properties:
        if key == name:
            return value
    return None


class Recorder:
    """Receives every item's report; appends each sample's record to JSONL as it arrives (a crash keeps
    what was computed), then writes the JSON report at the end of the session."""

    def __init__(self, config: pytest.Config, run: RunConfig, suites: Mapping[str, Suite]) -> None:
        self.config = config
        self.run = run
        self.suites = suites
        """This process's suites (without xdist, the ones that ran)."""
        self.run_dir: Path | None = None
        self.results: dict[tuple[str, str], SampleResult] = {}
        self.errors: Counter[str] = Counter()
        self.workers: list[dict[str, Any]] = []
        self.table = pd.DataFrame(columns=tables.SCORE_COLUMNS)
        self.started = dt.datetime.now(dt.timezone.utc)
        self._files: dict[str, IO[str]] = {}
        self.report_path: Path | None = None
        self.exitstatus: int | None = None
        self.data: dict[str, Any] = {}
        """The JSON report as last written."""

    def _jsonl(self, bench: str) -> IO[str]:
        if bench not in self._files:
            if self.run_dir is None:
                self.run_dir = new_run_dir(self.run.work_dir)
            path = self.run_dir / "predictions" / f"{bench}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._files[bench] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed at session end
        return self._files[bench]

    def _append(self, bench: str, record: dict[str, Any]) -> None:
        fh = self._jsonl(bench)
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        fh.flush()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        item = _property(report, ITEM_PROPERTY)
        if item is None:
            return
        # Workers append `@group` to node ids for xdist's scheduler; everything after it (terminal, --lf
        # cache, junit) sees the plain id, the same as without -n.
        report.nodeid = report.nodeid.partition("@")[0]
        data = _property(report, RESULT_PROPERTY)
        if report.when == "call" and report.passed and data is not None:
            result = SampleResult.from_json(data)
            self.results[(result.benchmark, result.sample_id)] = result
            self._append(result.benchmark, {**data, "correct": result.correct})
        elif report.failed and report.when in ("setup", "call"):
            self.errors[item["benchmark"]] += 1
            message = report.longreprtext.strip().splitlines()
            self._append(item["benchmark"], {**item, "error": message[-1] if message else "error"})

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        info = getattr(node, "workeroutput", {}).get("evalscope")
        if info:
            self.workers.append(info)

    def add_local(self, info: dict[str, Any]) -> None:
        self.workers.append(info)

    def finish(self, exitstatus: int) -> None:
        for fh in self._files.values():
            fh.close()
        if not self.results and not self.errors:
            return
        ordered = sorted(self.results.values(), key=lambda r: (r.benchmark, r.subset, r.index))
        self.table = tables.score_table(tables.sample_frame(ordered))
        self.exitstatus = exitstatus
        assert self.run_dir is not None
        self.report_path = self.run_dir / "report.json"
        self.data = tables.build_report(self.table, self._benchmark_info(), self._meta())
        tables.write_json(self.report_path, self.data)

    def amend(self, exit_status: int, **sections: Any) -> None:
        """Rewrite the report with sections decided after the scores (gate verdicts) and the final exit status."""
        if self.report_path is None:
            return
        self.exitstatus = exit_status
        self.data = {**self.data, **sections, "run": {**self.data["run"], "exit_status": exit_status}}
        tables.write_json(self.report_path, self.data)

    def _benchmark_info(self) -> dict[str, dict[str, Any]]:
        names = {b for b, _ in self.results} | set(self.errors)
        # Each worker reports the suites it ran (their setup, version, data files and hashes).
        known = {name: info for w in self.workers for name, info in (w.get("suites") or {}).items()}
        known.update({name: suite.info() for name, suite in self.suites.items() if name not in known})
        model: dict[str, Any] = next((w["model"] for w in self.workers if w.get("model")), {})
        info = {}
        for name in names:
            entry: dict[str, Any] = {"n_scored": sum(1 for b, _ in self.results if b == name),
                                     "n_errors": self.errors.get(name, 0),
                                     "predictions": f"predictions/{name}.jsonl"}
            if name not in known:  # e.g. every worker of it crashed
                try:
                    known[name] = Suite.load(name, self.run).info()
                except Exception:  # the report still gets written, without the data fingerprint
                    known[name] = {}
            info[name] = {**entry, **known[name]}
            if "chat_template" in info[name]:  # applied when asked for and the model (or server) has one
                asked = info[name]["chat_template"]
                info[name]["chat_template"] = {**asked, "applied": bool(asked["requested"] and
                                                                       model.get("chat_template", False))}
        return info

    def _cache_counts(self) -> dict[str, Any]:
        caches = [w["cache"] for w in self.workers if w.get("cache")]
        if not caches:
            return {}
        return {"cache": {"path": caches[0]["path"], "hits": sum(c["hits"] for c in caches),
                          "misses": sum(c["misses"] for c in caches)}}

    def _meta(self) -> dict[str, Any]:
        models = [w["model"] for w in self.workers if w.get("model")]
        return {
            "harness": {"name": "evalscope", "version": evalscope.__version__, "git_sha": tables.git_sha(),
                        "python": sys.version.split()[0]},
            "run": {"started": self.started.isoformat(), "finished": dt.datetime.now(dt.timezone.utc).isoformat(),
                    "argv": redact(sys.argv), "work_dir": str(self.run_dir),
                    "predicted": sum(w.get("predicted", 0) for w in self.workers),
                    "batches": sum(w.get("batches", 0) for w in self.workers),
                    "workers": len(self.workers), "exit_status": self.exitstatus,
                    "devices": [w["model"].get("device") for w in self.workers if w.get("model")],
                    "scored": len(self.results), "errors": sum(self.errors.values()),
                    **self._cache_counts()},
            "model": models[0] if models else {"id": self.run.model},
            "model_args": asdict(self.run.model_args),
            "generation_config": asdict(self.run.generation),
            "template": self.run.template,
            "seed": self.run.seed,
            "limit": self.run.limit,
            "eval_batch_size": self.run.eval_batch_size,
        }
