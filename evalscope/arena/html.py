"""The arena's offline HTML page: leaderboard with interval bars, the win-rate heatmap (SVG), and a battle browser
(filter by pair, category, verdict, order disagreement)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalscope.report.templating import render

from .report import heat


def _bars(board: list[Mapping[str, Any]], left: float = 140, plot: float = 460) -> dict[str, Any]:
    lows = [r["rating"]["low"] for r in board] or [1000.0]
    highs = [r["rating"]["high"] for r in board] or [1000.0]
    lo, hi = min(lows) - 20, max(highs) + 20
    x = lambda v: left + plot * (v - lo) / (hi - lo)  # noqa: E731 - a local scale
    rows = [{"model": r["model"], "y": 14 + 20 * i, "x": x(r["rating"]["rating"]), "low": x(r["rating"]["low"]),
             "high": x(r["rating"]["high"]),
             "title": "{}: {:.0f} [{:.0f}, {:.0f}]".format(r["model"], r["rating"]["rating"], r["rating"]["low"],
                                                       r["rating"]["high"])}
            for i, r in enumerate(board)]
    height = 14 + 20 * len(board) + 16
    ticks = [(left + plot * t / 4, f"{lo + (hi - lo) * t / 4:.0f}") for t in range(5)]
    return {"rows": rows, "width": left + plot + 20, "height": height, "ticks": ticks}


def _heatmap(rates: Mapping[str, Mapping[str, Mapping[str, Any]]], names: list[str], cell: int = 64,
             left: int = 120, top: int = 28) -> dict[str, Any]:
    cells = []
    for i, me in enumerate(names):
        for j, other in enumerate(names):
            met = rates.get(me, {}).get(other)
            score = None if met is None else float(met["score"])
            title = f"{me} vs {other}: " + ("did not meet" if met is None else
                                             f"{met['wins']} W, {met['ties']} T, {met['losses']} L")
            cells.append({"x": left + j * cell, "y": top + i * cell, "color": heat(score),
                          "label": "" if score is None else f"{score:.2f}", "title": title})
    return {"names": list(enumerate(names)), "cells": cells, "cell": cell, "left": left, "top": top,
            "width": left + cell * len(names) + 10, "height": top + cell * len(names) + 10}


def _view(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as the battle browser shows it."""
    pair = record["model"] if record["kind"] == "grade" else f"{record['model_a']}-vs-{record['model_b']}"
    turns = []
    for t, asked in enumerate(record["turns_asked"]):
        if record["kind"] == "grade":
            answers = [(record["model"], record["answers"][t] if t < len(record["answers"]) else "")]
            judgments = [("grade: " + str(record["scores"][t]), record["texts"][t])]
            summary = f"grade {record['scores'][t]}"
        else:
            a, b, turn = record["model_a"], record["model_b"], record["turns"][t]
            answers = [(m, record["answers"][m][t]) for m in (a, b)]
            judgments = [(f"judge, {a} shown first (score of {a}: {turn['first']['score']})", turn["first"]["text"]),
                         (f"judge, {b} shown first (score of {b}: {turn['swapped']['score']})",
                          turn["swapped"]["text"])]
            summary = f"score of {a} {turn['score_a']}" + (" (orders disagree)" if turn["disagree"] else "")
        turns.append({"turn": t + 1, "question": asked, "answers": answers, "judgments": judgments,
                      "summary": summary})
    disagree = any(t.get("disagree") for t in record.get("turns", []))
    return {**record, "pair": pair, "disagreement": "yes" if disagree else "no", "view": turns}


def page(report: Mapping[str, Any]) -> str:
    arena = report["arena"]
    records = [_view(r) for r in arena["records"]]
    names = [c["name"] for c in arena["candidates"]]
    filters = {"pair": sorted({r["pair"] for r in records}), "category": sorted({r["category"] for r in records}),
               "verdict": sorted({r["status"] for r in records}), "disagreement": ["yes", "no"]}
    judge = arena["judge"] if isinstance(arena["judge"], str) else \
        f"{arena['judge'].get('model') or arena['judge'].get('api_url') or 'default'} ({arena['judge_prompts']})"
    return render("arena.html.j2", a={**arena, "records": records}, judge=judge, filters=filters,
                  bars=_bars(arena.get("leaderboard", [])), heat=_heatmap(arena.get("win_rates", {}), names),
                  gates=report.get("arena_gates"))
