"""Run configuration: parse and validate the command-line strings into typed, frozen settings."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar


class ConfigError(ValueError):
    """A bad option value; the message names the option and the culprit, on one line."""


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings shared by every backend (`--generation-config`)."""

    do_sample: bool = False
    temperature: float = 0.0
    max_new_tokens: int = 512
    top_p: float = 1.0
    top_k: int = 0
    """0 disables top-k filtering."""
    repetition_penalty: float = 1.0


@dataclass(frozen=True)
class ModelArgs:
    """How to load a local model (`--model-args`)."""

    revision: str | None = None
    precision: str = "auto"
    """auto (the model config's dtype on a GPU, float32 on a CPU, where scores stay comparable with lm-eval's
    fp32 numbers), float32, bfloat16 (about 2x faster on CPU) or float16."""
    device_map: str = "auto"
    """auto (the GPU this process was given when torch sees one, else the CPU), cpu, cuda, cuda:N, or any
    transformers device_map (e.g. balanced, to split a large model over the visible cards)."""
    tf32: bool = False
    """Allow TF32 matmuls in float32 on a GPU (faster, but loglikelihoods drift from fp32 references)."""
    trust_remote_code: bool = False
    max_model_len: int | None = None
    """vLLM: the longest prompt + completion to reserve KV cache for (None: the model's own limit)."""
    enforce_eager: bool | None = None
    """vLLM: no CUDA graphs / compilation; None means on without a GPU (starts in ~30 s instead of ~90 s)."""
    gpu_memory_utilization: float = 0.9
    """vLLM: share of GPU memory for weights and KV cache."""
    tensor_parallel_size: int = 1
    """vLLM: GPUs one model is split over."""
    decoding: str = "auto"
    """transformers: the generation loop, refill (rows take the next prompt as they end), batch (a batch runs to
    its longest reply) or generate (`model.generate`); auto: batch (refill is not yet shown faster). Not in cache keys:
    greedy text is the same (up to float rounding, as with another batch size)."""


PRECISIONS = ("float32", "bfloat16", "float16", "auto")
DECODING_LOOPS = ("auto", "refill", "batch", "generate")


@dataclass(frozen=True)
class DatasetArgs:
    """Per-benchmark settings (`--dataset-args '{"gsm8k": {...}}'`); None means the setup's default."""

    setup: str | None = None
    few_shot_num: int | None = None
    few_shot_random: bool | None = None
    subset_list: tuple[str, ...] | None = None
    local_path: str | None = None
    """A folder holding this benchmark's files, instead of `<dataset-dir>/<name>`."""
    prompt_template: str | None = None
    """Benchmarks of your own data (general_mcq): the question's template, with `{question}`, `{choices}` and
    `{letters}` placeholders."""
    system_prompt: str | None = None
    """A system message for every prompt (a raw prompt gets it as its first paragraph)."""
    strip_thinking: bool | None = None
    """Take a reasoning model's `<think>` block out of the reply before extraction (None: on for generation
    setups). `{"*": {...}}` sets it, like any key, for every benchmark of the run."""
    extra: Mapping[str, Any] | None = None
    """Keys a benchmark declares itself (`Benchmark.options`, e.g. needle_haystack's `lengths`); the benchmark
    rejects a key it does not know when its suite loads."""

    def under(self, default: DatasetArgs) -> DatasetArgs:
        """These settings, the unset ones taken from `default` (the `"*"` entry)."""
        return dataclasses.replace(default, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                                               if getattr(self, f.name) is not None})


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs to know, parsed once on every process (controller and xdist workers)."""

    model: str | None = None
    """A local HF folder, a .gguf file or a hub id; None is the embedded default model."""
    model_args: ModelArgs = field(default_factory=ModelArgs)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    template: str | None = None
    """`--template-type`: `auto` (the tokenizer's chat template when it has one), `none` (raw prompts) or a Jinja
    chat template; None (not given): each setup's default (`Setup.chat_template`)."""
    limit: int | None = None
    dataset_args: Mapping[str, DatasetArgs] = field(default_factory=dict)
    dataset_dir: Path | None = None
    seed: int = 42
    work_dir: Path = Path("outputs")
    eval_batch_size: int = 8
    """Samples per batch; with `batch_auto` the group size, cut by the backend into batches that fit the GPU."""
    batch_auto: bool = False
    """`--eval-batch-size auto`: batches sized by a token budget from free GPU memory (8 per batch on a CPU)."""
    threads: int | None = None
    backend: str = "transformers"
    """A name in the backend registry (`evalscope.models.BACKENDS`): `transformers` and `vllm` run in this
    process, `openai` talks to the OpenAI-compatible server at `api_url`."""
    api_url: str | None = None
    """Base URL of an OpenAI-compatible server (`--api-url`), normalised to end in `/v1`; the first of `api_urls`."""
    api_urls: tuple[str, ...] = ()
    """Every endpoint of a fleet serving the same model (`--api-url` repeated, or a file of URLs), normalised."""
    api_key: str | None = field(default=None, repr=False)
    """Bearer token for `api_url`; never written anywhere (repr=False keeps it out of tracebacks too)."""
    concurrency: int = 16
    """Requests in flight at once against an API server."""
    request_timeout: float = 600.0
    """Seconds before one API request times out (and is retried)."""
    cache: Path | None = None
    """The response cache's SQLite file (`--use-cache`), or None for no cache."""
    rerun_failed: Path | None = None
    """A previous run folder: select only its incorrect or errored samples (`--rerun-failed`)."""
    resume: Path | None = None
    """A run folder to continue (`--resume`): its stored responses are reused, only what is missing is asked."""
    shard: tuple[int, int] | None = None
    """(K, N): run the K-th of N disjoint parts of the selected items (`--shard`)."""
    num_samples: int = 1
    """Completions drawn per problem of a pass@k benchmark (`--num-samples`)."""
    pass_k: tuple[int, ...] = (1,)
    """The k of pass@k to report, each at most `num_samples` (`--pass-k 1,10`)."""
    sandbox: str = "bubblewrap"
    """Where model-written programs run: `bubblewrap`, `docker` or `none` (unconfined)."""
    allow_unsafe_exec: bool = False
    """`--sandbox none` under CI=true needs this too."""
    exec_workers: int = 1
    """Programs run at once (in their own processes), beside generation."""
    exec_timeout: float = 10.0
    """Seconds one program may run before its whole process tree is killed."""
    judges: tuple[str, ...] = ()
    """`--judge SPEC` (repeatable): the models that grade the answers of setups with a judge metric."""
    judge_repeats: int = 1
    """`--judge-repeats N`: each judge asked N times per answer (sampling), for agreement across repeats."""
    checker_timeout: float = 10.0
    """Seconds one answer check (Math-Verify, sympy, IFEval's checkers, answer regexes) may run; past it the sample
    counts as wrong with cause `checker timeout`."""


T = TypeVar("T")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _coerce(option: str, key: str, raw: Any, hint: Any) -> Any:
    """Convert `raw` (a string from key=value, or a JSON value) to the field's type."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if raw is None or (isinstance(raw, str) and raw.lower() in ("none", "null")):
            return None
        return _coerce(option, key, raw, args[0])
    if origin is tuple:
        items = raw if isinstance(raw, list | tuple) else [s for s in str(raw).split(";") if s]
        return tuple(str(i) for i in items)
    if hint is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"{option}: {key}={raw!r} is not a boolean (true/false)")
    if hint is int:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ConfigError(f"{option}: {key}={raw!r} is not an integer")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{option}: {key}={raw!r} is not an integer") from None
    if hint is float:
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{option}: {key}={raw!r} is not a number") from None
    return str(raw)


def build(cls: type[T], option: str, values: Mapping[str, Any]) -> T:
    """Make a `cls` dataclass from a mapping, rejecting unknown keys and ill-typed values."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, raw in values.items():
        if key not in fields:
            raise ConfigError(f"{option}: unknown key {key!r} (known: {', '.join(fields)})")
        kwargs[key] = _coerce(option, key, raw, hints[key])
    return cls(**kwargs)


def parse_key_values(option: str, text: str | None) -> dict[str, Any]:
    """Parse `a=1,b=x` (or a JSON object) into a dict of raw values."""
    if not text or not text.strip():
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{option}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{option}: expected a JSON object")
        return data
    out: dict[str, Any] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option}: {part.strip()!r} is not key=value")
        out[key.strip()] = value.strip()
    return out


def parse_generation_config(text: str | None) -> GenerationConfig:
    config = build(GenerationConfig, "--generation-config", parse_key_values("--generation-config", text))
    if config.max_new_tokens < 1:
        raise ConfigError(f"--generation-config: max_new_tokens={config.max_new_tokens} must be at least 1")
    # Checked here, once, rather than failing on every sample (nan compares false with everything).
    if not (math.isfinite(config.temperature) and config.temperature >= 0):
        raise ConfigError(f"--generation-config: temperature={config.temperature} must be a finite number >= 0")
    if not 0 < config.top_p <= 1:
        raise ConfigError(f"--generation-config: top_p={config.top_p} must be in (0, 1]")
    if config.top_k < 0:
        raise ConfigError(f"--generation-config: top_k={config.top_k} must be >= 0 (0: no top-k filtering)")
    if not (math.isfinite(config.repetition_penalty) and config.repetition_penalty > 0):
        raise ConfigError(f"--generation-config: repetition_penalty={config.repetition_penalty} must be a finite "
                          "number > 0 (1: none)")
    if config.do_sample and config.temperature == 0:
        # Sampling at temperature 0 is greedy decoding; say so rather than divide by zero.
        config = dataclasses.replace(config, do_sample=False)
    return config


def parse_model_args(text: str | None) -> ModelArgs:
    args = build(ModelArgs, "--model-args", parse_key_values("--model-args", text))
    if args.precision not in PRECISIONS:
        raise ConfigError(f"--model-args: precision={args.precision!r} (choose from {', '.join(PRECISIONS)})")
    if args.decoding not in DECODING_LOOPS:
        raise ConfigError(f"--model-args: decoding={args.decoding!r} (choose from {', '.join(DECODING_LOOPS)})")
    return args


def parse_dataset_args(text: str | None, benchmark_options: Callable[[str], Mapping[str, str]] = lambda _: {}
                       ) -> dict[str, DatasetArgs]:
    """`--dataset-args` is JSON: `{"gsm8k": {"few_shot_num": 5, "setup": "lm-eval"}}`; a benchmark's own keys
    (`benchmark_options(name)`, given by the caller: this module reads no registry) go to `extra`."""
    if not text or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--dataset-args: invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError('--dataset-args: expected {"<benchmark>": {"key": value, ...}, ...}')
    known = {f.name for f in dataclasses.fields(DatasetArgs)} - {"extra"}
    out = {}
    for name, given in data.items():
        # `path` is `local_path` by the name the (and EvalScope's custom-dataset) examples give it
        values = {("local_path" if k == "path" else k): v for k, v in given.items()}
        if "extra" in values:
            raise ConfigError(f"--dataset-args[{name}]: unknown key 'extra'")
        own = {k: v for k, v in values.items() if k not in known and k in benchmark_options(name)}
        args = build(DatasetArgs, f"--dataset-args[{name}]", {k: v for k, v in values.items() if k not in own})
        out[name] = dataclasses.replace(args, extra=own or None)
    return out


def api_base(url: str) -> str:
    """`http://host:port`, `.../v1` or `.../v1/chat/completions` -> `http://host:port/v1` (the SDK's base URL)."""
    base = url.strip().rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        base = base.removesuffix(suffix)
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"--api-url: {url!r} is not an http(s) URL")
    return base if base.endswith("/v1") else f"{base}/v1"


def cache_file(value: str | None, work_dir: Path) -> Path | None:
    """`--use-cache` alone (or true/1/yes/on) -> `<work-dir>/cache/responses.sqlite`; false/0/no/off -> no
    cache (the seed's `--use-cache false`); a folder -> `<folder>/responses.sqlite`; a `.sqlite`/`.db` path is
    the file itself."""
    if value is None or value.strip().lower() in _FALSE:
        return None
    path = work_dir / "cache" if value.strip().lower() in {"", *_TRUE} else Path(value).expanduser()
    return path if path.suffix in (".sqlite", ".db") else path / "responses.sqlite"


def default_dataset_dir() -> Path | None:
    env = os.environ.get("EVALSCOPE_DATASET_DIR")
    return Path(env).expanduser() if env else None
