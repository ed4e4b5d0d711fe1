"""Aggregate per-sample results into score tables (pandas) and write the JSON report, the source of truth."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalscope import utf8
from evalscope.schema import SampleResult
from evalscope.stats import Estimate, estimate, macro

ALL_SUBSETS = "OVERALL"
MACRO = "MACRO"
SCORE_COLUMNS = ["benchmark", "subset", "metric", "score", "n", "stderr", "ci_low", "ci_high", "ci_method", "level"]
"""`level`: subset, category (a group of subsets, e.g. MMLU's `stem`), overall (micro mean over samples) or
macro (unweighted mean of the subset scores)."""


FRAME_COLUMNS = ["benchmark", "subset", "category", "sample_id", "metric", "value", "cluster", "units"]


def sample_frame(results: Iterable[SampleResult]) -> pd.DataFrame:
    """Long format: one row per (sample, metric)."""
    rows = [
        {"benchmark": r.benchmark, "subset": r.subset, "category": r.category, "sample_id": r.sample_id,
         "metric": m, "value": v, "cluster": r.cluster, "units": r.units.get(m, 1)}
        for r in results
        for m, v in r.metrics.items()
    ]
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def _estimate(part: pd.DataFrame) -> Estimate:
    """Clustered when the samples name the passage or context they share. A value averaging several units
    (IFEval's instructions) counts once per unit, its units clustered by sample: the micro average with the
    ratio estimator's standard error."""
    values, units = part["value"].to_numpy(), part["units"].to_numpy(dtype=int)
    if (units == 1).all():
        clusters = part["cluster"].tolist() if part["cluster"].notna().any() else None
        return estimate(values, clusters=clusters)
    keys = [s if c is None or c != c else c for s, c in zip(part["sample_id"], part["cluster"], strict=True)]
    return estimate(np.repeat(values, units), clusters=list(np.repeat(np.asarray(keys, dtype=object), units)))


def _in_report_order(samples: pd.DataFrame) -> list[tuple[Any, pd.DataFrame]]:
    """(benchmark, metric) groups: the metrics every sample has in the scorer's order (the primary one first), then
    those only some samples have (IFEval's per-instruction rows) by name, so that strict and loose rows sort apart."""
    groups = list(samples.groupby(["benchmark", "metric"], sort=False))
    scored = samples.groupby("benchmark")["sample_id"].nunique()

    def rank(group: tuple[Any, pd.DataFrame]) -> tuple[bool, str]:
        (bench, metric), frame = group
        partial = bool(frame["sample_id"].nunique() < scored[bench])
        return partial, str(metric) if partial else ""

    return sorted(groups, key=rank)  # stable: the benchmarks and the full metrics keep their order


def score_table(samples: pd.DataFrame) -> pd.DataFrame:
    """Per benchmark and metric: a row per subset, per category, and for benchmarks with several subsets an
    OVERALL row (micro mean over samples) and a MACRO row (mean of subset scores). Each row has the score,
    n, standard error and 95% interval."""
    rows = []

    def add(bench: Any, subset: Any, metric: Any, est: Estimate, level: str) -> None:
        rows.append({"benchmark": bench, "subset": subset, "metric": metric, "score": est.mean, "n": est.n,
                     "stderr": est.stderr, "ci_low": est.ci_low, "ci_high": est.ci_high,
                     "ci_method": est.ci_method, "level": level})

    for (bench, metric), frame in _in_report_order(samples):
        per_subset = {s: _estimate(part) for s, part in sorted(frame.groupby("subset"))}
        for subset, est in per_subset.items():
            add(bench, subset, metric, est, "subset")
        if len(per_subset) < 2:
            continue
        for category, part in sorted(frame.dropna(subset=["category"]).groupby("category")):
            add(bench, str(category), metric, _estimate(part), "category")
        add(bench, ALL_SUBSETS, metric, _estimate(frame), "overall")
        add(bench, MACRO, metric, macro(list(per_subset.values())), "macro")
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def format_table(table: pd.DataFrame, errors: Mapping[str, int], timeouts: Mapping[str, int] | None = None) -> str:
    """The terminal view: score with its 95% interval, n and standard error; errored items, and where any check ran
    out of time, the samples scored wrong for it (`checker timeouts`)."""
    if table.empty:
        return "no scored samples"
    view = pd.DataFrame({
        "benchmark": table["benchmark"],
        "subset": [f"{lvl}:{sub}" if lvl == "category" else sub
                   for sub, lvl in zip(table["subset"], table["level"], strict=True)],
        "metric": table["metric"],
        "score": table["score"].map("{:.4f}".format),
        "95% CI": [f"[{lo:.4f}, {hi:.4f}]" if pd.notna(lo) else "-"
                   for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)],
        "n": table["n"],
        "stderr": table["stderr"].map(lambda v: "-" if pd.isna(v) else f"{v:.4f}"),
        "errors": [errors.get(b, 0) for b in table["benchmark"]],
    })
    if timeouts and any(timeouts.values()):
        view["checker timeouts"] = [timeouts.get(b, 0) for b in table["benchmark"]]
    return view.to_string(index=False)


def git_sha() -> str | None:
    """The checkout's commit, when the harness runs from one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _clean(value: Any) -> Any:
    """NaN -> None so the JSON stays standard."""
    return None if isinstance(value, float) and value != value else value


def build_report(table: pd.DataFrame, benchmarks: Mapping[str, dict[str, Any]], meta: dict[str, Any]) -> dict:
    out = dict(meta)
    out["benchmarks"] = []
    for name, info in sorted(benchmarks.items()):
        scores = [{k: _clean(v) for k, v in row.items() if k != "benchmark"}
                  for row in table[table["benchmark"] == name].to_dict("records")]
        out["benchmarks"].append({"name": name, **info, "scores": scores})
    return out


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(utf8.dumps(data, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)
