"""Controller-side collection of per-sample results (from every xdist worker) and the run's output files."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pytest

import evalscope
from evalscope import registry, shards, utf8
from evalscope.config import RunConfig
from evalscope.deadline import CAUSE
from evalscope.judging.verdicts import summary as judge_summary
from evalscope.models.fleet import merge_stats
from evalscope.redaction import redact
from evalscope.report import charts, tables
from evalscope.schema import SampleResult
from evalscope.suite import Suite

RESULT_PROPERTY = "evalscope_result"
ITEM_PROPERTY = "evalscope_item"


def new_run_dir(work_dir: Path) -> Path:
    """A fresh run folder's path under `work_dir` (made when the run first writes to it)."""
    return work_dir / dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")


def crashed_item(nodeid: str) -> tuple[str, str] | None:
    """(benchmark, sample id) of a benchmark item's node id (`benchmarks/gsm8k/test_gsm8k.py::test_gsm8k[main-0003]`),
    for reports that carry nothing else (an xdist worker that crashed while running it)."""
    path, _, rest = nodeid.partition("@")[0].partition("::")
    if "[" not in rest or not rest.endswith("]"):
        return None
    return Path(path).parent.name, rest[rest.index("[") + 1 : -1]


def _property(report_: pytest.TestReport, name: str) -> Any:
    for key, value in report_.user_properties:
        if key == name:
            return value
    return None


class Recorder:
    """Receives every item's report; appends each sample's record to JSONL as it arrives (a crash keeps
    what was computed); report.json is written when the run starts (`complete: false`) and again at its end."""

    def __init__(self, config: pytest.Config, run: RunConfig, suites: Mapping[str, Suite], run_dir: Path) -> None:
        self.config = config
        self.run = run
        self.suites = suites
        """This process's suites (without xdist, the ones that ran)."""
        self.run_dir = run_dir
        """The run folder (`--resume`'s, or a new one); made when the run first writes to it."""
        self.selected: dict[str, int] = {}
        """Benchmark -> items selected to run (for `complete`)."""
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
        self.write_error: str | None = None
        """Why the run's files could not be written (a full disk): the run stops, saying so in one line."""
        self.said_at_end = False
        """The write failed after the tests (report.json): the terminal summary says it, not pytest."""
        self._session: pytest.Session | None = None
        self.shard_totals: dict[str, int] = {}
        """`--shard`: benchmark -> items selected before this shard's part was taken (xdist: the workers say)."""

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._session = session

    def _cannot_write(self, path: Path, exc: OSError) -> None:
        """Stop the run in one line naming the file (pytest's `Interrupted: ...`, exit 2), rather than an
        INTERNALERROR; the records and responses written before stay whole."""
        if self.write_error is not None:
            return
        self.write_error = (f"evalscope: cannot write {path} ({exc.strerror or exc}); the run stopped, what was "
                            f"written before is kept: free the space and --resume {self.run_dir}")
        self.said_at_end = self.exitstatus is not None  # pytest's `Interrupted:` line says it while the run goes
        if self._session is not None:
            self._session.shouldstop = self.write_error
        dsession = self.config.pluginmanager.get_plugin("dsession")  # xdist's controller stops on its own flag
        if dsession is not None:
            dsession.shouldstop = self.write_error

    def _write_report(self) -> None:
        assert self.report_path is not None
        try:
            tables.write_json(self.report_path, self.data)
        except OSError as exc:
            self._cannot_write(self.report_path, exc)

    def _jsonl(self, bench: str) -> IO[str]:
        if bench not in self._files:
            path = self.run_dir / "predictions" / f"{bench}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            # A resumed run writes its records anew: the stored responses make them the same, and whole.
            self._files[bench] = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed at session end
        return self._files[bench]

    def start(self, selected: Mapping[str, int]) -> None:
        """The run begins: report.json says so (`complete: false`), so a killed run's folder is still a run."""
        self.selected = dict(selected)
        self.report_path = self.run_dir / "report.json"
        self.data = tables.build_report(self.table, self._benchmark_info(), {**self._meta(), "complete": False})
        self._write_report()

    def _append(self, bench: str, record: dict[str, Any]) -> None:
        if self.write_error is not None:  # the run is stopping; a file that failed once is not written again
            return
        path = self.run_dir / "predictions" / f"{bench}.jsonl"
        start = None
        try:
            fh = self._jsonl(bench)
            start = fh.tell()
            fh.write(utf8.dumps(record) + "\n")
            fh.flush()
        except OSError as exc:
            self._cannot_write(path, exc)
            failed = self._files.pop(bench, None)
            with contextlib.suppress(OSError):
                if failed is not None:
                    failed.close()  # its unwritten buffer fails again: dropped
            with contextlib.suppress(OSError, ValueError):
                if start is not None:
                    os.truncate(path, start)  # no half line: the file ends with the last whole record

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        item = _property(report, ITEM_PROPERTY)
        crashed = crashed_item(report.nodeid) if item is None and report.failed else None
        if crashed is not None and crashed[0] in self.selected:  # its worker died: no properties came back
            report.nodeid = report.nodeid.partition("@")[0]
            self.errors[crashed[0]] += 1
            why = (report.longreprtext.strip().splitlines() or ["worker crashed"])[-1][:300]
            self._append(crashed[0], {"benchmark": crashed[0], "sample_id": crashed[1],
                                      "error": f"worker crashed while running this item: {why}"})
            return
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

    @property
    def timeouts(self) -> Counter[str]:
        """Benchmark -> samples scored wrong because a check of theirs ran past `--checker-timeout`."""
        return Counter(r.benchmark for r in self.results.values() if r.cause == CAUSE)

    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> Any:
        """A wrong answer is its own outcome, INCORRECT: it passed as a test, it is not a failure of the run."""
        data = _property(report, RESULT_PROPERTY) if report.when == "call" and report.passed else None
        if isinstance(data, dict) and not SampleResult.from_json(data).correct:
            return "incorrect", "i", ("INCORRECT", {"yellow": True})
        return None

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        info = getattr(node, "workeroutput", {}).get("evalscope")
        if info:
            self.workers.append(info)

    def add_local(self, info: dict[str, Any]) -> None:
        self.workers.append(info)

    def finish(self, exitstatus: int) -> None:
        for fh in self._files.values():
            with contextlib.suppress(OSError):  # every line was flushed as it came
                fh.close()
        if not self.results and not self.errors and self.report_path is None:
            return
        ordered = sorted(self.results.values(), key=lambda r: (r.benchmark, r.subset, r.index))
        self.table = tables.score_table(tables.sample_frame(ordered))
        self.exitstatus = exitstatus
        self.report_path = self.run_dir / "report.json"
        info = self._benchmark_info()
        complete = exitstatus in (0, 1) and all(entry["complete"] for entry in info.values())
        self.data = tables.build_report(self.table, info, {**self._meta(), "complete": complete})
        if "shard" in self.data:  # what `evalscope merge` checks the parts against
            self.data["shard"]["settings"] = shards.digest(self.data)
        self._write_report()

    def amend(self, exit_status: int, **sections: Any) -> None:
        """Rewrite the report with sections decided after the scores (gate verdicts) and the final exit status."""
        if self.report_path is None:
            return
        self.exitstatus = exit_status
        self.data = {**self.data, **sections, "run": {**self.data["run"], "exit_status": exit_status}}
        self._write_report()

    def _benchmark_info(self) -> dict[str, dict[str, Any]]:
        names = {b for b, _ in self.results} | set(self.errors) | set(self.selected)
        # Each worker reports the suites it ran (their setup, version, data files and hashes).
        known = {name: info for w in self.workers for name, info in (w.get("suites") or {}).items()}
        known.update({name: suite.info() for name, suite in self.suites.items() if name not in known})
        model = self._model()
        timeouts = self.timeouts
        info = {}
        for name in names:
            scored, errors = sum(1 for b, _ in self.results if b == name), self.errors.get(name, 0)
            selected = self.selected.get(name, scored + errors)
            entry: dict[str, Any] = {"n_scored": scored, "n_errors": errors, "selected": selected,
                                     "scored": scored, "errors": errors, "complete": scored + errors >= selected,
                                     "checker_timeouts": timeouts.get(name, 0),
                                     "predictions": f"predictions/{name}.jsonl"}
            if name not in known:  # e.g. every worker of it crashed
                try:
                    known[name] = Suite.load(name, self.run).info()
                except Exception:  # the report still gets written, without the data fingerprint
                    known[name] = {}
            entry.update(self._summary(name))
            info[name] = {**entry, **known[name]}
            if "chat_template" in info[name]:  # applied when asked for and the model (or server) has one
                asked = info[name]["chat_template"]
                info[name]["chat_template"] = {**asked, "applied": bool(asked["requested"] and
                                                                       model.get("chat_template", False))}
        return info

    def _summary(self, name: str) -> dict[str, Any]:
        """What the results of one benchmark add: generations cut by max_new_tokens (`finish_reason: length`,
        counted, never silent), the judges' section, and the benchmark's own (e.g. a heatmap)."""
        mine = sorted((r for r in self.results.values() if r.benchmark == name), key=lambda r: (r.subset, r.index))
        out: dict[str, Any] = {"cut_by_max_new_tokens": sum(r.finish_reason == "length" for r in mine)}
        judged = judge_summary(mine)
        if judged:
            out["judge_summary"] = judged
        try:  # under xdist the controller collected nothing: the benchmark is found by name
            bench = self.suites[name].bench if name in self.suites else registry.get(name)
        except Exception:  # a benchmark of the user's this process cannot find: its scores are still reported
            return out
        own = bench.summary(mine) if mine else {}
        if own.get("charts") and self.report_path is not None:
            own["charts"] = [charts.with_png(chart, self.report_path.parent) for chart in own["charts"]]
        return {**out, **own}

    def _cache_counts(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("cache", "store"):  # --use-cache's shared cache; the run's own store of responses
            caches = [w[key] for w in self.workers if w.get(key)]
            if caches:
                out[key] = {"path": caches[0]["path"], "hits": sum(c["hits"] for c in caches),
                            "misses": sum(c["misses"] for c in caches)}
        if any("retries" in w for w in self.workers):
            out["retries"] = sum(w.get("retries", 0) for w in self.workers)
        fleets = [w["endpoints"] for w in self.workers if w.get("endpoints")]
        if fleets:  # requests, failures, take-outs and latency per API endpoint
            out["endpoints"] = merge_stats(fleets)
        return out

    def _shard(self) -> dict[str, Any]:
        if self.run.shard is None:
            return {}
        totals = self.shard_totals or next((w["shard_totals"] for w in self.workers if w.get("shard_totals")), {})
        index, count = self.run.shard
        return {"shard": {"index": index, "count": count, "selected_before": totals}}

    def _model(self) -> dict[str, Any]:
        """The model as a worker that loaded it describes it (dtype, device), else as its files do (`loaded:
        false`: every answer came from a store)."""
        loaded = self._loaded()
        return loaded[0] if loaded else next((w["model"] for w in self.workers if w.get("model")), {})

    def _loaded(self) -> list[dict[str, Any]]:
        """Each worker's model info, where the worker loaded the model."""
        return [w["model"] for w in self.workers if w.get("model") and w["model"].get("loaded", True)]

    def _meta(self) -> dict[str, Any]:
        return {**self._shard(),
            "harness": {"name": "evalscope", "version": evalscope.__version__, "git_sha": tables.git_sha(),
                        "python": sys.version.split()[0]},
            "run": {"started": self.started.isoformat(), "finished": dt.datetime.now(dt.timezone.utc).isoformat(),
                    "argv": redact(self.config.invocation_params.args), "work_dir": str(self.run_dir),
                    "predicted": sum(w.get("predicted", 0) for w in self.workers),
                    "batches": sum(w.get("batches", 0) for w in self.workers),
                    "workers": len(self.workers), "exit_status": self.exitstatus,
                    "devices": [m.get("device") for m in self._loaded()],
                    "scored": len(self.results), "errors": sum(self.errors.values()),
                    "resumed": self.run.resume is not None, "checker_timeout_s": self.run.checker_timeout,
                    **self._cache_counts()},
            "model": self._model() or {"id": self.run.model},
            "model_args": asdict(self.run.model_args),
            "generation_config": asdict(self.run.generation),
            "template": self.run.template,
            "seed": self.run.seed,
            "limit": self.run.limit,
            "eval_batch_size": self.run.eval_batch_size,
        }
