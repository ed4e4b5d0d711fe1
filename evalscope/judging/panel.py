"""The run's judges (`--judge SPEC`, repeatable; `--judge-repeats N`): each judge and repeat is an Engine, so its
calls are batched per group, cached, resumed and retried like the model's own; the verdicts each answer got, and
what report.json says of them (agreement, unreadable verdicts, tokens)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalscope.config import ConfigError, RunConfig
from evalscope.engine import Engine, PredictionError
from evalscope.judging import agreement
from evalscope.judging.metric import JudgeMetric, Verdict
from evalscope.progress import ProgressFactory
from evalscope.schema import Completion, Request, Sample, SampleResult


def judges_of(run: RunConfig) -> list[Any]:
    """The judges `--judge` names, as the arena builds its judge (its SPEC parsing and settings); one line naming a
    bad SPEC."""
    from evalscope.arena.spec import RULE, contestant, parse_spec

    out = []
    for number, spec in enumerate(run.judges, 1):
        if spec.strip() == RULE:
            raise ConfigError("--judge rule: the rule judge is the arena's; a benchmark needs a judge model")
        try:
            out.append(contestant(f"judge{number}", parse_spec(spec), run, judge=True))
        except ConfigError as exc:
            raise ConfigError(f"--judge {number}: {exc}".replace("--judge: ", "")) from None
    if run.judge_repeats > 1 and any(not j.run.generation.do_sample for j in out):
        raise ConfigError(f"--judge-repeats {run.judge_repeats}: a greedy judge says the same every time; give the "
                          "judge sampling: --judge '{\"api_url\": ..., \"generation_config\": {\"do_sample\": true, "
                          "\"temperature\": 0.7}}'")
    return out


def label(judge: Any) -> str:
    """A judge as the report names it: its model, else its server, else the embedded model (never a key)."""
    described = judge.describe()
    return str(described["model"] or described["api_url"] or "default")


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


class Panel:
    """This process's judges, each repeat an Engine of its own (a seed of its own: sampled repeats differ, and
    each has its own cache keys)."""

    def __init__(self, run: RunConfig, threads: int, progress: ProgressFactory, store: Path | None) -> None:
        self.judges = judges_of(run)
        self.repeats = run.judge_repeats
        self.engines = {(j.name, r): Engine(dataclasses.replace(j.run, seed=run.seed + r), {}, threads, progress,
                                            store)
                        for j in self.judges for r in range(self.repeats)}
        self.names = {j.name: label(j) for j in self.judges}
        self.asked: set[tuple[str, str]] = set()

    def describe(self) -> list[str]:
        return list(self.names.values())

    def ask(self, bench: str, group: str, metric: JudgeMetric, answers: Sequence[tuple[Sample, str]]) -> None:
        """Every judge's verdicts on a group's answers, one batched call per judge and repeat (once per group)."""
        if (bench, group) in self.asked:
            return
        self.asked.add((bench, group))
        keys = [(f"judge:{bench}", sample.id) for sample, _ in answers]
        try:
            requests: list[Request] = [metric.ask(sample, answer) for sample, answer in answers]
        except (OSError, KeyError, ValueError) as exc:  # e.g. the judge prompt's file is missing: every item says so
            for engine in self.engines.values():
                engine.results.update(dict.fromkeys(keys, exc))
            return
        for (name, repeat), engine in self.engines.items():
            todo = [i for i, key in enumerate(keys) if key not in engine.results]
            if todo:
                engine.predict(f"{bench} judge {self.names[name]}" + (f" #{repeat + 1}" if self.repeats > 1 else ""),
                               [keys[i] for i in todo], [requests[i] for i in todo])

    def verdicts(self, bench: str, metric: JudgeMetric, sample: Sample) -> Verdicts:
        """The judges' verdicts on one answer (asked with its group); a judge that could not be asked (its server
        down) errors the item, so that `--resume` asks it again."""
        entries = []
        for (name, repeat), engine in self.engines.items():
            reply = engine.results.get((f"judge:{bench}", sample.id))
            if not isinstance(reply, Completion):
                why = (str(reply).strip().splitlines() or ["no answer"])[0] if reply is not None else "not asked"
                raise PredictionError(f"judge {self.names[name]}: {why}")
            entries.append({"judge": self.names[name], "repeat": repeat, "verdict": metric.read(reply.text),
                            "reply": reply.text, "prompt_tokens": reply.prompt_tokens,
                            "completion_tokens": reply.completion_tokens})
        return Verdicts(metric.name, metric.level, tuple(entries))

    def info(self) -> dict[str, Any]:
        return {f"{self.names[name]}#{repeat}": engine.info() for (name, repeat), engine in self.engines.items()}

    def close(self) -> None:
        for engine in self.engines.values():
            engine.close()


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
