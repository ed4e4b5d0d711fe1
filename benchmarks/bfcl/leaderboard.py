"""BFCL's leaderboard aggregates over the categories that ran (bfcl-eval's eval_runner_helper weighting)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

# (row, its parts, how they combine): "mean" is BFCL's unweighted mean of the parts' accuracies, "pooled" its
# weighted one (by sample count); a part may itself be a row above it.
GROUPS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("non_live_simple", ("simple_python", "simple_java", "simple_javascript"), "mean"),
    ("non_live", ("non_live_simple", "multiple", "parallel", "parallel_multiple"), "mean"),
    ("live", ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple"), "pooled"),
    ("multi_turn", ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context"),
     "mean"),
    ("irrelevance_detection", ("irrelevance", "live_irrelevance"), "mean"),
    ("relevance_detection", ("live_relevance",), "mean"),
)
OVERALL_WEIGHTS = {"non_live": 10, "live": 10, "irrelevance_detection": 10, "multi_turn": 30}
"""BFCL's overall: 10/10/10/30, and 40 for the agentic group (memory, web search), which does not run here."""


def summarize(results: Sequence[Any]) -> dict[str, Any]:
    """Per-category accuracy, BFCL's group rows over the categories that ran (a group with a category missing
    is computed over those present, where BFCL would count the missing one as 0), the overall row renormalised
    over the groups present, and the count of unparseable replies."""
    hits: dict[str, list[float]] = defaultdict(list)
    unparseable: dict[str, int] = defaultdict(int)
    for r in results:
        hits[r.subset].append(float(r.metrics.get("acc", 0.0)))
        unparseable[r.subset] += r.cause == "unparseable"
    rows: dict[str, dict[str, Any]] = {c: {"acc": sum(v) / len(v), "n": len(v), "unparseable": unparseable[c]}
                                       for c, v in sorted(hits.items())}
    groups: dict[str, dict[str, Any]] = {}
    for name, parts, how in GROUPS:
        present = [rows[p] if p in rows else groups[p] for p in parts if p in rows or p in groups]
        if not present:
            continue
        n = sum(p["n"] for p in present)
        acc = sum(p["acc"] for p in present) / len(present) if how == "mean" else \
            sum(p["acc"] * p["n"] for p in present) / n
        groups[name] = {"acc": acc, "n": n, "parts": [p for p in parts if p in rows or p in groups],
                        "weighting": "unweighted mean" if how == "mean" else "weighted by count"}
    weights = {g: w for g, w in OVERALL_WEIGHTS.items() if g in groups}
    out: dict[str, Any] = {"categories": rows, "groups": groups,
                           "unparseable": sum(unparseable.values())}
    if weights:
        out["overall"] = {"acc": sum(groups[g]["acc"] * w for g, w in weights.items()) / sum(weights.values()),
                          "weights": weights, "note": "BFCL's 10/10/10/30/40 weights renormalised over the groups "
                          "that ran (agentic, weight 40, never runs here)"}
    return out
