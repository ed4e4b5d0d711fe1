"""The run's judges (`--judge SPEC`, repeatable; `--judge-repeats N`): each judge and repeat is an Engine, so its
calls are batched per group, cached, resumed and retried like the model's own; the verdicts each answer got, and
what report.json says of them (agreement, unreadable verdicts, tokens)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalscope.config import ConfigError, RunConfig
from evalscope.engine import Engine, PredictionError
from evalscope.judging.metric import JudgeMetric
from evalscope.judging.verdicts import Verdicts
from evalscope.progress import ProgressFactory
from evalscope.schema import Completion, Request, Sample


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
