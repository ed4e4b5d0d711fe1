"""What a benchmark is: where its data lies, how a row becomes a Sample, and its setups (prompt and scoring)."""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from evalscope.config import DatasetArgs, RunConfig
from evalscope.judging.metric import JudgeMetric
from evalscope.rows import read_rows
from evalscope.schema import Completion, GenerationRequest, Request, Response, RowError, Sample

Mode = Literal["generation", "loglikelihood"]
GENERATION: Mode = "generation"
"""The model writes an answer; the setup's scorer extracts and compares it."""
LOGLIKELIHOOD: Mode = "loglikelihood"
"""The model scores given continuations by log-probability (multiple choice); nothing is generated."""

Prompt = Callable[[Sample, Sequence[Sample]], Request]
"""(sample, few-shot exemplars) -> what the model is asked."""
Scorer = Callable[[Sample, Any], "Scored"]
"""(sample, the model's Completion or ChoiceLoglikelihoods) -> the verdict."""


class Episode(Protocol):
    """A conversation about one sample that takes several model calls (an agent's loop): the engine asks the
    model what `next_request` says, in a batch with the other samples' episodes, until it says None."""

    def next_request(self) -> GenerationRequest | None:
        """What to ask the model next; None: the conversation is over."""
        ...

    def observe(self, completion: Completion) -> None:
        """The model's answer to the last request (the episode acts on it: runs tools, moves to the next turn)."""
        ...

    def outcome(self) -> Completion:
        """The whole conversation as the one response the sample is scored on."""
        ...


@dataclass(frozen=True)
class Scored:
    """A benchmark's verdict on one completion."""

    metrics: Mapping[str, float]
    """Metric name -> this sample's score (0/1 for accuracy-like metrics)."""
    extracted: Mapping[str, str | None]
    """Metric name -> the answer its extractor found (None: nothing found)."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """JSON-safe record of how the score came about (kept in the per-sample JSONL)."""
    cause: str | None = None
    """Why the sample is wrong apart from a wrong answer (e.g. `unparseable`), counted apart in the report."""
    units: Mapping[str, int] = field(default_factory=dict)
    """Metric name -> how many scored units (e.g. IFEval's instructions) this sample's value averages, when not
    one: the report weighs the value that many times and clusters the units by sample (a micro average)."""


@dataclass(frozen=True)
class Setup:
    """A named way of running a benchmark, matching a reference harness (e.g. lm-eval's 5-shot GSM8K)."""

    name: str
    """Named after the harness whose numbers it reproduces: `evalscope` (EvalScope 1.14.1's prompt and answer
    reading), `evalscope-0.5`, `lm-eval` (lm-eval 0.4.13's task file), `minerva`; else after what it does."""
    description: str
    mode: Mode = GENERATION
    """What the backend is asked for: a generation, or the loglikelihoods of given continuations."""
    few_shot_num: int = 0
    few_shot_random: bool = True
    """Draw exemplars from the few-shot split with the run's seed (False: the first N)."""
    exemplars: tuple[Sample, ...] | None = None
    """The setup's own exemplars (the few-shot split is not read); few_shot_num may not exceed their number."""
    metrics: tuple[str, ...] = ("acc",)
    """Metric names; the first is the primary one (the score in the summary table and the gates)."""
    chat_template: bool = True
    """Without `--template-type`, whether prompts go through the model's chat template: on for setups after
    EvalScope (it applies it), off for those after lm-eval (raw text unless `--apply_chat_template`)."""
    prompt_template: str | None = None
    """The user's template of the question (`--dataset-args prompt_template`), for benchmarks that take one."""
    samples: int = 1
    """Completions drawn per sample (pass@k benchmarks set it from `--num-samples`)."""
    split: str | None = None
    """The split this setup scores (e.g. MBPP's sanitized set); None: the benchmark's `eval_split`."""
    prompt: Prompt | None = field(default=None, compare=False, repr=False)
    """This setup's prompt; None: the benchmark's `request` method."""
    score: Scorer | None = field(default=None, compare=False, repr=False)
    """This setup's scorer; None: the benchmark's `score` method."""
    aliases: tuple[str, ...] = ()
    """Earlier names, still accepted in `--dataset-args`; reports record `name`."""
    judge: JudgeMetric | None = field(default=None, compare=False, repr=False)
    """A metric the `--judge` models score (asked in batches, cached), merged into the scorer's metrics."""

    @property
    def primary_metric(self) -> str:
        return self.metrics[0]

    def shots(self, drawn: Sequence[Sample]) -> Sequence[Sample]:
        """The exemplars a prompt shows: the setup's own (the first `few_shot_num`), else those drawn for it."""
        return drawn if self.exemplars is None else self.exemplars[: self.few_shot_num]

    def to_json(self) -> dict[str, Any]:
        """What report.json records of the setup: the common settings, and under `options` the mode and the
        settings a subclass adds (e.g. a multiple-choice setup's letter prefix); never its functions."""
        common = {"name", "description", "few_shot_num", "few_shot_random", "metrics"}  # the rest go in options
        out: dict[str, Any] = {"name": self.name, "description": self.description,
                               "few_shot_num": self.few_shot_num, "few_shot_random": self.few_shot_random,
                               "fixed_exemplars": None if self.exemplars is None else len(self.exemplars),
                               "metrics": list(self.metrics)}
        out["options"] = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                          if f.name not in common | {"exemplars", "prompt", "score", "aliases", "judge"}}
        if self.judge is not None:
            out["judge_metric"] = self.judge.name
        return out


def fields(row: Mapping[str, Any], *names: str) -> list[Any]:
    """The named fields of a row; a missing or empty (None) field raises KeyError naming it (its item then
    errors with `missing field '<name>'`)."""
    values = []
    for name in names:
        if row.get(name) is None:
            raise KeyError(name)
        values.append(row[name])
    return values


def check_template(bench: str, template: str, placeholders: Sequence[str]) -> str:
    """`template` if it names only `placeholders`, `{question}` among them; ValueError naming the culprit."""
    if not placeholders:
        raise ValueError(f"{bench}: takes no prompt_template")
    try:
        named = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ValueError(f"{bench}: prompt_template {template!r}: {exc}") from None
    unknown = sorted({n for n in named if n not in placeholders})
    if unknown or "question" not in named:
        what = f"unknown placeholder {{{unknown[0]}}}" if unknown else "no {question} placeholder"
        raise ValueError(f"{bench}: prompt_template has {what} (it may use "
                         f"{', '.join('{' + p + '}' for p in placeholders)})")
    return template


class Benchmark:
    """Subclass per benchmark, in `benchmarks/<name>/benchmark.py`: say where the data is, how a row becomes a
    Sample, and the setups. The name is the folder's; everything with a default here need not be restated."""

    name: str = ""
    """The benchmark's folder name (set by the registry)."""
    version: ClassVar[str] = "1"
    """Bumped whenever prompts, extraction or scoring change, so reports stay comparable."""
    data_dir: ClassVar[str | None] = None
    """The folder under `--dataset-dir` that holds the files; None: the benchmark's name."""
    splits: ClassVar[Mapping[str, str]]
    """Split name -> file name (relative to the data folder); glob patterns allowed."""
    hub: ClassVar[str | Mapping[str, str] | None] = None
    """Dataset id fetched when the files are not local: one id, or {"modelscope": id, "huggingface": id}."""
    hub_splits: ClassVar[Mapping[str, str]] = {}
    """Split -> file pattern inside the hub snapshot, when its layout differs from the local one."""
    eval_split: ClassVar[str] = "test"
    few_shot_split: ClassVar[str | None] = None
    subsets: ClassVar[tuple[str, ...]] = ("default",)
    categories: ClassVar[Mapping[str, str]] = {}
    """Subset -> category (e.g. MMLU subject -> `stem`), for per-category rows in the report."""
    setups: ClassVar[tuple[Setup, ...]]
    """The ways to run this benchmark; the first is the default."""
    runs_code: ClassVar[bool] = False
    """Scored by running model-written programs (in the sandbox)."""
    placeholders: ClassVar[tuple[str, ...]] = ()
    """The fields a user's `prompt_template` may name (none: the benchmark takes no template)."""
    options: ClassVar[Mapping[str, str]] = {}
    """`--dataset-args` keys this benchmark reads itself (`configure`) -> what each means."""
    external: ClassVar[bool] = False
    """Answered and judged by another harness (an evaluation backend such as OpenCompass) through
    `external_answers`, not by the run's model."""

    @property
    def data_dir_name(self) -> str:
        return self.data_dir or self.name

    def category(self, sample: Sample) -> str | None:
        """The sample's category for the report's per-category rows: its subset's (`categories`) by default; a
        benchmark whose categories cut across its subsets (MATH's levels) says it per sample."""
        return self.categories.get(sample.subset)

    def subsets_in(self, files: Mapping[str, Path]) -> tuple[str, ...]:
        """The subsets the data has (split -> its located file or folder); the default is the declared `subsets`.
        Benchmarks of the user's own files find them there."""
        return self.subsets

    def rows(self, path: Path, split: str, subset: str) -> Iterator[tuple[str, Mapping[str, Any] | RowError]]:
        """Yield (`file:line`, row) for one subset of a split found at `path`; a row that cannot be read is
        yielded as a RowError. The default reads one json/jsonl/csv/parquet file through `datasets`."""
        yield from read_rows(path)

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        """Turn a raw row into a Sample (input, target, choices, metadata); raise RowError for a malformed row
        (KeyError for a missing field)."""
        raise NotImplementedError

    def request(self, sample: Sample, setup: Setup, few_shot: Sequence[Sample]) -> Request:
        """What the model is asked for this sample: the setup's `prompt`, unless a subclass decides."""
        if setup.prompt is None:
            raise NotImplementedError(f"{self.name}: setup {setup.name!r} has no prompt= and the benchmark "
                                      "defines no request()")
        return setup.prompt(sample, setup.shots(few_shot))

    def score(self, sample: Sample, response: Response, setup: Setup) -> Scored:
        """The verdict on the model's response: the setup's `score`, unless a subclass decides."""
        if setup.score is None:
            raise NotImplementedError(f"{self.name}: setup {setup.name!r} has no score= and the benchmark "
                                      "defines no score()")
        return setup.score(sample, response)

    def external_answers(self, samples: Sequence[Sample], folder: Path) -> Iterator[tuple[int, Response]]:
        """An `external` benchmark's answers to a batch group: (index into `samples`, response) as they are known;
        `folder` (in the run folder) keeps what the other harness writes. Its verdicts come through `score`."""
        raise NotImplementedError(f"{self.name}: an external benchmark defines external_answers()")

    def episode(self, sample: Sample, setup: Setup, request: Request) -> Episode | None:
        """A conversation of several model calls for this sample (an agent benchmark), starting from `request`;
        None (the default): the sample is one request and one response."""
        return None

    def prepare(self, sample: Sample, response: Response, setup: Setup) -> None:
        """Called as each response arrives, before the item is scored: a benchmark whose scoring is slow (running
        programs) starts it here, so it overlaps with the model's next batch."""

    def configure(self, extra: Mapping[str, Any], config: RunConfig) -> None:
        """Read this benchmark's own `--dataset-args` keys (`options`), before its rows are read; raise ValueError
        naming a bad value. The default takes none."""

    def summary(self, results: Sequence[Any]) -> dict[str, Any]:
        """What report.json adds under this benchmark from its scored SampleResults, in (subset, index) order (e.g.
        a heatmap's cells, a leaderboard's aggregate rows); the default adds nothing."""
        return {}

    def adapt(self, setup: Setup, config: RunConfig) -> Setup:
        """The setup as this run needs it (e.g. pass@k metrics from `--pass-k`); the default changes nothing."""
        return setup

    def setup(self, name: str | None = None) -> Setup:
        """The setup called `name` (None: the default, the first)."""
        if name is None:
            return self.setups[0]
        for setup in self.setups:
            if name == setup.name or name in setup.aliases:
                return setup
        names = ", ".join(s.name for s in self.setups)
        raise ValueError(f"{self.name}: unknown setup {name!r} (choose from {names})")

    def resolve_setup(self, args: DatasetArgs) -> Setup:
        """The setup named in --dataset-args (or the default), with the few-shot overrides and the user's prompt
        template applied (a template naming a field the benchmark does not fill is an error, never a prompt with
        `{premise}` left in it)."""
        setup, few_shot_num, few_shot_random = self.setup(args.setup), args.few_shot_num, args.few_shot_random
        if args.prompt_template is not None:
            setup = replace(setup, prompt_template=check_template(self.name, args.prompt_template, self.placeholders))
        if few_shot_num is not None:
            limit = None if setup.exemplars is None else len(setup.exemplars)
            if few_shot_num < 0 or (limit is not None and few_shot_num > limit):
                raise ValueError(f"{self.name}: few_shot_num={few_shot_num} is out of range for setup "
                                 f"{setup.name!r} (0..{limit if limit is not None else 'n'})")
            setup = replace(setup, few_shot_num=few_shot_num)
        if few_shot_random is not None:
            setup = replace(setup, few_shot_random=few_shot_random)
        return setup
