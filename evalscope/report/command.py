"""`evalscope report RUN_DIR...`: one self-contained HTML file (inline CSS, JS and SVG), or Markdown tables."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalscope.report import compare, merge, rundir
from evalscope.report.templating import render

PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#57606a")


@dataclass(frozen=True)
class Bar:
    """One run's score on one benchmark/subset in the chart, in SVG coordinates."""

    y: float
    width: float
    ci_from: float | None
    ci_to: float | None
    color: str
    title: str


@dataclass(frozen=True)
class Chart:
    """Horizontal bars with 95% whiskers, one group per benchmark/subset (primary metric), one bar per run."""

    width: float
    height: float
    left: float
    plot: float
    groups: tuple[tuple[str, float], ...]
    """(label, y of the label)."""
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[float, str], ...]


def chart(scores: Sequence[Mapping[str, Any]], n_runs: int, left: float = 220, plot: float = 520) -> Chart:
    primary: dict[tuple[int, str], str] = {}
    for row in scores:  # each benchmark's rows list its primary metric first
        primary.setdefault((row["run"], row["benchmark"]), row["metric"])
    rows = [r for r in scores if r["metric"] == primary[(r["run"], r["benchmark"])] and r["score"] is not None]
    keys = list(dict.fromkeys((r["benchmark"], r["subset"]) for r in rows))
    top = max([1.0, *(float(r["ci_high"] if r.get("ci_high") is not None else r["score"]) for r in rows)])
    bar, gap = 14.0, 12.0
    group_h = n_runs * bar + gap
    bars, groups = [], []
    for g, key in enumerate(keys):
        y0 = 10 + g * group_h
        groups.append((f"{key[0]} / {key[1]}", y0 + n_runs * bar / 2 + 4))
        for r in rows:
            if (r["benchmark"], r["subset"]) != key:
                continue
            has_ci = r.get("ci_low") is not None
            bars.append(Bar(y0 + r["run"] * bar, plot * float(r["score"]) / top,
                            left + plot * float(r["ci_low"]) / top if has_ci else None,
                            left + plot * float(r["ci_high"]) / top if has_ci else None,
                            PALETTE[r["run"] % len(PALETTE)],
                            f"{r['run_label']}: {r['metric']} {r['score']:.4f}"
                            + (f" [{r['ci_low']:.4f}, {r['ci_high']:.4f}]" if has_ci else "")))
    height = 10 + len(keys) * group_h + 24
    ticks = tuple((left + plot * t / 4, f"{top * t / 4:.2f}") for t in range(5))
    return Chart(left + plot + 20, height, left, plot, tuple(groups), tuple(bars), ticks)


def html_report(comparison: compare.Comparison) -> str:
    from evalscope.report import charts

    return render("report.html.j2", c=comparison, chart=chart(comparison.scores, len(comparison.labels)),
                  palette=PALETTE, statuses=compare.STATUSES,
                  figures=[(label, charts.svg(figure)) for label, figure in comparison.charts])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evalscope report", description=(
        "Render finished runs as one self-contained HTML file (opens offline) or as Markdown tables. "
        "Later runs are compared with the first on the same samples."))
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (or their report.json); a work dir "
                   "means its latest complete run; the shards of one run (--shard) are shown as one run")
    p.add_argument("--all", action="store_true", help="every run in each work dir given, oldest first")
    p.add_argument("-o", "--output", default="report.html", help="HTML file to write (default report.html)")
    p.add_argument("--format", choices=("html", "md"), default="html", help="md prints Markdown to stdout")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    arena = _arena_report(args.runs)
    if arena is not None:  # an arena run: its own page (leaderboard, heatmap, battles)
        return _write(Path(args.output), arena[1], f"an arena of {len(arena[0]['arena']['records'])} items")
    try:
        folders = [f for path in args.runs for f in (rundir.runs_in(Path(path)) or [Path(path)])] if args.all \
            else [Path(path) for path in args.runs]
        with tempfile.TemporaryDirectory() as tmp:
            if len(folders) > 1 and all(_is_shard(f) for f in folders):  # the parts of one run: shown as one
                merge.merge(folders, Path(tmp) / "merged", allow_partial=True)
                folders = [Path(tmp) / "merged"]
            comparison = compare.build([rundir.load(path) for path in folders])
    except (rundir.RunError, merge.MergeError) as exc:
        print(f"evalscope report: error: {exc}", file=sys.stderr)
        return 4
    if args.format == "md":
        sys.stdout.write(compare.markdown(comparison))
        return 0
    return _write(Path(args.output), html_report(comparison),
                  f"{len(comparison.labels)} runs, {len(comparison.samples)} samples")


def _is_shard(folder: Path) -> bool:
    report = folder / "report.json" if folder.is_dir() else folder
    try:
        return "shard" in json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


def _arena_report(paths: Sequence[str]) -> tuple[Mapping[str, Any], str] | None:
    """(report, page) when the one run given is an arena run."""
    if len(paths) != 1:
        return None
    try:
        report = rundir.load(Path(paths[0])).report
    except rundir.RunError:
        return None  # the general path reports it
    if "arena" not in report:
        return None
    from evalscope.arena.html import page

    return report, page(report)


def _write(out: Path, text: str, what: str) -> int:
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"evalscope report: error: cannot write {out} ({exc.strerror})", file=sys.stderr)
        return 4
    print(f"evalscope report: wrote {out} ({what})")
    return 0
