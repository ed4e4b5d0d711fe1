"""What an arena run concludes from its items: the battles, the leaderboard with intervals, the win-rate matrix,
position bias per judge, single-mode scores per model and category; as report.json's `arena` section and a table."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from evalscope import stats
from evalscope.arena.ratings import Battle

from . import ratings


def battles(records: Sequence[Mapping[str, Any]]) -> list[Battle]:
    """One battle per judged turn of every match (error turns left out), in a fixed order (question, pair,
    turn), so the online Elo column does not depend on which worker finished first."""
    out = []
    for r in sorted((r for r in records if r["kind"] == "match"), key=lambda r: (r["question"], r["model_a"],
                                                                                    r["model_b"])):
        for turn in r["turns"]:
            if turn["score_a"] is not None:
                out.append(Battle(r["question"], r["model_a"], r["model_b"], float(turn["score_a"]),
                                  float(turn["weight"])))
    return out


def _interval(estimate: stats.Estimate) -> dict[str, Any]:
    return {"mean": estimate.mean, "n": estimate.n, "stderr": estimate.stderr, "ci_low": estimate.ci_low,
            "ci_high": estimate.ci_high, "ci_method": estimate.ci_method}


def single_scores(records: Sequence[Mapping[str, Any]], models: Sequence[str]) -> dict[str, Any]:
    """Single mode: each model's mean score (every readable turn) with a t interval, overall and per category."""
    by_model: dict[str, dict[str, list[float]]] = {m: defaultdict(list) for m in models}
    for r in records:
        if r["kind"] == "grade":
            for score in r["scores"]:
                if score is not None:
                    by_model[r["model"]][r["category"]].append(float(score))
                    by_model[r["model"]]["OVERALL"].append(float(score))
    return {m: {cat: _interval(stats.estimate(values)) for cat, values in sorted(cats.items())}
            for m, cats in by_model.items()}


def position_bias(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per judge: of the turns where both orders were readable, how often they pointed different ways."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["kind"] != "match":
            continue
        row = out.setdefault(r["judge"], {"judged": 0, "disagreed": 0, "unreadable": 0})
        for turn in r["turns"]:
            readable = turn["first"]["score"] is not None and turn["swapped"]["score"] is not None
            row["judged" if readable else "unreadable"] += 1
            row["disagreed"] += int(turn["disagree"])
    for row in out.values():
        row["share"] = row["disagreed"] / row["judged"] if row["judged"] else None
    return out


def summarize(records: Sequence[Mapping[str, Any]], mode: str, models: Sequence[str], baseline: str,
              rounds: int, seed: int) -> dict[str, Any]:
    """report.json's `arena` section, less the settings (the plugin adds those)."""
    statuses = Counter(r["status"] for r in records)
    section: dict[str, Any] = {"mode": mode, "baseline": baseline, "items": len(records),
                               "outcomes": dict(sorted(statuses.items()))}
    if mode == "single":
        return {**section, "scores": single_scores(records, models)}
    fought = battles(records)
    section.update({"battles": len(fought), "position_bias": position_bias(records),
                    "error_turns": sum(1 for r in records if r["kind"] == "match" for t in r["turns"]
                                       if t["score_a"] is None)})
    if not fought or baseline not in {m for b in fought for m in (b.model_a, b.model_b)}:
        return {**section, "leaderboard": [], "win_rates": {}, "online_elo": {}}
    board = ratings.leaderboard(fought, baseline, rounds=rounds, seed=seed)
    rates = ratings.win_rates(fought)
    pairs: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for b in fought:
        for me, other, score in ((b.model_a, b.model_b, b.score_a), (b.model_b, b.model_a, 1 - b.score_a)):
            pairs[(me, other)]["wins" if score > 0.5 else "losses" if score < 0.5 else "ties"] += 1
    section.update({
        "leaderboard": [{**asdict(s), "rating": asdict(s.rating)} for s in board],
        "win_rates": {me: {other: {"win": w, "tie": t, "loss": lo, "battles": n, "score": w + t / 2,
                                   "wins": pairs[(me, other)]["wins"], "losses": pairs[(me, other)]["losses"],
                                   "ties": pairs[(me, other)]["ties"]}
                           for (m2, other), (w, t, lo, n) in sorted(rates.items()) if m2 == me}
                      for me in models},
        "online_elo": ratings.online_elo(fought),
        "bootstrap": {"rounds": rounds, "seed": seed, "by": "question"},
    })
    return section


def _num(x: float | None, digits: int = 1) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def table(section: Mapping[str, Any]) -> str:
    """The terminal's leaderboard (or single-mode scores), position bias and outcome counts."""
    lines = []
    if section["mode"] == "single":
        lines.append(f"{'model':<16} {'score':>7} {'95% CI':>17} {'n':>5}")
        for model, cats in section["scores"].items():
            o = cats.get("OVERALL", {})
            lines.append(f"{model:<16} {_num(o.get('mean'), 3):>7} "
                         f"{'[' + _num(o.get('ci_low'), 3) + ', ' + _num(o.get('ci_high'), 3) + ']':>17} "
                         f"{o.get('n', 0):>5}")
    else:
        base = section["baseline"]
        lines.append(f"{'model':<16} {'rating':>7} {'95% CI':>15} {'vs ' + base:>22} {'win 95% CI':>15} "
                     f"{'p(worse)':>9} separated")
        for row in section["leaderboard"]:
            r, own = row["rating"], row["model"] == base
            record = "-" if own else f"W {row['win']:.2f} T {row['tie']:.2f} L {row['loss']:.2f}"
            low, high = row["win_interval"]
            interval = "[{:.0f}, {:.0f}]".format(r["low"], r["high"])
            win = "-" if own else f"[{low:.2f}, {high:.2f}]"
            worse = "-" if own else "{:.3g}".format(row["p_worse"])
            apart = "-" if own else "yes" if row["separated"] else "no"
            lines.append(f"{row['model']:<16} {r['rating']:>7.0f} {interval:>15} {record:>22} {win:>15} "
                         f"{worse:>9} {apart}")
        for judge, bias in section.get("position_bias", {}).items():
            share = "-" if bias["share"] is None else f"{bias['share']:.0%}"
            lines.append(f"judge {judge}: orders disagreed on {bias['disagreed']} of {bias['judged']} turns "
                         f"({share}); {bias['unreadable']} turns unreadable (ERROR)")
    counts = ", ".join(f"{n} {k.upper()}" for k, n in section["outcomes"].items())
    lines.append(f"items: {section['items']} ({counts})")
    return "\n".join(lines)


def heat(value: float | None) -> str:
    """A cell colour for a score share: red (0) through white (0.5) to green (1)."""
    if value is None:
        return "#eeeeee"
    v = float(np.clip(value, 0.0, 1.0))
    if v < 0.5:
        k = v / 0.5
        return f"#{255:02x}{int(150 + 105 * k):02x}{int(150 + 105 * k):02x}"
    k = (v - 0.5) / 0.5
    return f"#{int(255 - 105 * k):02x}{int(255 - 35 * k):02x}{int(255 - 105 * k):02x}"

