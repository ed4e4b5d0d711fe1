"""A benchmark bound to one run: its files, setup, selected samples and few-shot exemplars."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from evalscope import benchmark as registry
from evalscope import models
from evalscope.benchmark import Benchmark, SampleOrBad, Setup
from evalscope.config import DatasetArgs, RunConfig
from evalscope.data import DataError, locate, sha256_files
from evalscope.schema import BadRow, ChoiceRequest, Request, Sample

LOGLIKELIHOOD_GROUP = 4


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

    @classmethod
    def load(cls, name: str, config: RunConfig) -> Suite:
        bench = registry.get(name)
        args = config.dataset_args.get(name, DatasetArgs())
        setup = bench.resolve_setup(args)
        unknown = set(args.subset_list or ()) - set(bench.subsets)
        if unknown:
            raise ValueError(f"{name}: unknown subsets {sorted(unknown)} (available: {', '.join(bench.subsets)})")
        suite = cls(bench, setup, args, locate(bench, config.dataset_dir, args), config)
        suite.samples = suite._read_eval_split()
        return suite

    def _read_eval_split(self) -> list[SampleOrBad]:
        """Samples of the selected subsets, `--limit` applied per subset."""
        out: list[SampleOrBad] = []
        for subset in self.args.subset_list or self.bench.subsets:
            rows = list(self.bench.rows(self.bench.eval_split, subset, self.files))
            self.total += len(rows)
            width = max(4, len(str(len(rows) - 1)))
            for index, (location, row) in enumerate(rows[: self.config.limit]):
                sample_id = f"{subset}-{index:0{width}d}"
                if "__error__" in row:
                    out.append(BadRow(sample_id, index, subset, location, str(row["__error__"])))
                    continue
                try:
                    sample = self.bench.to_sample(row, index, subset)
                    out.append(replace(sample, id=sample_id, index=index, subset=subset))
                except KeyError as exc:
                    out.append(BadRow(sample_id, index, subset, location, f"missing field {exc.args[0]!r}"))
                except (ValueError, TypeError) as exc:
                    out.append(BadRow(sample_id, index, subset, location, str(exc)))
        return out

    @cached_property
    def dataset_sha256(self) -> dict[str, str]:
        return sha256_files(self.files)

    @cached_property
    def few_shot_pool(self) -> list[Sample]:
        split = self.bench.few_shot_split
        if split is None or self.setup.few_shot_num == 0 or self.setup.fixed_exemplars is not None:
            return []
        pool = []
        for subset in self.args.subset_list or self.bench.subsets:
            for index, (location, row) in enumerate(self.bench.rows(split, subset, self.files)):
                try:
                    sample = self.bench.to_sample(row, index, subset)
                    pool.append(replace(sample, id=f"{split}-{subset}-{index}", index=index, subset=subset))
                except KeyError as exc:
                    raise DataError(f"{location}: missing field {exc.args[0]!r} (few-shot split)") from None
                except (ValueError, TypeError) as exc:
                    raise DataError(f"{location}: {exc} (few-shot split)") from None
        return pool

    def few_shot(self, sample: Sample) -> list[Sample]:
        """Exemplars for one sample: seeded per sample, so they do not depend on which others run."""
        k = self.setup.few_shot_num
        pool = [s for s in self.few_shot_pool if s.subset == sample.subset] or self.few_shot_pool
        if k == 0 or not pool:
            return []
        if not self.setup.few_shot_random:
            return pool[:k]
        rng = random.Random(f"{self.config.seed}:{self.bench.name}:{sample.id}")
        return rng.sample(pool, min(k, len(pool)))

    def request(self, sample: Sample) -> Request:
        return self.bench.request(sample, self.setup, self.few_shot(sample))

    def group_size(self, selected: int, workers: int) -> int:
        """Samples per backend call. Loglikelihood samples are cheap (one forward, no decoding) and pack all
        their choices in one row, so they go LOGLIKELIHOOD_GROUP times `--eval-batch-size` at a time; the
        backend splits a call into forward passes by token count. Backends that batch themselves may take
        more (`models.group_size`)."""
        loglikelihood = self.setup.options.get("mode") == "loglikelihood"
        batch = self.config.eval_batch_size * (LOGLIKELIHOOD_GROUP if loglikelihood else 1)
        return models.group_size(self.config, batch, selected, workers)

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
        shared = self.setup.few_shot_num > 0 and len(self.bench.subsets) > 1
        return (sample.subset if shared else "", -size)

    def describe(self) -> str:
        shots = f"{self.setup.few_shot_num}-shot"
        return f"{self.bench.name} (setup {self.setup.name}, {shots})"
