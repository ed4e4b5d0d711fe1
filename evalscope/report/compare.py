"""What the standalone report shows about one or more finished runs: scores, paired differences, the samples."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalscope import images, paired
from evalscope.report.rundir import Run
from evalscope.report.templating import score_rows

STATUSES = ("correct", "incorrect", "error", "missing")


@dataclass(frozen=True)
class RunDiff:
    """One run against the reference run (the first given) on one benchmark, paired on sample ids."""

    run: int
    """Index of the candidate run (the reference is 0)."""
    benchmark: str
    metric: str
    candidate: str
    baseline: str
    result: paired.Paired


@dataclass(frozen=True)
class Answer:
    """One run's answer to one sample."""

    status: str
    """correct, incorrect, error (the item failed) or missing (not in this run)."""
    answer: str | None = None
    output: str = ""
    score: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class SampleView:
    """A sample with every run's answer, side by side."""

    benchmark: str
    subset: str
    sample_id: str
    target: str
    prompt: str
    answers: tuple[Answer, ...]
    images: tuple[Mapping[str, str], ...] = ()
    """The images the question showed: `name` and `src`, the thumbnail as a data URI (the page stays one file)."""

    @property
    def status(self) -> str:
        """The reference run's status, which the browser's filter reads."""
        return self.answers[0].status

    @property
    def changed(self) -> bool:
        return len({a.status for a in self.answers}) > 1


@dataclass(frozen=True)
class Comparison:
    """Everything both the HTML and the Markdown views print."""

    labels: tuple[str, ...]
    scores: tuple[Mapping[str, Any], ...]
    """Score rows of every run (report.json's), with `run` (index) and `run_label`."""
    diffs: tuple[RunDiff, ...]
    gates: tuple[Mapping[str, Any] | None, ...]
    """Each run's gate section of report.json (None when it ran without gates)."""
    samples: tuple[SampleView, ...]
    charts: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    """(run label, chart) for each chart a benchmark put in report.json (a heatmap, a length chart)."""


def _answer(record: Mapping[str, Any] | None) -> Answer:
    if record is None:
        return Answer("missing")
    if "error" in record:
        return Answer("error", error=str(record["error"]))
    metric = str(record["primary_metric"])
    score = float(record["metrics"].get(metric, 0.0))
    extracted = (record.get("extracted") or {}).get(metric)
    return Answer("correct" if score >= 1.0 else "incorrect", None if extracted is None else str(extracted),
                  str(record.get("output", "")), score)


def _thumbnails(folder: Path, record: Mapping[str, Any]) -> tuple[Mapping[str, str], ...]:
    """A record's images as the page shows them: each thumbnail the run wrote, inlined (a missing file: the name
    alone)."""
    return tuple({"name": str(image.get("name") or image.get("sha256", "")[:12]),
                  "src": images.thumbnail_src(folder, image)} for image in record.get("images") or ())


def _samples(runs: Sequence[Run]) -> list[SampleView]:
    out = []
    names = sorted({name for run in runs for name in run.records})
    for name in names:
        by_run = [{str(r["sample_id"]): r for r in run.records.get(name, ())} for run in runs]
        ids = sorted({i for records in by_run for i in records})
        for sample_id in ids:
            records = [records.get(sample_id) for records in by_run]
            scored = next((r for r in records if r is not None and "metrics" in r), None)
            first = scored or next(r for r in records if r is not None)
            shown = next((_thumbnails(run.folder, r) for run, r in zip(runs, records, strict=True)
                          if r is not None and r.get("images")), ())
            out.append(SampleView(name, str(first.get("subset", sample_id.rsplit("-", 1)[0])), sample_id,
                                  str(first.get("target", "")), str(first.get("prompt", "")),
                                  tuple(_answer(r) for r in records), shown))
    return out


def build(runs: Sequence[Run]) -> Comparison:
    """The comparison of `runs`; every later run is paired against the first."""
    labels = tuple(run.label for run in runs)
    scores = tuple({**row, "run": i, "run_label": labels[i]} for i, run in enumerate(runs)
                   for row in score_rows(run.report))
    diffs = []
    reference = runs[0]
    for i, run in enumerate(runs[1:], 1):
        for entry in reference.benchmarks:
            name = str(entry["name"])
            metric = reference.primary_metric(name)
            if run.benchmark(name) is None or metric is None:
                continue
            result = paired.compare(run.scores(name, metric), reference.scores(name, metric))
            diffs.append(RunDiff(i, name, metric, labels[i], labels[0], result))
    gates = tuple(run.report.get("gates") for run in runs)
    charts = tuple((labels[i], chart) for i, run in enumerate(runs) for entry in run.benchmarks
                   for chart in entry.get("charts") or ())
    return Comparison(labels, scores, tuple(diffs), gates, tuple(_samples(runs)), charts)


def _fmt(value: Any, digits: int = 4, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(header), line(["---"] * len(header)), *(line(r) for r in rows)]


def markdown(comparison: Comparison) -> str:
    """The report's tables as GitHub Markdown (for a CI log or a PR comment)."""
    out = ["# evalscope report", "", "Runs: " + ", ".join(f"{i + 1}. `{label}`"
                                                          for i, label in enumerate(comparison.labels)), ""]
    out += ["## Scores", ""]
    out += _table(["run", "benchmark", "subset", "metric", "score", "95% CI", "n", "stderr"], [
        [r["run"] + 1, r["benchmark"], r["subset"], r["metric"], _fmt(r["score"]),
         "-" if r.get("ci_low") is None else f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]", r["n"],
         _fmt(r.get("stderr"))] for r in comparison.scores])
    if comparison.diffs:
        out += ["", f"## Paired differences (against run 1, one-sided test that a run is worse, alpha {paired.ALPHA})",
                ""]
        out += _table(["run", "benchmark", "metric", "diff", "95% CI", "p-value", "test", "pairs",
                       "min detectable", "only in run", "only in run 1"], [
            [d.run + 1, d.benchmark, d.metric, _fmt(d.result.diff, sign=True),
             f"[{_fmt(d.result.ci_low, sign=True)}, {_fmt(d.result.ci_high, sign=True)}]",
             f"{d.result.p_value:.4g}", d.result.method, d.result.n, _fmt(d.result.mde),
             len(d.result.only_candidate), len(d.result.only_baseline)] for d in comparison.diffs])
    verdicts = [(i, v) for i, g in enumerate(comparison.gates) if g for v in g.get("verdicts", [])]
    if verdicts:
        out += ["", "## Gates", ""]
        out += _table(["run", "gate", "verdict", "summary"],
                      [[i + 1, v["gate"], "PASS" if v["passed"] else "FAIL", v["summary"]] for i, v in verdicts])
    return "\n".join(out) + "\n"
