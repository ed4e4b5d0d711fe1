"""What the judges said of one answer (`Verdicts`) and of a whole benchmark (`summary`: counts, tokens, agreement):
plain data the suite and the report read, apart from the panel that asks (it runs engines)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from evalscope.judging import agreement
from evalscope.judging.metric import JudgeMetric, Verdict
from evalscope.schema import SampleResult


@dataclass(frozen=True)
class Verdicts:
    """Every verdict one answer got: one entry per judge and repeat."""

    metric: str
    level: str
    """How the verdicts compare for agreement (`JudgeMetric.level`)."""
    entries: tuple[dict[str, Any], ...]
    """{judge, repeat, verdict (None: unreadable), reply, prompt_tokens, completion_tokens}."""

    def score(self, metric: JudgeMetric) -> float | None:
        """The mean over readable verdicts; None when none was readable (the sample goes without the metric)."""
        values = [metric.value(e["verdict"]) for e in self.entries if e["verdict"] is not None]
        return sum(values) / len(values) if values else None

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "level": self.level, "entries": list(self.entries),
                "unreadable": sum(e["verdict"] is None for e in self.entries)}



def summary(results: Iterable[SampleResult]) -> dict[str, Any]:
    """report.json's `judge` section of one benchmark: verdicts and unreadable ones, tokens, and agreement between
    judges (first repeats) and across each judge's repeats."""
    verdicts: dict[tuple[str, int], dict[str, Verdict | None]] = {}
    counts = {"verdicts": 0, "unreadable": 0, "unscored_samples": 0, "prompt_tokens": 0, "completion_tokens": 0}
    metric: str | None = None
    level: Literal["nominal", "interval"] = "interval"
    for result in results:
        judged = result.details.get("judge")
        if not judged:
            continue
        metric, level = judged["metric"], judged["level"]
        counts["unscored_samples"] += metric not in result.metrics
        for entry in judged["entries"]:
            verdicts.setdefault((entry["judge"], entry["repeat"]), {})[result.sample_id] = entry["verdict"]
            counts["verdicts"] += 1
            counts["unreadable"] += entry["verdict"] is None
            counts["prompt_tokens"] += int(entry["prompt_tokens"])
            counts["completion_tokens"] += int(entry["completion_tokens"])
    if metric is None:
        return {}
    judges = list(dict.fromkeys(j for j, _ in verdicts))
    repeats = 1 + max(r for _, r in verdicts)
    return {"metric": metric, "judges": judges, "repeats": repeats, **counts,
            "agreement": {
                "between_judges": agreement.alpha([verdicts[(j, 0)] for j in judges], level),
                "across_repeats": {j: agreement.alpha([verdicts[(j, r)] for r in range(repeats)], level)
                                   for j in judges} if repeats > 1 else {}}}
