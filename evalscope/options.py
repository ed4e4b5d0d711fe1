"""The option table, written once: pytest's flags and ini keys, and the seed CLI's flags and run_task parameters
all come from it; `run_config` turns the parsed values into the run's typed settings."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import pytest

from evalscope import config as cfg
from evalscope import devices, models
from evalscope.models.resolve import looks_local
from evalscope.report import rundir


@dataclass(frozen=True)
class Option:
    """One option of a plugin: its flag, help, ini key and (for the core's) seed names."""

    flag: str
    help: str
    aliases: tuple[str, ...] = ()
    """Other spellings of the flag, on pytest's command line and the seed CLI's."""
    seed_names: tuple[str, ...] = ()
    """Other names of the run_task parameter (the seed's), besides `key`."""
    kind: Literal["value", "optional", "append", "flag", "toggle"] = "value"
    """`value`: takes one; `optional`: alone means `true` (a folder otherwise); `append`: repeatable; `flag`: on
    or off (off by default); `toggle`: on by default, `--no-<flag>` turns it off."""
    default: str | None = None

    @property
    def key(self) -> str:
        """The ini key and run_task parameter: `--model-args` -> `model_args`."""
        return self.flag.removeprefix("--").replace("-", "_")


@dataclass(frozen=True)
class OptionTable:
    """A plugin's options, declared once: pytest flags, ini keys, and their values read back by key. The core,
    perf and arena plugins each own one; a plugin reads another's options through that plugin's table."""

    name: str
    """The plugin's name: the prefix of every option's `dest`, and of its ini keys unless `bare_ini`."""
    title: str
    """The help group's title (`pytest --help`)."""
    options: tuple[Option, ...]
    bare_ini: bool = False
    """Ini keys are the bare keys (`model`, `limit`): the core's, which the seed's run.ini also sets."""

    @cached_property
    def _by_key(self) -> dict[str, Option]:
        return {opt.key: opt for opt in self.options}

    def option(self, key: str) -> Option:
        return self._by_key[key]

    def dest(self, key: str) -> str:
        return f"{self.name}_{key}"

    def ini(self, key: str) -> str:
        return key if self.bare_ini else f"{self.name}_{key}"

    def add_to(self, parser: pytest.Parser) -> None:
        group = parser.getgroup(self.name, self.title)
        for opt in self.options:
            flags, dest, ini = (opt.flag, *opt.aliases), self.dest(opt.key), self.ini(opt.key)
            if opt.kind == "append":
                group.addoption(*flags, dest=dest, action="append", default=[], help=opt.help)
                parser.addini(ini, help=f"{self.name}: {opt.help}", type="linelist", default=[])
            elif opt.kind in ("flag", "toggle"):
                on = opt.kind == "toggle"
                group.addoption(*flags, dest=dest, action="store_true", default=None, help=opt.help)
                if on:
                    group.addoption(f"--no-{opt.flag.removeprefix('--')}", dest=dest, action="store_false",
                                    help=f"turn {opt.flag} off")
                parser.addini(ini, help=f"{self.name}: {opt.help}", type="bool", default=on)
            else:
                extra: dict[str, Any] = {"nargs": "?", "const": "true"} if opt.kind == "optional" else {}
                group.addoption(*flags, dest=dest, default=None, help=opt.help, **extra)
                parser.addini(ini, help=f"{self.name}: {opt.help}", default=None)

    def value(self, config: pytest.Config, key: str) -> str | None:
        """An option's value: the command line, else the ini file, else its default."""
        given = config.getoption(self.dest(key))
        if given is None:
            given = config.getini(self.ini(key)) or None
        return self.option(key).default if given is None else str(given)

    def flag(self, config: pytest.Config, key: str) -> bool:
        """A flag or toggle: the command line (either spelling), else the ini file, else its default."""
        given = config.getoption(self.dest(key))
        return bool(config.getini(self.ini(key)) if given is None else given)

    def values(self, config: pytest.Config, key: str) -> list[str]:
        """A repeatable option's values: the ini file's lines, then the command line's."""
        return [*config.getini(self.ini(key)), *config.getoption(self.dest(key))]


OPTIONS = (
    Option("--model", "local HF folder, .gguf file or ModelScope/HF hub id (default: embedded SmolLM2-135M)"),
    Option("--model-args", "revision=...,precision=auto|float32|bfloat16|float16,device_map=auto|cpu|cuda:N,tf32=false,"
           "trust_remote_code=false; "
           "vLLM also max_model_len, enforce_eager, gpu_memory_utilization, tensor_parallel_size"),
    Option("--generation-config",
           "do_sample=false,temperature=0.0,max_new_tokens=512,top_p=1.0,top_k=0,repetition_penalty=1.0"),
    Option("--template-type", "auto (tokenizer's chat template), none (raw prompt) or a Jinja template (default: "
           "the setup's: lm-eval setups raw, EvalScope setups the chat template)",
           aliases=("--chat-template",), seed_names=("chat_template",)),
    Option("--limit", "evaluate only the first N samples of each benchmark subset"),
    Option("--dataset-args", 'JSON per benchmark: {"gsm8k": {"setup": "lm-eval", "few_shot_num": 5}}'),
    Option("--dataset-dir", "local data root holding <benchmark>/ folders (env EVALSCOPE_DATASET_DIR)"),
    Option("--seed", "seed for few-shot sampling and decoding (default 42)"),
    Option("--work-dir", "where run folders (predictions, report.json) are written (default ./outputs)",
           aliases=("--outputs",), seed_names=("outputs",)),
    Option("--eval-batch-size", "samples per inference batch (default 8), or auto: sized by free GPU memory"),
    Option("--threads", "torch threads per process (default: $EVALSCOPE_THREADS, else cores / xdist workers)"),
    Option("--api-url", "base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000 (perf, API models); "
           "repeat it, or give a file of URLs (one a line), for a fleet serving the same model", kind="append"),
    Option("--api-key", "API key sent as a Bearer token to --api-url (or env EVALSCOPE_API_KEY / OPENAI_API_KEY)"),
    Option("--backend", f"{', '.join(models.BACKENDS)} (default: {models.REMOTE_DEFAULT} with --api-url, else "
           f"{models.LOCAL_DEFAULT})"),
    Option("--concurrency", "API requests in flight at once (default 16)"),
    Option("--request-timeout", "seconds before one API request times out and is retried (evaluation default 600; "
           "perf default 120)"),
    Option("--use-cache", "per-request response cache (SQLite): DIR or FILE.sqlite, alone <work-dir>/cache "
           "(write --use-cache=DIR before benchmark paths)", kind="optional"),
    Option("--rerun-failed", "a previous run folder (or work dir: its latest run): run only its incorrect or errored "
           "samples"),
    Option("--shard", "K/N: run only the K-th (from 0) of N disjoint parts of the selected items, for a job "
           "scheduler; auto (Slurm arrays) or auto/N (Kubernetes Indexed Jobs) take K from the scheduler; "
           "`evalscope merge` joins the parts' run folders"),
    Option("--resume", "continue a killed or interrupted run in its folder (or a work dir's latest run): only the "
           "answers it lacks are asked for"),
    Option("--gate", "fail the session (exit 6) unless a score passes: 'gsm8k>=0.40', 'mmlu.stem>=0.3', "
           "'gsm8k:acc>0.1' (repeatable)", kind="append"),
    Option("--baseline", "a previous run's report.json (or folder): fail on a significant paired drop > --max-drop"),
    Option("--max-drop", "largest tolerated drop of the primary score against --baseline (default 0.02)",
           default="0.02"),
    Option("--pair-by", "how --baseline and --rerun-failed pair samples: id (default; checked against each "
           "sample's content, a mismatch is an error) or content"),
    Option("--num-samples", "completions drawn per problem for pass@k (code benchmarks; default 1; more than 1 needs "
           "sampling: --generation-config do_sample=true,temperature=0.8)"),
    Option("--pass-k", "the k of pass@k to report, each at most --num-samples (default 1; e.g. 1,10)"),
    Option("--sandbox", "where model-written programs run: bubblewrap (default), docker, or none (unconfined, "
           "refused under CI=true without --allow-unsafe-exec)"),
    Option("--allow-unsafe-exec", "with --sandbox none under CI=true: run untrusted code unconfined anyway",
           kind="flag"),
    Option("--exec-workers", "programs run at once, beside generation (default: cores / xdist workers)"),
    Option("--exec-timeout", "seconds one program may run before its process tree is killed (default 10)"),
    Option("--checker-timeout", "seconds one answer check (Math-Verify, sympy, IFEval, answer regexes) may run before "
           "the sample counts as wrong with cause 'checker timeout' (default 10)"),
    Option("--judge", "a judge model SPEC: a server URL, a model (folder, .gguf, hub id), default (the embedded "
           "model) or JSON {\"model\": ..., \"generation_config\": ...}; repeatable: judge-scored setups ask "
           "each (the arena takes one, or rule)", kind="append"),
    Option("--judge-repeats", "ask each judge N times per answer (needs a sampling judge), for agreement across "
           "repeats (default 1)"),
    Option("--benchmarks-dir", "a folder of your own benchmark folders (NAME/benchmark.py + test_NAME.py), found by "
           "name like the built-in ones (repeatable)", kind="append"),
    Option("--allow-override", "let a benchmark of your own shadow a built-in one of the same name", kind="flag"),
)
CORE = OptionTable("evalscope", "LLM evaluation (evalscope)", OPTIONS, bare_ini=True)
"""The core plugin's options; the seed CLI and run_task take the same ones."""


def add_options(parser: pytest.Parser) -> None:
    CORE.add_to(parser)


def value(config: pytest.Config, key: str) -> str | None:
    """A core option's value: the command line, else the ini file, else its default."""
    return CORE.value(config, key)


def flag(config: pytest.Config, key: str) -> bool:
    return CORE.flag(config, key)


def values(config: pytest.Config, key: str) -> list[str]:
    """A repeatable core option's values: the ini file's lines, then the command line's."""
    return CORE.values(config, key)


def _int(config: pytest.Config, key: str, default: int | None, minimum: int = 1) -> int | None:
    text = value(config, key)
    if text is None:
        return default
    try:
        number = int(text)
    except ValueError:
        raise cfg.ConfigError(f"{CORE.option(key).flag}: {text!r} is not an integer") from None
    if number < minimum:
        raise cfg.ConfigError(f"{CORE.option(key).flag}: {number} is below {minimum}")
    return number


def number(config: pytest.Config, key: str, default: float) -> float:
    text = value(config, key)
    try:
        result = float(text) if text else default
    except ValueError:
        raise cfg.ConfigError(f"{CORE.option(key).flag}: {text!r} is not a number") from None
    if not math.isfinite(result):
        raise cfg.ConfigError(f"{CORE.option(key).flag}: {text!r} is not a finite number")
    return result


SEED_LIMIT = 2**32
"""Seeds must fit every generator they reach (numpy's, torch's, vLLM's, a server's)."""


def seed(config: pytest.Config) -> int:
    number_ = _int(config, "seed", 42, minimum=0) or 0
    if number_ >= SEED_LIMIT:
        raise cfg.ConfigError(f"--seed: {number_} is too large (at most {SEED_LIMIT - 1})")
    return number_


def batch_size(text: str | None) -> int:
    """`--eval-batch-size N`, or `auto`: groups of AUTO_GROUP samples where GPUs are visible (the backend cuts them
    to fit the card), else the CPU's batch."""
    if text == "auto":
        return devices.AUTO_GROUP if devices.visible_gpus() else devices.CPU_BATCH
    if text is None:
        return devices.CPU_BATCH
    if not text.isdigit() or int(text) < 1:
        raise cfg.ConfigError(f"--eval-batch-size: {text!r} is not a positive integer or auto")
    return int(text)


def choose_backend(name: str | None, api_url: str | None) -> str:
    """`--backend` (one of the registry's names), defaulting to the API backend when `--api-url` is given."""
    chosen = (name or (models.REMOTE_DEFAULT if api_url else models.LOCAL_DEFAULT)).lower()
    if chosen not in models.BACKENDS:
        raise cfg.ConfigError(f"--backend: {name!r} (choose from {', '.join(models.BACKENDS)})")
    if models.backend_class(chosen).remote and not api_url:
        raise cfg.ConfigError(f"--backend {chosen} needs --api-url (e.g. http://127.0.0.1:8000/v1)")
    return chosen


def run_config(config: pytest.Config) -> cfg.RunConfig:
    """The run's settings from pytest's parsed options (raises ConfigError naming the option)."""
    dataset_dir = value(config, "dataset_dir")
    urls = api_urls(config)
    api_url = urls[0] if urls else None
    work_dir = Path(value(config, "work_dir") or "outputs")
    rerun, resume = value(config, "rerun_failed"), value(config, "resume")
    return cfg.RunConfig(
        model=value(config, "model"),
        model_args=cfg.parse_model_args(value(config, "model_args")),
        generation=cfg.parse_generation_config(value(config, "generation_config")),
        template=value(config, "template_type"),
        limit=_int(config, "limit", None),
        dataset_args=cfg.parse_dataset_args(value(config, "dataset_args"), _benchmark_options),
        dataset_dir=Path(dataset_dir).expanduser() if dataset_dir else cfg.default_dataset_dir(),
        seed=seed(config),
        work_dir=work_dir,
        eval_batch_size=batch_size(value(config, "eval_batch_size")),
        batch_auto=value(config, "eval_batch_size") == "auto",
        threads=_int(config, "threads", None),
        backend=choose_backend(value(config, "backend"), api_url),
        api_url=api_url,
        api_urls=tuple(urls),
        api_key=value(config, "api_key") or os.environ.get("EVALSCOPE_API_KEY") or os.environ.get("OPENAI_API_KEY"),
        concurrency=_int(config, "concurrency", 16) or 1,
        request_timeout=timeout(config),
        cache=cfg.cache_file(value(config, "use_cache"), work_dir),
        rerun_failed=_run_folder(rerun, "--rerun-failed"),
        resume=_run_folder(resume, "--resume"),
        shard=_shard(value(config, "shard")),
        judges=tuple(values(config, "judge")),
        judge_repeats=_int(config, "judge_repeats", 1) or 1,
        **execution(config),
    )


def given_api_urls(config: pytest.Config) -> list[str]:
    """`--api-url`'s values as given, a file among them replaced by the URLs it lists (one a line, `#` comments)."""
    urls: list[str] = []
    for given in values(config, "api_url"):
        path = Path(given).expanduser()
        if "://" not in given and path.is_file():
            lines = [line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
            if not any(lines):
                raise cfg.ConfigError(f"--api-url {given}: the file lists no URL")
            urls += [line for line in lines if line]
        else:
            urls.append(given)
    return urls


def api_urls(config: pytest.Config) -> list[str]:
    """The endpoints of the model's server (or fleet), normalised to their `/v1` base, without repeats."""
    return list(dict.fromkeys(cfg.api_base(url) for url in given_api_urls(config)))


def _shard(text: str | None) -> tuple[int, int] | None:
    from evalscope import shards

    found = shards.parse(text)
    return None if found is None else (found.index, found.count)


def _run_folder(text: str | None, flag: str) -> Path | None:
    """A run folder option's folder: as given, or a work dir's latest complete run (`--resume`: its latest run, and
    never a finished one)."""
    if not text:
        return None
    try:
        if flag == "--resume":
            return rundir.to_resume(Path(text).expanduser())
        return rundir.resolve(Path(text).expanduser(), flag)
    except rundir.RunError as exc:
        raise cfg.ConfigError(f"{flag}: {exc}") from None


def run_folder(config: pytest.Config, run: cfg.RunConfig) -> Path:
    """One run folder for the controller and its workers: `--resume`'s, or a new one (made on first write)."""
    from evalscope.report.recorder import new_run_dir

    if run.resume is not None:
        return run.resume
    return Path(config.workerinput["evalscope_run_dir"]) if is_worker(config) else new_run_dir(run.work_dir)  # type: ignore[attr-defined]


def timeout(config: pytest.Config) -> float:
    seconds = number(config, "request_timeout", 600.0)
    if seconds <= 0:
        raise cfg.ConfigError(f"--request-timeout: {seconds:g} must be positive (seconds)")
    return seconds


def execution(config: pytest.Config) -> dict[str, Any]:
    """The code-execution settings: samples, pass@k, sandbox, workers, timeout (checked against each other)."""
    n = _int(config, "num_samples", 1) or 1
    text = value(config, "pass_k") or "1"
    try:
        ks = tuple(sorted({int(k) for k in text.split(",") if k.strip()}))
    except ValueError:
        raise cfg.ConfigError(f"--pass-k: {text!r} is not a list of integers (e.g. 1,10)") from None
    if not ks or ks[0] < 1 or ks[-1] > n:
        raise cfg.ConfigError(f"--pass-k {text}: each k must be between 1 and --num-samples ({n})")
    if n > 1 and not cfg.parse_generation_config(value(config, "generation_config")).do_sample:
        raise cfg.ConfigError(f"--num-samples {n} with greedy decoding draws {n} identical completions; sample "
                              "instead (--generation-config do_sample=true,temperature=0.8)")
    sandbox = (value(config, "sandbox") or "bubblewrap").lower()
    if sandbox not in ("bubblewrap", "docker", "none"):
        raise cfg.ConfigError(f"--sandbox: {sandbox!r} (choose from bubblewrap, docker, none)")
    cores = max(1, (os.cpu_count() or 1) // workers(config))
    timeout = number(config, "exec_timeout", 10.0)
    if timeout <= 0:
        raise cfg.ConfigError(f"--exec-timeout: {timeout:g} must be positive")
    checker = number(config, "checker_timeout", 10.0)
    if checker <= 0:
        raise cfg.ConfigError(f"--checker-timeout: {checker:g} must be positive")
    return {"num_samples": n, "pass_k": ks, "sandbox": sandbox, "allow_unsafe_exec": flag(config, "allow_unsafe_exec"),
            "exec_workers": _int(config, "exec_workers", cores) or 1, "exec_timeout": timeout,
            "checker_timeout": checker}


OFFLINE_FLAGS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def go_offline(run: cfg.RunConfig) -> dict[str, str | None]:
    """With data and model local, set the hubs' offline flags (their clients otherwise retry for 20-45 s before
    failing); the values they had, for `restore_env`."""
    saved: dict[str, str | None] = {}
    if run.dataset_dir is not None and (run.model is None or looks_local(run.model)):
        for name in OFFLINE_FLAGS:
            saved[name] = os.environ.get(name)
            os.environ.setdefault(name, "1")
    return saved


def restore_env(saved: dict[str, str | None]) -> None:
    """Give the flags back, so an in-process caller (run_task) can reach the hubs afterwards."""
    for name, old in saved.items():
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def prepare(config: pytest.Config) -> tuple[cfg.RunConfig, int]:
    """Everything checked before a session starts (one-line errors, before any model loads): the settings, a local
    model's path, the thread count, `--dataset-args` keys, `--benchmarks-dir`; an xdist worker also takes its GPU.
    Returns the settings and the torch threads of this process."""
    from evalscope import registry
    from evalscope.models.resolve import source

    run = run_config(config)
    local = not models.backend_class(run.backend).remote
    if local and run.model is not None and looks_local(run.model):
        source(run.model)  # a missing local path is a usage error now, not 1319 errors later
    if run.cache is not None:  # an unreadable cache is one line now, not an internal error
        from evalscope.cache import ResponseCache

        ResponseCache(run.cache).close()
    for root in values(config, "benchmarks_dir"):
        registry.add_root(Path(root).expanduser(), flag(config, "allow_override"))
    check_dataset_args(config, run)
    if local and is_worker(config):  # before anything in this process initialises CUDA
        devices.pin_worker(config.workerinput["workerid"], run.model_args.tensor_parallel_size)  # type: ignore[attr-defined]
    return run, threads(config, run)


def run_benchmarks(args: list[str]) -> set[str]:
    """The benchmarks the command line's paths name: a benchmark folder, a file in one, or a folder of them."""
    names: set[str] = set()
    for arg in args:
        path = Path(arg.split("::", 1)[0])
        folder = path.parent if path.is_file() else path
        if (folder / "benchmark.py").is_file():
            names.add(folder.resolve().name)
        elif folder.is_dir():
            names |= {p.parent.name for p in folder.glob("*/benchmark.py")}
    return names


def check_dataset_args(config: pytest.Config, run: cfg.RunConfig) -> None:
    """A `--dataset-args` key that names no benchmark of this run is a typo, not a wish for the defaults."""
    names = run_benchmarks(list(config.args))
    unknown = sorted(set(run.dataset_args) - names - {"*"})  # "*": every benchmark
    if names and unknown:
        raise cfg.ConfigError(f"--dataset-args: {unknown[0]!r} is not a benchmark of this run "
                              f"({', '.join(sorted(names))})")


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def workers(config: pytest.Config) -> int:
    """Processes sharing the samples: xdist's worker count (the same on the controller and every worker)."""
    if is_worker(config):
        return int(config.workerinput.get("workercount", 1))  # type: ignore[attr-defined]
    count = config.getoption("numprocesses", None) if config.pluginmanager.hasplugin("xdist") else None
    return count if isinstance(count, int) and count > 0 else 1


def auto_workers(config: pytest.Config) -> int | None:
    """`-n auto`: one worker per GPU (or tensor-parallel group) for a local model; None lets xdist count cores.
    Asked before configure, so it reads the options itself."""
    try:
        if values(config, "api_url") or value(config, "backend") == models.REMOTE_DEFAULT:
            return None
        per_worker = cfg.parse_model_args(value(config, "model_args")).tensor_parallel_size
    except cfg.ConfigError:
        return None  # reported once configure parses the options
    return devices.auto_workers(len(devices.visible_gpus()), per_worker)


def threads(config: pytest.Config, run: cfg.RunConfig) -> int:
    """Torch threads per process: --threads, else EVALSCOPE_THREADS (for runs started by other programs, e.g.
    tests running in parallel), else this machine's cores over the xdist workers."""
    text = os.environ.get("EVALSCOPE_THREADS", "").strip()
    if text and (not text.isdigit() or int(text) < 1):
        raise cfg.ConfigError(f"EVALSCOPE_THREADS={text!r}: expected a positive integer")
    return run.threads or (int(text) if text else max(1, (os.cpu_count() or 1) // workers(config)))


def _benchmark_options(name: str) -> Mapping[str, str]:
    """The `--dataset-args` keys a built-in benchmark declares itself (`Benchmark.options`); none for `*` or a name
    that is no benchmark (reported elsewhere)."""
    from evalscope import registry  # lazily: the registry imports every benchmark definition

    try:
        return registry.get(name).options
    except Exception:  # an unknown name is reported by the check of the run's benchmarks, in one line
        return {}
