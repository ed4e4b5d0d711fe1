"""Finished runs read back from disk (a run folder's report.json and the per-sample predictions it points to),
and the samples of one to run again."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Mapping, Sequence
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

    def hashes(self, name: str) -> dict[str, str]:
        """sample_id -> the digest of the sample scored (runs before digests were recorded have none)."""
        return {str(r["sample_id"]): str(r["sample_hash"]) for r in self.records.get(name, ())
                if r.get("sample_hash")}

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
    lines = path.read_text(encoding="utf-8").split("\n")  # not splitlines: U+2028 in an answer ends no record
    last = max((i for i, line in enumerate(lines, 1) if line.strip()), default=0)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == last:  # the run stopped mid-write (a full disk, a kill): that record is lost, not the run
                warnings.warn(f"{path}:{number}: skipping a truncated last record ({exc.msg})", stacklevel=2)
                continue
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


def _is_run(folder: Path) -> bool:
    return (folder / "report.json").is_file() or (folder / "responses.sqlite").is_file()


def runs_in(work_dir: Path) -> list[Path]:
    """The run folders in a work dir, oldest first (their names are their start times)."""
    return sorted(p for p in work_dir.iterdir() if p.is_dir() and _is_run(p)) if work_dir.is_dir() else []


def _complete(folder: Path) -> bool:
    try:
        return bool(json.loads((folder / "report.json").read_text(encoding="utf-8")).get("complete", True))
    except (OSError, ValueError):
        return False


def resolve(path: Path, flag: str = "run folder") -> Path:
    """A run folder as given, or for a work dir its latest complete run (else its latest); says which it took."""
    if path.suffix == ".json" or _is_run(path):
        return path
    found = runs_in(path)
    if not found:
        raise RunError(f"{path}: not found" if not path.exists() else f"{path}: neither a run folder nor a work dir "
                       "with runs in it")
    complete = [p for p in found if _complete(p)]
    chosen = (complete or found)[-1]
    print(f"evalscope: {flag} {path}: taking its latest{' complete' if complete else ''} run, {chosen.name}",
          file=sys.stderr)
    return chosen


def _finished(folder: Path) -> bool:
    """Whether a run ended with every selected sample scored: its report says complete and counts no errors."""
    try:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    entries = [e for e in report.get("benchmarks") or [] if isinstance(e, dict)]
    return bool(report.get("complete", True)) and not any(e.get("errors") or e.get("n_errors") for e in entries)


def to_resume(path: Path) -> Path:
    """`--resume`'s run folder: the folder given, or a work dir's latest run, finished or not (an older finished
    run is never reopened for writing because a newer one was killed). A finished run (complete, no errors) is
    refused: there is nothing to resume, and resuming would rewrite its files."""
    folder = path.parent if path.suffix == ".json" else path
    if not _is_run(folder):
        found = runs_in(folder)
        if not found:
            raise RunError(f"{path}: not found" if not path.exists() else f"{path}: neither a run folder nor a work "
                           "dir with runs in it")
        folder = found[-1]
        print(f"evalscope: --resume {path}: taking its latest run, {folder.name}", file=sys.stderr)
    if _finished(folder):
        raise RunError(f"{folder}: that run finished (every selected sample scored); nothing to resume "
                       f"(--rerun-failed {folder} runs its wrong answers again in a new run)")
    return folder


def load(path: Path | str) -> Run:
    """A run from its folder or its report.json (a work dir: its latest complete run)."""
    path = resolve(Path(path))
    report_file = path if path.suffix == ".json" else path / "report.json"
    if not report_file.is_file():
        what = "report" if path.suffix == ".json" else "run folder (no report.json in it)"
        raise RunError(f"{path}: not found" if not path.exists() else f"{path}: not a {what}")
    report = _read_json(report_file)
    folder = report_file.parent
    records = {str(e["name"]): _read_jsonl(predictions_path(folder, report, e))
               for e in report["benchmarks"] if isinstance(e, dict) and "name" in e}
    return Run(folder, report, records)


Item = tuple[str, str, str]
"""(benchmark, sample id, `Sample.digest`) of an item of this run."""


def failed_samples(path: Path, items: Sequence[Item | None], by_content: bool = False) -> set[Item]:
    """The items of this run that a previous run got wrong or could not score (`--rerun-failed`), paired by
    sample id (a sample whose content differs between the runs is an error) or by content digest."""
    failed: dict[tuple[str, str], str] = {}
    for bench, records in load(path).records.items():
        scored = {str(r["sample_id"]) for r in records if "error" not in r}
        for record in records:
            sample_id = str(record["sample_id"])
            # A sample that errored in one group and was scored later (e.g. -n) counts as scored.
            if ("error" in record and sample_id not in scored) or record.get("correct") is False:
                failed[(bench, sample_id)] = str(record.get("sample_hash") or "")
    if by_content:
        digests = {(bench, digest) for (bench, _), digest in failed.items() if digest}
        return {item for item in items if item is not None and (item[0], item[2]) in digests}
    chosen = {item for item in items if item is not None and (item[0], item[1]) in failed}
    differ = [item for item in chosen if item[2] and failed[(item[0], item[1])] not in ("", item[2])]
    if differ:
        raise RunError(f"{len(differ)} of the {len(chosen)} samples to rerun are different questions now (e.g. "
                       f"{differ[0][0]} {differ[0][1]}: its input, target or choices changed); pass --pair-by "
                       "content to select them by content")
    return chosen
