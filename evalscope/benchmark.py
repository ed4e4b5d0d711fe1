"""What a benchmark is (data, setups, prompt, scoring) and the registry that finds benchmarks by name."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from evalscope.config import DatasetArgs
from evalscope.schema import BadRow, Request, Response, Sample


class UnknownBenchmark(LookupError):
    """A benchmark name that no folder under the benchmarks root defines."""


@dataclass(frozen=True)
class Setup:
    """A named way of running a benchmark, matching a reference harness (e.g. lm-eval's 5-shot GSM8K)."""

    name: str
    description: str
    few_shot_num: int = 0
    few_shot_random: bool = True
    """Draw exemplars from the few-shot split with the run's seed (False: the first N)."""
    fixed_exemplars: int | None = None
    """The setup brings its own N exemplars (the few-shot split is not read); few_shot_num may not exceed N."""
    metrics: tuple[str, ...] = ("acc",)
    """Metric names; the first is the primary one (the score in the summary table and the gates)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Benchmark-specific switches the prompt and scorer read."""

    @property
    def primary_metric(self) -> str:
        return self.metrics[0]


@dataclass(frozen=True)
class Scored:
    """A benchmark's verdict on one completion."""

    metrics: Mapping[str, float]
    extracted: Mapping[str, str | None]


def fields(row: Mapping[str, Any], *names: str) -> list[Any]:
    """The named fields of a row; a missing or empty (None) field raises KeyError naming it."""
    values = []
    for name in names:
        if row.get(name) is None:
            raise KeyError(name)
        values.append(row[name])
    return values


class Benchmark:
    """Subclass per benchmark: say where the data is, how to read a row, prompt it and score the answer."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    """Bumped whenever prompts, extraction or scoring change, so reports stay comparable."""
    data_dir_name: ClassVar[str]
    """The folder under `--dataset-dir` that holds the files."""
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
    setups: ClassVar[Mapping[str, Setup]]
    default_setup: ClassVar[str]

    def rows(self, split: str, subset: str, files: Mapping[str, Path]) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (`file:line`, row) for a split; the default reads one file through `datasets`."""
        from evalscope.data import read_rows

        yield from read_rows(files[split])

    def to_sample(self, row: Mapping[str, Any], index: int, subset: str) -> Sample:
        """Turn a raw row into a Sample; raise KeyError/ValueError for a malformed row."""
        raise NotImplementedError

    def request(self, sample: Sample, setup: Setup, few_shot: Sequence[Sample]) -> Request:
        raise NotImplementedError

    def score(self, sample: Sample, completion: Response, setup: Setup) -> Scored:
        raise NotImplementedError

    def resolve_setup(self, args: DatasetArgs) -> Setup:
        """The setup named in --dataset-args (or the default), with the few-shot overrides applied."""
        name = args.setup or self.default_setup
        if name not in self.setups:
            raise ValueError(f"{self.name}: unknown setup {name!r} (choose from {', '.join(self.setups)})")
        setup = self.setups[name]
        if args.few_shot_num is not None:
            limit = setup.fixed_exemplars
            if args.few_shot_num < 0 or (limit is not None and args.few_shot_num > limit):
                raise ValueError(f"{self.name}: few_shot_num={args.few_shot_num} is out of range for setup "
                                 f"{name!r} (0..{limit if limit is not None else 'n'})")
            setup = replace(setup, few_shot_num=args.few_shot_num)
        if args.few_shot_random is not None:
            setup = replace(setup, few_shot_random=args.few_shot_random)
        return setup


SampleOrBad = Sample | BadRow


def benchmarks_root() -> Path:
    """Where the benchmark folders are: inside the installed package, or at the top of a checkout."""
    env = os.environ.get("EVALSCOPE_BENCHMARKS_DIR")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parent
    installed = package / "benchmarks"
    return installed if installed.is_dir() else package.parent / "benchmarks"


def available() -> list[str]:
    root = benchmarks_root()
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob("*/benchmark.py"))


def benchmark_dir(name: str) -> Path:
    path = benchmarks_root() / name
    if not (path / "benchmark.py").is_file():
        known = ", ".join(available()) or "none found"
        raise UnknownBenchmark(f"unknown benchmark {name!r} (available: {known})")
    return path


def _import_definition(name: str) -> ModuleType:
    module_name = f"evalscope_benchmarks.{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = benchmark_dir(name) / "benchmark.py"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@cache
def get(name: str) -> Benchmark:
    """The benchmark named `name` (its folder's `benchmark.py` defines `BENCHMARK`)."""
    module = _import_definition(name)
    bench = getattr(module, "BENCHMARK", None)
    if not isinstance(bench, Benchmark):
        raise UnknownBenchmark(f"{module.__file__}: defines no BENCHMARK = <Benchmark subclass>()")
    return bench
