"""Gates on an arena run: a model's number against a threshold (`arena.tuned:win_rate>=0.5`) or another model's
(`arena.tuned:rating>arena.base`), and the paired sign test (`arena.tuned>=arena.base`: not significantly worse)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalscope.gates import OPERATORS, GateError, Verdict
from evalscope.paired import ALPHA

from . import ratings
from .spec import ArenaConfig

_GATE = re.compile(r"^\s*arena\.(?P<model>[^\s:<>=]+)(?::(?P<metric>[^\s<>=]+))?\s*(?P<op>>=|<=|>|<)\s*"
                   r"(?P<rhs>\S+)\s*$")
PAIRWISE_METRICS = ("rating", "rating_low", "rating_high", "win_rate", "tie_rate", "loss_rate")
"""Ratings (Elo scale, baseline 1000) and shares of battles against the baseline."""
SINGLE_METRICS = ("score",)


@dataclass(frozen=True)
class ArenaGate:
    text: str
    model: str
    metric: str | None
    """None: the paired sign test between `model` and `other`."""
    op: str
    value: float | None
    other: str | None


def parse(text: str, arena: ArenaConfig) -> ArenaGate:
    match = _GATE.match(text)
    if match is None:
        raise GateError(f"--gate {text!r}: expected arena.MODEL:METRIC>=VALUE, arena.MODEL:METRIC>arena.OTHER or "
                        "arena.MODEL>=arena.OTHER")
    model, metric, rhs = match["model"], match["metric"], match["rhs"]
    other = rhs.removeprefix("arena.") if rhs.startswith("arena.") else None
    for name in (model, other):
        if name is not None and name not in arena.names:
            raise GateError(f"--gate {text!r}: {name!r} is not an arena candidate ({', '.join(arena.names)})")
    known = SINGLE_METRICS if arena.mode == "single" else PAIRWISE_METRICS
    if metric is not None and metric not in known:
        raise GateError(f"--gate {text!r}: {arena.mode} mode has no metric {metric!r} (metrics: {', '.join(known)})")
    if metric is None and (other is None or arena.mode == "single"):
        raise GateError(f"--gate {text!r}: a paired gate compares two models of a pairwise arena "
                        "(arena.tuned>=arena.base); thresholds need a metric (arena.tuned:win_rate>=0.5)")
    if metric in ("win_rate", "tie_rate", "loss_rate") and model == arena.baseline:
        raise GateError(f"--gate {text!r}: rates are against the baseline, {arena.baseline}, which is this model")
    value = None
    if other is None:
        try:
            value = float(rhs)
        except ValueError:
            raise GateError(f"--gate {text!r}: {rhs!r} is neither a number nor arena.MODEL") from None
        if not math.isfinite(value):
            raise GateError(f"--gate {text!r}: the threshold must be a finite number")
    return ArenaGate(text, model, metric, match["op"], value, other)


def parse_all(texts: Sequence[str], arena: ArenaConfig) -> list[ArenaGate]:
    return [parse(t, arena) for t in texts if t.strip().startswith("arena.")]


def _number(section: Mapping[str, Any], model: str, metric: str) -> float:
    if metric == "score":
        return float(section["scores"][model].get("OVERALL", {}).get("mean", math.nan))
    row = next((r for r in section["leaderboard"] if r["model"] == model), None)
    if row is None:
        raise GateError(f"arena: {model} fought no judged battle, so it has no {metric}")
    if metric.startswith("rating"):
        return float(row["rating"][{"rating": "rating", "rating_low": "low", "rating_high": "high"}[metric]])
    return float(row[metric.removesuffix("_rate")])


def _paired(gate: ArenaGate, section: Mapping[str, Any]) -> Verdict:
    assert gate.other is not None
    met = section["win_rates"].get(gate.model, {}).get(gate.other)
    if met is None:
        raise GateError(f"--gate {gate.text!r}: {gate.model} and {gate.other} never met (pairwise-all mode pairs "
                        "every two candidates)")
    wins, losses, ties = int(met["wins"]), int(met["losses"]), int(met["ties"])
    p_better, p_worse = ratings.sign_test(wins, losses), ratings.sign_test(losses, wins)
    # >= / <=: not significantly worse / better; > / <: significantly better / worse (one-sided, at ALPHA).
    passed = {">=": p_worse >= ALPHA, ">": p_better < ALPHA, "<=": p_better >= ALPHA, "<": p_worse < ALPHA}[gate.op]
    claim = {">=": "not worse than", ">": "better than", "<=": "not better than", "<": "worse than"}[gate.op]
    summary = (f"{gate.model} vs {gate.other}: {wins} wins, {losses} losses, {ties} ties; sign test p(better) = "
               f"{p_better:.3g}, p(worse) = {p_worse:.3g}; needs {gate.model} {claim} {gate.other} at alpha {ALPHA}")
    return Verdict(gate.text, passed, summary, {"model": gate.model, "other": gate.other, "wins": wins,
                                                "losses": losses, "ties": ties, "p_better": p_better,
                                                "p_worse": p_worse, "op": gate.op, "alpha": ALPHA})


def judge(gate: ArenaGate, section: Mapping[str, Any]) -> Verdict:
    if gate.metric is None:
        return _paired(gate, section)
    mine = _number(section, gate.model, gate.metric)
    theirs = gate.value if gate.other is None else _number(section, gate.other, gate.metric)
    assert theirs is not None
    passed = not math.isnan(mine) and OPERATORS[gate.op](mine, theirs)
    against = f"{gate.value:g}" if gate.other is None else f"{gate.other}'s {theirs:.4g}"
    summary = f"{gate.model} {gate.metric} = {mine:.4g}; needs {gate.op} {against}"
    if gate.metric.startswith("rating"):
        row = next(r for r in section["leaderboard"] if r["model"] == gate.model)
        summary += f" (95% CI [{row['rating']['low']:.0f}, {row['rating']['high']:.0f}])"
    elif gate.metric != "score":
        row = next(r for r in section["leaderboard"] if r["model"] == gate.model)
        summary += f" (win share 95% CI [{row['win_interval'][0]:.3f}, {row['win_interval'][1]:.3f}], " \
                   f"{row['battles']} battles vs {section['baseline']})"
    return Verdict(gate.text, passed, summary, {"model": gate.model, "metric": gate.metric, "value": mine,
                                                "op": gate.op, "threshold": theirs, "other": gate.other})


def judge_all(texts: Sequence[str], section: Mapping[str, Any], arena: ArenaConfig | None = None) -> list[Verdict]:
    if arena is None:
        raise GateError("arena gates need the arena's settings")
    gates = parse_all(texts, arena)
    if gates and section.get("mode") != "single" and not section.get("leaderboard"):
        raise GateError("no battle was judged, so no arena gate can be evaluated")
    return [judge(g, section) for g in gates]
