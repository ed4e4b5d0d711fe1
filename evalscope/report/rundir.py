"""Finished runs read back from disk (a run folder's report.json and the per-sample predictions it points to),
and the samples of one to run again."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class RunError(ValueError):
    """A run folder or report that cannot be read; the message names the file, on one line."""


@dataclass(frozen=True)
class Run:
    """One finished run: its JSON report and, per benchmark, its per-sample records (scored ones and errors)."""

    folder: Path
    report: Mapping[str, Any]
    records: Mapping[str, tuple[Mapping[str, Any], ...]]

    @property
    def label(self) -> str:
        """Model id and run folder name, e.g. `SmolLM2-135M @ 20250101-120000-000000`."""
        model = self.report.get("model") or {}
        name = str(model.get("id") or "model").rstrip("/").split("/")[-1]
        return f"{name} @ {self.folder.name}"

    @property
    def benchmarks(self) -> list[Mapping[str, Any]]:
        return list(self.report.get("benchmarks") or [])

    def benchmark(self, name: str) -> Mapping[str, Any] | None:
        return next((b for b in self.benchmarks if b.get("name") == name), None)

    def primary_metric(self, name: str) -> str | None:
        entry = self.benchmark(name) or {}
        if entry.get("primary_metric"):
            return str(entry["primary_metric"])
        scored = [r for r in self.records.get(name, ()) if "metrics" in r]
        return str(scored[0]["primary_metric"]) if scored else None

    def scores(self, name: str, metric: str | None = None) -> dict[str, float]:
        """sample_id -> score (the primary metric unless named) of every sample this run scored."""
        metric = metric or self.primary_metric(name)
        return {str(r["sample_id"]): float(r["metrics"][metric]) for r in self.records.get(name, ())
                if "metrics" in r and metric in r["metrics"]}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunError(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise RunError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise RunError(f"{path}: not an evalscope report (no 'benchmarks' list)")
    return data


def _read_jsonl(path: Path) -> tuple[dict[str, Any], ...]:
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RunError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict) or "sample_id" not in record:
            raise RunError(f"{path}:{number}: not a per-sample record (no 'sample_id')")
        out.append(record)
    return tuple(out)


def predictions_path(folder: Path, report: Mapping[str, Any], entry: Mapping[str, Any]) -> Path:
    """Where a benchmark's JSONL lies: beside the report (the folder may have moved, e.g. a CI artifact),
    else under the folder the report was written in (`run.work_dir`)."""
    relative = str(entry.get("predictions") or f"predictions/{entry['name']}.jsonl")
    candidates = [folder / relative]
    work_dir = (report.get("run") or {}).get("work_dir")
    if work_dir:
        candidates.append(Path(work_dir) / relative)
    for path in candidates:
        if path.is_file():
            return path
    raise RunError(f"{folder}: predictions of {entry['name']} not found ({', '.join(map(str, candidates))})")


def load(path: Path | str) -> Run:
    """A run from its folder or its report.json."""
    path = Path(path)
    report_file = path if path.suffix == ".json" else path / "report.json"
    if not report_file.is_file():
        what = "report" if path.suffix == ".json" else "run folder (no report.json in it)"
        raise RunError(f"{path}: not found" if not path.exists() else f"{path}: not a {what}")
    report = _read_json(report_file)
    folder = report_file.parent
    records = {str(e["name"]): _read_jsonl(predictions_path(folder, report, e))
               for e in report["benchmarks"] if isinstance(e, dict) and "name" in e}
    return Run(folder, report, records)


def failed_samples(path: Path) -> set[tuple[str, str]]:
    """(benchmark, sample id) of every sample a previous run got wrong or could not score (`--rerun-failed`)."""
    failed = set()
    for bench, records in load(path).records.items():
        scored = {str(r["sample_id"]) for r in records if "error" not in r}
        for record in records:
            sample_id = str(record["sample_id"])
            # A sample that errored in one group and was scored later (e.g. -n) counts as scored.
            if ("error" in record and sample_id not in scored) or record.get("correct") is False:
                failed.add((bench, sample_id))
    return failed
