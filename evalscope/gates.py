"""CI gates: score thresholds (`--gate`) and a paired regression test against a baseline run (`--baseline`)."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from evalscope import options, paired, registry
from evalscope.config import ConfigError
from evalscope.report import rundir
from evalscope.report.rundir import Run
from evalscope.report.tables import ALL_SUBSETS
from evalscope.schema import SampleResult

GATE_FAILED = 6
"""Exit status of a clean run whose gate failed (pytest itself uses 0-5; 3 is its internal error)."""

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_GATE = re.compile(r"^\s*(?P<target>[^\s:<>=]+)(?::(?P<metric>[^<>=]+?))?\s*(?P<op>>=|<=|>|<)\s*(?P<value>\S+)\s*$")


class GateError(ValueError):
    """A gate that cannot be evaluated (bad syntax, or naming nothing that ran): a usage error."""


@dataclass(frozen=True)
class Threshold:
    """`bench[.subset-or-category][:metric] OP value`, e.g. `gsm8k>=0.40`, `mmlu.stem>=0.3`, `gsm8k:acc>0.1`."""

    text: str
    benchmark: str
    subset: str | None
    """None: the benchmark's OVERALL row (or its only subset)."""
    metric: str | None
    """None: the benchmark's primary metric."""
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Threshold:
        match = _GATE.match(text)
        if match is None:
            raise GateError(f"--gate {text!r}: expected BENCH[.SUBSET][:METRIC]>=VALUE, e.g. 'gsm8k>=0.40'")
        try:
            value = float(match["value"])
        except ValueError:
            raise GateError(f"--gate {text!r}: {match['value']!r} is not a number") from None
        if not math.isfinite(value):
            raise GateError(f"--gate {text!r}: the threshold must be a finite number")
        bench, _, subset = match["target"].partition(".")
        metric = match["metric"].strip() if match["metric"] else None
        return cls(text, bench, subset or None, metric, match["op"], value)


@dataclass(frozen=True)
class Verdict:
    """One gate's outcome, as report.json, the terminal and the HTML show it."""

    gate: str
    """The gate as given (`gsm8k>=0.40`) or `baseline <bench>`."""
    passed: bool
    summary: str
    """One line: what was compared and why it passed or failed."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """JSON-safe numbers behind the verdict (score and interval; or the paired statistics)."""

    def to_json(self) -> dict[str, Any]:
        return {"gate": self.gate, "passed": self.passed, "summary": self.summary, "details": dict(self.details)}


def _row(gate: Threshold, table: pd.DataFrame, primary: Mapping[str, str]) -> pd.Series:
    ran = sorted(table["benchmark"].unique())
    rows = table[table["benchmark"] == gate.benchmark]
    if rows.empty:
        raise GateError(f"--gate {gate.text!r}: benchmark {gate.benchmark!r} did not run (ran: {', '.join(ran)})")
    metric = gate.metric or primary.get(gate.benchmark) or str(rows["metric"].iloc[0])
    if metric not in set(rows["metric"]):
        raise GateError(f"--gate {gate.text!r}: {gate.benchmark} has no metric {metric!r} "
                        f"(metrics: {', '.join(dict.fromkeys(rows['metric']))})")
    rows = rows[rows["metric"] == metric]
    subsets = list(dict.fromkeys(rows["subset"]))
    subset = gate.subset or (ALL_SUBSETS if ALL_SUBSETS in subsets else subsets[0] if len(subsets) == 1 else None)
    chosen = rows[rows["subset"] == subset]
    if chosen.empty:
        raise GateError(f"--gate {gate.text!r}: {gate.benchmark} has no subset or category {gate.subset!r} "
                        f"that ran (rows: {', '.join(subsets)})")
    return chosen.iloc[0]


def check_thresholds(gates: list[Threshold], table: pd.DataFrame, primary: Mapping[str, str]) -> list[Verdict]:
    """Each gate against its row of the score table (raises GateError for a gate that names nothing that ran)."""
    verdicts = []
    for gate in gates:
        row = _row(gate, table, primary)
        score = float(row["score"])
        passed = not math.isnan(score) and OPERATORS[gate.op](score, gate.value)
        interval = (f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]" if pd.notna(row["ci_low"]) else "[-]")
        summary = (f"{row['benchmark']}/{row['subset']} {row['metric']} = {score:.4f} 95% CI {interval}, "
                   f"n = {int(row['n'])}; needs {gate.op} {gate.value:g}")
        details = {"benchmark": row["benchmark"], "subset": row["subset"], "metric": row["metric"], "score": score,
                   "ci_low": None if pd.isna(row["ci_low"]) else float(row["ci_low"]),
                   "ci_high": None if pd.isna(row["ci_high"]) else float(row["ci_high"]), "n": int(row["n"]),
                   "op": gate.op, "threshold": gate.value}
        verdicts.append(Verdict(gate.text, passed, summary, details))
    return verdicts


def _paired_scores(baseline: Run, name: str, metric: str, current: Mapping[str, float],
                   hashes: Mapping[str, str], pair_by: str) -> tuple[dict[str, float], dict[str, float]]:
    """(this run's, the baseline's) scores keyed so that a key pairs the same question: by sample id, checked
    against the samples' digests (a mismatch is an error), or by the digests themselves (`--pair-by content`)."""
    before, theirs = baseline.scores(name, metric), baseline.hashes(name)
    if pair_by == "content":
        return ({hashes[i]: v for i, v in current.items() if i in hashes},
                {theirs[i]: v for i, v in before.items() if i in theirs})
    both = set(current) & set(before)
    differ = sorted(i for i in both if hashes.get(i) and theirs.get(i) and hashes[i] != theirs[i])
    if differ:
        raise GateError(f"--baseline {baseline.folder}: {name}: {len(differ)} of {len(both)} samples paired by id are "
                        f"different questions in the two runs (e.g. {differ[0]}: its input, target or choices "
                        "differ; did the data change?); pass --pair-by content to pair them by content")
    return dict(current), before


def _canonical_setup(benchmark: str, setup: str) -> str:
    """A setup's name today, for a report written under an earlier name (an alias); unknown names stay."""
    try:
        return registry.get(benchmark).setup(setup).name
    except (LookupError, ValueError):
        return setup


def _setting_differences(baseline: Run, name: str, now: Mapping[str, Any]) -> list[str]:
    """Settings that make two runs' scores incomparable: the setup, its few-shot settings, the version."""
    then = baseline.benchmark(name) or {}
    out = [f"version {then.get('version')} -> {now.get('version')}"] if then.get("version") != now.get("version") \
        else []
    for key in ("name", "few_shot_num", "few_shot_random"):
        a, b = (then.get("setup") or {}).get(key), (now.get("setup") or {}).get(key)
        if key == "name" and a is not None:
            a = _canonical_setup(name, str(a))
        if a != b:
            out.append(f"setup {key} {a} -> {b}")
    return out if now and then else []


def check_baseline(baseline: Run, current: Mapping[str, Mapping[str, float]], primary: Mapping[str, str],
                   max_drop: float, hashes: Mapping[str, Mapping[str, str]] | None = None, pair_by: str = "id",
                   settings: Mapping[str, Mapping[str, Any]] | None = None) -> list[Verdict]:
    """Per benchmark present in both runs: fail when the candidate's drop exceeds `max_drop` AND the one-sided
    paired test says the candidate is worse at alpha 0.05. `current`: benchmark -> sample id -> primary score;
    `hashes`: benchmark -> sample id -> `Sample.digest`; `settings`: this run's report entries per benchmark."""
    shared = [name for name in sorted(current) if baseline.benchmark(name) is not None]
    if not shared:
        names = ", ".join(b.get("name", "?") for b in baseline.benchmarks)
        raise GateError(f"--baseline {baseline.folder}: no benchmark in common with this run "
                        f"(baseline: {names}; this run: {', '.join(sorted(current))})")
    verdicts = []
    for name in shared:
        metric = primary[name]
        if not baseline.scores(name, metric) and baseline.records.get(name):
            raise GateError(f"--baseline {baseline.folder}: {name} has no metric {metric!r} in the baseline")
        now, before = _paired_scores(baseline, name, metric, current[name], (hashes or {}).get(name, {}), pair_by)
        result = paired.compare(now, before)
        if result.n == 0:
            raise GateError(f"--baseline {baseline.folder}: {name}: no sample scored in both runs "
                            f"({len(result.only_candidate)} only in this run, {len(result.only_baseline)} only in "
                            "the baseline)")
        drop = -result.diff
        failed = drop > max_drop and result.significant
        if failed:
            why = f"drop {drop:.4f} > max-drop {max_drop:g} and significant (p < {paired.ALPHA})"
        elif drop > max_drop:
            why = f"drop {drop:.4f} > max-drop {max_drop:g} but not significant (p >= {paired.ALPHA})"
        else:
            why = f"drop {max(drop, 0.0):.4f} within max-drop {max_drop:g}"
        changed = _setting_differences(baseline, name, (settings or {}).get(name, {}))
        warning = f"warning: the runs differ in {', '.join(changed)}; " if changed else ""
        summary = f"{warning}{name} {metric}: {result.describe()} -> {why}"
        details = {"benchmark": name, "metric": metric, "max_drop": max_drop, "baseline": str(baseline.folder),
                   "pair_by": pair_by, "settings_differ": changed, **result.to_json()}
        verdicts.append(Verdict(f"baseline {name}", not failed, summary, details))
    return verdicts


@dataclass(frozen=True)
class Outcome:
    """The gates' verdicts on a finished session, or the usage error that kept them from being judged."""

    verdicts: tuple[Verdict, ...] = ()
    error: GateError | None = None

    def section(self) -> dict[str, Any]:
        """report.json's `gates` section."""
        return {"passed": self.error is None and all(v.passed for v in self.verdicts),
                "error": str(self.error) if self.error else None, "verdicts": [v.to_json() for v in self.verdicts]}

    def lines(self) -> list[tuple[str, bool]]:
        """What the terminal shows: (line, passed) per verdict, then the usage error if any."""
        out = [(f"{'PASS' if v.passed else 'FAIL'} {v.gate}: {v.summary}", v.passed) for v in self.verdicts]
        return out + ([(f"ERROR (usage): {self.error}", False)] if self.error is not None else [])


@dataclass(frozen=True)
class GateKeeper:
    """The session's gates, parsed at configure time on the controller; judged once the scores are in."""

    thresholds: tuple[Threshold, ...] = ()
    baseline: Run | None = None
    max_drop: float = 0.02
    pair_by: str = "id"
    """`id` (checked against each sample's content digest) or `content` (`--pair-by content`)."""

    @property
    def active(self) -> bool:
        return bool(self.thresholds) or self.baseline is not None

    def judge(self, table: pd.DataFrame, scores: Mapping[str, Mapping[str, float]], primary: Mapping[str, str],
              hashes: Mapping[str, Mapping[str, str]] | None = None,
              settings: Mapping[str, Mapping[str, Any]] | None = None) -> list[Verdict]:
        """All verdicts (raises GateError when a gate names nothing that ran)."""
        if table.empty:
            raise GateError("no benchmark scored any sample, so no gate can be evaluated")
        verdicts = check_thresholds(list(self.thresholds), table, primary)
        if self.baseline is not None:
            verdicts += check_baseline(self.baseline, scores, primary, self.max_drop, hashes, self.pair_by, settings)
        return verdicts

    def outcome(self, table: pd.DataFrame, results: Iterable[SampleResult],
                settings: Mapping[str, Mapping[str, Any]] | None = None) -> Outcome:
        """The verdicts on a session's score table, per-sample results and report entries per benchmark."""
        primary: dict[str, str] = {}
        scores: dict[str, dict[str, float]] = {}
        hashes: dict[str, dict[str, str]] = {}
        for r in results:
            primary[r.benchmark] = r.primary_metric
            scores.setdefault(r.benchmark, {})[r.sample_id] = float(r.metrics.get(r.primary_metric, 0.0))
            hashes.setdefault(r.benchmark, {})[r.sample_id] = r.sample_hash
        try:
            return Outcome(tuple(self.judge(table, scores, primary, hashes, settings)))
        except GateError as exc:
            return Outcome(error=exc)


def keeper(config: pytest.Config) -> GateKeeper:
    """Parse --gate/--baseline/--max-drop (errors are usage errors, before any inference)."""
    try:
        foreign = tuple(p for prefixes in config.hook.pytest_evalscope_gate_prefixes(config=config) for p in prefixes)
        thresholds = tuple(Threshold.parse(text) for text in options.values(config, "gate")
                           if not text.strip().startswith(foreign))
        for gate in thresholds:
            registry.benchmark_dir(gate.benchmark)
        max_drop = options.number(config, "max_drop", 0.02)
        if not 0 <= max_drop < 1:
            raise ConfigError(f"--max-drop: {max_drop} must be in [0, 1)")
        path = None if config.hook.pytest_evalscope_owns_baseline(config=config) else options.value(config, "baseline")
        baseline = rundir.load(Path(path).expanduser()) if path else None
        pair_by = (options.value(config, "pair_by") or "id").lower()
        if pair_by not in ("id", "content"):
            raise ConfigError(f"--pair-by: {pair_by!r} (choose from id, content)")
    except (GateError, registry.UnknownBenchmark, ConfigError) as exc:
        raise pytest.UsageError(f"{exc}") from None
    except rundir.RunError as exc:
        raise pytest.UsageError(f"--baseline: {exc}") from None
    return GateKeeper(thresholds, baseline, max_drop, pair_by)


def exit_status(status: int, verdicts: Iterable[Verdict], error: GateError | None) -> int:
    """A gate can only turn a clean run (0) into GATE_FAILED, or a clean or failed one into a usage error (4);
    interrupted and internal-error sessions keep their status."""
    if error is not None and status in (0, 1):
        return 4
    if status == 0 and any(not v.passed for v in verdicts):
        return GATE_FAILED
    return status
