"""OpenCompass (github.com/open-compass/opencompass) as a benchmark: the datasets of `--opencompass-config` are
its subsets; OpenCompass prompts the served model and judges every sample, and its verdicts become our items."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from evalscope.api import Benchmark, Completion, DataError, GenerationRequest, Sample, Scored, Setup, fields
from evalscope.backends import opencompass as oc
from evalscope.config import RunConfig


class OpenCompass(Benchmark):
    version = "1"
    splits = {"test": "samples.jsonl"}  # OpenCompass's test rows, listed by its own loaders (backends/opencompass)
    setups = (Setup("opencompass", "OpenCompass's dataset config: its prompt, its postprocessing, its evaluator's "
                    "per-sample verdict (acc)"),)
    external = True
    task: oc.Task | None = None
    listing: Path | None = None
    answers: dict[tuple[str, int], oc.Answer]

    def __init__(self) -> None:
        self.answers = {}

    def bind(self, task: oc.Task, listing: Path) -> None:
        """This run's task and its samples' listing (the backends plugin, at configure time)."""
        self.task, self.listing, self.answers = task, listing, {}

    def adapt(self, setup: Setup, config: RunConfig) -> Setup:
        """The setup as report.json records it: which OpenCompass datasets and which served model."""
        if self.task is None:
            return setup
        m = self.task.model
        return replace(setup, description=f"{setup.description}; datasets {', '.join(self.task.datasets)}; model "
                                          f"{m.path} at {m.chat_url} (max_out_len {m.max_out_len})")

    @property
    def data_dir_name(self) -> str:
        if self.listing is None:
            raise DataError("opencompass: give the OpenCompass task: --opencompass-config FILE (datasets, models)")
        return str(self.listing.parent)  # absolute: it wins over --dataset-dir in the path join

    def subsets_in(self, files: Mapping[str, Path]) -> tuple[str, ...]:
        with files["test"].open(encoding="utf-8") as fh:
            return tuple(dict.fromkeys(json.loads(line)["dataset"] for line in fh))

    def rows(self, path: Path, split: str, subset: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                row = json.loads(line)
                if row["dataset"] == subset:
                    yield f"{path}:{number}", row

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        text, target, dataset, index = fields(row, "input", "target", "dataset", "index")
        return Sample(str(text), str(target), metadata={"dataset": dataset, "opencompass_index": int(index)})

    def request(self, sample: Sample, setup: Setup, few_shot: Sequence[Sample]) -> GenerationRequest:
        return GenerationRequest(sample.input)  # only what groups sort by: OpenCompass writes the real prompt

    def external_answers(self, samples: Sequence[Sample], folder: Path) -> Iterator[tuple[int, Completion]]:
        assert self.task is not None and self.listing is not None
        select: dict[str, list[int]] = {}
        for s in samples:
            select.setdefault(s.subset, []).append(s.index)
        self.answers.update(oc.run(self.task, select, self.listing.parent, folder))
        for i, s in enumerate(samples):
            got = self.answers.get((s.subset, s.index))
            if got is not None:
                yield i, Completion(got.prediction, 0, 0, "stop", got.prompt)

    def score(self, sample: Sample, response: Any, setup: Setup) -> Scored:
        got = self.answers[(sample.subset, sample.index)]
        if got.correct is None:
            raise DataError(f"OpenCompass gives no per-sample verdict for {sample.subset}: "
                            f"{got.details['verdict_from']}")
        return Scored({"acc": float(got.correct)}, {"acc": got.extracted}, {"opencompass": dict(got.details)})
