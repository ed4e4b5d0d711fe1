"""A benchmark bound to one run: its files, setup, selected samples, few-shot exemplars, requests and results."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalscope import deadline, models, registry
from evalscope.benchmark import GENERATION, LOGLIKELIHOOD, Benchmark, Episode, Setup
from evalscope.config import DatasetArgs, RunConfig
from evalscope.data import locate, sha256_files
from evalscope.models.rendering import is_raw
from evalscope.schema import (
    BadRow,
    ChoiceLoglikelihoods,
    ChoiceRequest,
    Completion,
    DataError,
    GenerationRequest,
    Request,
    Response,
    RowError,
    Sample,
    SampleResult,
)
from evalscope.stats import CLUSTER_KEY
from evalscope.thinking import without_thinking

if TYPE_CHECKING:
    from evalscope.judging.verdicts import Verdicts

LOGLIKELIHOOD_GROUP = 4

SampleOrBad = Sample | BadRow


def _problem(exc: Exception) -> str:
    """What is wrong with a row, from what `to_sample` raised."""
    return f"missing field {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)


@dataclass
class Suite:
    """Everything the plugin needs about one benchmark in this run; built once per process."""

    bench: Benchmark
    setup: Setup
    args: DatasetArgs
    files: dict[str, Path]
    config: RunConfig
    total: int = 0
    """Samples in the evaluation split before --limit."""
    samples: list[SampleOrBad] = field(default_factory=list)
    subsets: tuple[str, ...] = ()
    """The subsets in this run (`subset_list`, else every one the data has)."""
    _requests: dict[str, Request] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, name: str, config: RunConfig) -> Suite:
        bench = registry.get(name)
        args = config.dataset_args.get(name, DatasetArgs()).under(config.dataset_args.get("*", DatasetArgs()))
        bench.configure(args.extra or {}, config)
        setup = bench.adapt(bench.resolve_setup(args), config)
        splits = [s for s in (setup.split or bench.eval_split, bench.few_shot_split) if s]
        files = locate(bench, registry.benchmark_dir(name), config.dataset_dir, args, splits)
        suite = cls(bench, setup, args, files, config)
        available = bench.subsets_in(suite.files)
        unknown = set(args.subset_list or ()) - set(available)
        if unknown or not available:
            raise ValueError(f"{name}: unknown subsets {sorted(unknown)} (available: {', '.join(available)})"
                             if unknown else f"{name}: no subsets found in {suite.files[suite.eval_split]}")
        if setup.judge is not None and setup.judge.required and not config.judges:
            raise ValueError(f"{name}: setup {setup.name!r} is scored by a judge ({setup.judge.name}): give --judge "
                             "SPEC (a server URL, a model, or default)")
        suite.subsets = args.subset_list or available
        suite.samples = suite._read_eval_split()
        return suite

    @property
    def eval_split(self) -> str:
        return self.setup.split or self.bench.eval_split

    def _read_eval_split(self) -> list[SampleOrBad]:
        """Samples of the selected subsets, `--limit` applied per subset; the suite fills id, index, subset."""
        split = self.eval_split
        out: list[SampleOrBad] = []
        for subset in self.subsets:
            rows = list(self.bench.rows(self.files[split], split, subset))
            self.total += len(rows)
            width = max(4, len(str(len(rows) - 1)))
            for index, (location, row) in enumerate(rows[: self.config.limit]):
                sample_id = f"{subset}-{index:0{width}d}"
                try:
                    if isinstance(row, RowError):
                        raise row
                    out.append(replace(self.bench.to_sample(row), id=sample_id, index=index, subset=subset))
                except (KeyError, ValueError, TypeError) as exc:
                    out.append(BadRow(sample_id, index, subset, location, _problem(exc)))
        return out

    @cached_property
    def dataset_sha256(self) -> dict[str, str]:
        return sha256_files(self.files)

    @cached_property
    def few_shot_pool(self) -> list[Sample]:
        split = self.bench.few_shot_split
        if split is None or self.setup.few_shot_num == 0 or self.setup.exemplars is not None:
            return []
        pool = []
        for subset in self.subsets:
            for index, (location, row) in enumerate(self.bench.rows(self.files[split], split, subset)):
                try:
                    if isinstance(row, RowError):
                        raise row
                    sample = self.bench.to_sample(row)
                except (KeyError, ValueError, TypeError) as exc:
                    if split == self.eval_split:  # also a scored row: its own item errors, the pool goes without
                        continue
                    raise DataError(f"{location}: {_problem(exc)} (few-shot split)") from None
                pool.append(replace(sample, id=f"{split}-{subset}-{index}", index=index, subset=subset))
        return pool

    def few_shot(self, sample: Sample) -> list[Sample]:
        """Exemplars for one sample: the setup's own, or drawn per sample with the run's seed, so they do not
        depend on which other samples run."""
        k = self.setup.few_shot_num
        if self.setup.exemplars is not None:
            return list(self.setup.shots(()))
        pool = [s for s in self.few_shot_pool if s.subset == sample.subset] or self.few_shot_pool
        if k == 0 or not pool:
            return []
        # Exemplars from the scored split are never the question asked: draw one more, drop it if it came.
        spare = int(self.bench.few_shot_split == self.eval_split)
        if not self.setup.few_shot_random:
            drawn = pool[: k + spare]
        else:
            rng = random.Random(f"{self.config.seed}:{self.bench.name}:{sample.id}")
            drawn = rng.sample(pool, min(k + spare, len(pool)))
        if spare:
            drawn = [s for s in drawn if (s.subset, s.index) != (sample.subset, sample.index)]
        return drawn[:k]

    @cached_property
    def strip_thinking(self) -> bool:
        """Whether replies lose their `<think>` block before extraction: on for generation setups by default."""
        return self.setup.mode == GENERATION if self.args.strip_thinking is None else self.args.strip_thinking

    @cached_property
    def chat(self) -> bool:
        """Whether prompts go through the model's chat template: `--template-type` when given, else the setup's
        default (EvalScope setups apply it, lm-eval and loglikelihood setups feed raw text)."""
        return self.setup.chat_template if self.config.template is None else not is_raw(self.config.template)

    def template_note(self) -> str:
        """Why prompts are raw or templated, for the terminal and the report."""
        what = "chat template" if self.chat else "raw text"
        if self.config.template is not None:
            return f"{what} (--template-type {self.config.template})"
        return f"{what} (the setup's default)"

    def request(self, sample: Sample) -> Request:
        """What the model is asked for this sample (raw or through the chat template); built once per process."""
        if sample.id not in self._requests:
            request = replace(self.bench.request(sample, self.setup, self.few_shot(sample)), chat=self.chat)
            if sample.images and isinstance(request, GenerationRequest) and not request.images:
                request = replace(request, images=sample.images)  # before the text, unless the benchmark placed them
            elif sample.images and isinstance(request, ChoiceRequest):
                raise ValueError(f"{self.bench.name}: setup {self.setup.name!r} scores loglikelihoods of text, "
                                 "which cannot show this sample's images; choose a generation setup")
            system = self.args.system_prompt
            if isinstance(request, GenerationRequest) and self.setup.samples > 1:
                request = replace(request, n=self.setup.samples)
            if system and isinstance(request, GenerationRequest):
                request = replace(request, system=system)
            elif system and isinstance(request, ChoiceRequest):  # as a raw prompt carries it: a first paragraph
                request = replace(request, context=f"{system}\n\n{request.context}")
            self._requests[sample.id] = request
        return self._requests[sample.id]

    def group_size(self, selected: int, workers: int) -> int:
        """Samples per backend call. Loglikelihood samples are cheap (one forward, no decoding) and pack all
        their choices in one row, so they go LOGLIKELIHOOD_GROUP times `--eval-batch-size` at a time; the
        backend splits a call into forward passes by token count. Backends that batch themselves may take
        more (their `group_size`)."""
        loglikelihood = self.setup.mode == LOGLIKELIHOOD
        batch = self.config.eval_batch_size * (LOGLIKELIHOOD_GROUP if loglikelihood else 1)
        return models.backend_class(self.config.backend).group_size(self.config, batch, selected, workers)

    def batch_key(self, sample: SampleOrBad) -> tuple[str, int]:
        """Where this sample sorts when batches are cut: by subset when its exemplars come from its own
        subset (a batch then shares one few-shot preamble, computed once), then longest request first
        (context plus every choice, in characters), so batches pad little."""
        if isinstance(sample, BadRow):
            return ("", 0)
        request = self.request(sample)
        if isinstance(request, ChoiceRequest):
            size = len(request.context) + sum(len(c) for c in request.continuations)
        else:
            size = len(request.prompt)
        shared = self.setup.few_shot_num > 0 and len(self.subsets) > 1
        return (sample.subset if shared else "", -size)

    def episode(self, sample: Sample) -> Episode | None:
        """The sample's conversation when the benchmark runs one (agents), else None."""
        return self.bench.episode(sample, self.setup, self.request(sample))

    def prepare(self, sample: Sample, response: Response) -> None:
        """Start the benchmark's slow scoring work (running programs) as soon as the response exists."""
        self.bench.prepare(sample, response, self.setup)

    @property
    def judged(self) -> bool:
        """Whether a judge scores this run's setup (it names a judge metric and `--judge` was given)."""
        return self.setup.judge is not None and bool(self.config.judges)

    def answer(self, response: Completion) -> str:
        """The answer as the scorer (and a judge) reads it: without a reasoning model's thinking."""
        return without_thinking(response)[0].text if self.strip_thinking else response.text

    def result(self, sample: Sample, response: Response, judged: Verdicts | None = None) -> SampleResult:
        """Score the model's response to `sample` (with the judges' verdicts on it, when a judge scores the setup):
        the record the JSONL keeps and the report aggregates."""
        reasoning = None
        if isinstance(response, Completion) and self.strip_thinking:
            response, reasoning = without_thinking(response)
        with deadline.noting() as timed_out:
            verdict = self.bench.score(sample, response, self.setup)
        metrics, details = dict(verdict.metrics), dict(verdict.details)
        judge = self.setup.judge
        if judged is not None and judge is not None:  # an unreadable verdict is left out, never scored 0
            value = judged.score(judge)
            if value is not None:
                metrics[judge.name] = value
                metrics.update(judge.combine(metrics) if judge.combine else {})
            details["judge"] = judged.to_json()
        if timed_out:  # a check that ran out of time proved nothing: the sample is wrong on every metric
            metrics, details = dict.fromkeys(metrics, 0.0), {**details, "timed_out_checks": timed_out}
        cluster = sample.metadata.get(CLUSTER_KEY)
        common: dict[str, Any] = {
            "benchmark": self.bench.name, "subset": sample.subset, "sample_id": sample.id, "index": sample.index,
            "metrics": metrics, "primary_metric": self.setup.primary_metric,
            "extracted": dict(verdict.extracted), "target": sample.target, "prompt": response.rendered_prompt,
            "category": self.bench.category(sample), "cluster": None if cluster is None else str(cluster),
            "details": details, "sample_hash": sample.digest, "reasoning": reasoning,
            "units": dict(verdict.units), "cause": deadline.CAUSE if timed_out else verdict.cause,
            "images": tuple(image.ref() for image in sample.images),
        }
        if isinstance(response, ChoiceLoglikelihoods):
            asked = self.request(sample)
            assert isinstance(asked, ChoiceRequest)
            return SampleResult(
                **common, output=verdict.extracted.get(self.setup.primary_metric) or "",
                prompt_tokens=response.prompt_tokens, completion_tokens=sum(response.continuation_tokens),
                finish_reason="loglikelihood", choices=asked.continuations, loglikelihoods=response.loglikelihoods)
        return SampleResult(**common, output=response.text, prompt_tokens=response.prompt_tokens,
                            completion_tokens=response.completion_tokens, finish_reason=response.finish_reason)

    def info(self) -> dict[str, Any]:
        """What report.json says about this benchmark's definition and data."""
        judge = {} if self.setup.judge is None else {"judge": {
            "metric": self.setup.judge.name, "judges": list(self.config.judges), "repeats": self.config.judge_repeats,
            **({} if self.config.judges else {"note": f"no --judge: {self.setup.judge.name} not scored"})}}
        return {**judge, "version": self.bench.version, "setup": self.setup.to_json(),
                "primary_metric": self.setup.primary_metric,
                "chat_template": {"requested": self.chat, "why": self.template_note()},
                "dataset_files": {s: str(p) for s, p in self.files.items()}, "dataset_sha256": self.dataset_sha256}

    def describe(self) -> str:
        return f"{self.bench.name} (setup {self.setup.name}, {self.setup.few_shot_num}-shot)"

    def selected(self, n: int) -> str:
        """The line printed before anything runs (and with --co)."""
        judge = self.setup.judge
        note = "" if judge is None else f"; judge metric {judge.name}: " + (
            f"{len(self.config.judges)} judge(s)" if self.config.judges else "not scored (no --judge)")
        return (f"evalscope: {self.describe()}: {n} of {self.total} samples selected; prompts: {self.template_note()}"
                f"{note}")
