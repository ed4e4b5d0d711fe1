"""The pytest plugin: options, one parametrized item per sample, batched prediction, outcomes and reports."""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from evalscope import config as cfg
from evalscope import gates, htmlreport, runs
from evalscope.benchmark import UnknownBenchmark, benchmark_dir
from evalscope.data import DataError
from evalscope.engine import (
    BENCH_KEY,
    Engine,
    PredictionError,
    ProgressFactory,
    assign_groups,
    no_progress,
    sample_of,
)
from evalscope.models import CapabilityError
from evalscope.models.resolve import ModelError, looks_local, source
from evalscope.recorder import ITEM_PROPERTY, RESULT_PROPERTY, Recorder
from evalscope.report import format_table
from evalscope.schema import BadRow, ChoiceLoglikelihoods, ChoiceRequest, Sample, SampleResult
from evalscope.stats import CLUSTER_KEY
from evalscope.suite import Suite

RUN_KEY = pytest.StashKey[cfg.RunConfig]()
SUITES_KEY = pytest.StashKey[dict[str, Suite]]()
ENGINE_KEY = pytest.StashKey[Engine]()
RECORDER_KEY = pytest.StashKey[Recorder]()
GATES_KEY = pytest.StashKey[gates.GateKeeper]()
VERDICTS_KEY = pytest.StashKey[tuple[list[gates.Verdict], gates.GateError | None]]()
ENV_KEY = pytest.StashKey[dict[str, str | None]]()

# The serving-performance suite's options, items and reports (`-m perf`) live in their own plugin module.
pytest_plugins = ["evalscope.perf.plugin"]

# (option, ini key, help). Every option is also readable from the ini file under the ini key.
OPTIONS = [
    ("--model", "model", "local HF folder, .gguf file or ModelScope/HF hub id (default: embedded SmolLM2-135M)"),
    ("--model-args", "model_args", "revision=...,precision=float32|bfloat16,device_map=cpu,trust_remote_code=false; "
     "vLLM also max_model_len, enforce_eager, gpu_memory_utilization, tensor_parallel_size"),
    ("--generation-config", "generation_config",
     "do_sample=false,temperature=0.0,max_new_tokens=512,top_p=1.0,top_k=0,repetition_penalty=1.0"),
    ("--template-type", "template_type", "auto (tokenizer's chat template), none (raw prompt) or a Jinja template"),
    ("--limit", "limit", "evaluate only the first N samples of each benchmark subset"),
    ("--dataset-args", "dataset_args", 'JSON per benchmark: {"gsm8k": {"setup": "lm-eval", "few_shot_num": 5}}'),
    ("--dataset-dir", "dataset_dir", "local data root holding <benchmark>/ folders (env EVALSCOPE_DATASET_DIR)"),
    ("--seed", "seed", "seed for few-shot sampling and decoding (default 42)"),
    ("--work-dir", "work_dir", "where run folders (predictions, report.json) are written (default ./outputs)"),
    ("--eval-batch-size", "eval_batch_size", "samples per inference batch (default 8)"),
    ("--threads", "threads", "torch threads per process (default: $EVALSCOPE_THREADS, else cores / xdist workers)"),
    ("--api-url", "api_url", "base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000 (perf, API models)"),
    ("--api-key", "api_key", "API key sent as a Bearer token to --api-url (or env EVALSCOPE_API_KEY / OPENAI_API_KEY)"),
    ("--backend", "backend", "transformers, openai or vllm (default: openai with --api-url, else transformers)"),
    ("--concurrency", "concurrency", "API requests in flight at once (default 16)"),
    ("--rerun-failed", "rerun_failed", "a previous run folder: run only its incorrect or errored samples"),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evalscope", "LLM evaluation (evalscope)")
    for flag, ini, help_text in OPTIONS:
        extra = ["--chat-template"] if flag == "--template-type" else []
        group.addoption(flag, *extra, dest=f"evalscope_{ini}", default=None, help=help_text)
        parser.addini(ini, help=f"evalscope: {help_text}", default=None)
    group.addoption("--use-cache", dest="evalscope_use_cache", nargs="?", const="true", default=None,
                    help="per-request response cache (SQLite): DIR or FILE.sqlite, alone <work-dir>/cache "
                         "(write --use-cache=DIR before benchmark paths)")
    parser.addini("use_cache", help="evalscope: response cache folder or file", default=None)
    group.addoption("--gate", dest="evalscope_gates", action="append", default=[],
                    help="fail the session (exit 6) unless a score passes: 'gsm8k>=0.40', 'mmlu.stem>=0.3', "
                         "'gsm8k:acc>0.1' (repeatable)")
    group.addoption("--baseline", dest="evalscope_baseline", default=None,
                    help="a previous run's report.json (or folder): fail on a significant paired drop > --max-drop")
    group.addoption("--max-drop", dest="evalscope_max_drop", default="0.02",
                    help="largest tolerated drop of the primary score against --baseline (default 0.02)")


def _value(config: pytest.Config, ini: str) -> str | None:
    value = config.getoption(f"evalscope_{ini}")
    if value is None:
        value = config.getini(ini) or None
    return None if value is None else str(value)


def _int(config: pytest.Config, ini: str, default: int | None, minimum: int = 1) -> int | None:
    text = _value(config, ini)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise cfg.ConfigError(f"--{ini.replace('_', '-')}: {text!r} is not an integer") from None
    if value < minimum:
        raise cfg.ConfigError(f"--{ini.replace('_', '-')}: {value} is below {minimum}")
    return value


def run_config(config: pytest.Config) -> cfg.RunConfig:
    dataset_dir = _value(config, "dataset_dir")
    api_url = _value(config, "api_url")
    work_dir = Path(_value(config, "work_dir") or "outputs")
    rerun = _value(config, "rerun_failed")
    return cfg.RunConfig(
        model=_value(config, "model"),
        model_args=cfg.parse_model_args(_value(config, "model_args")),
        generation=cfg.parse_generation_config(_value(config, "generation_config")),
        template=_value(config, "template_type") or "auto",
        limit=_int(config, "limit", None),
        dataset_args=cfg.parse_dataset_args(_value(config, "dataset_args")),
        dataset_dir=Path(dataset_dir).expanduser() if dataset_dir else cfg.default_dataset_dir(),
        seed=_int(config, "seed", 42, minimum=0) or 0,
        work_dir=work_dir,
        eval_batch_size=_int(config, "eval_batch_size", 8) or 1,
        threads=_int(config, "threads", None),
        backend=cfg.choose_backend(_value(config, "backend"), api_url),
        api_url=cfg.api_base(api_url) if api_url else None,
        api_key=_value(config, "api_key") or os.environ.get("EVALSCOPE_API_KEY") or os.environ.get("OPENAI_API_KEY"),
        concurrency=_int(config, "concurrency", 16) or 1,
        request_timeout=_timeout(config),
        cache=cfg.cache_file(_value(config, "use_cache"), work_dir),
        rerun_failed=Path(rerun).expanduser() if rerun else None,
    )


def _timeout(config: pytest.Config) -> float:
    """The perf suite's --request-timeout also bounds one API request of an evaluation (default 600 s)."""
    text = config.getoption("perf_request_timeout", None)
    try:
        return float(text) if text else 600.0
    except ValueError:
        raise cfg.ConfigError(f"--request-timeout: {text!r} is not a number") from None


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _int_env(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise pytest.UsageError(f"{name}={value!r}: expected a positive integer")
    return int(value)


def _workers(config: pytest.Config) -> int:
    """Processes sharing the samples: xdist's worker count (the same on the controller and every worker)."""
    if _is_worker(config):
        return int(config.workerinput.get("workercount", 1))  # type: ignore[attr-defined]
    count = config.getoption("numprocesses", None) if config.pluginmanager.hasplugin("xdist") else None
    return count if isinstance(count, int) and count > 0 else 1


def gate_keeper(config: pytest.Config) -> gates.GateKeeper:
    """Parse --gate/--baseline/--max-drop (errors are usage errors, before any inference)."""
    try:
        thresholds = tuple(gates.Threshold.parse(text) for text in config.getoption("evalscope_gates"))
        for gate in thresholds:
            benchmark_dir(gate.benchmark)
        text = str(config.getoption("evalscope_max_drop"))
        try:
            max_drop = float(text)
        except ValueError:
            raise cfg.ConfigError(f"--max-drop: {text!r} is not a number") from None
        if not 0 <= max_drop < 1:
            raise cfg.ConfigError(f"--max-drop: {max_drop} must be in [0, 1)")
        path = config.getoption("evalscope_baseline")
        baseline = runs.load(Path(path).expanduser()) if path else None
    except (gates.GateError, UnknownBenchmark, cfg.ConfigError) as exc:
        raise pytest.UsageError(f"{exc}") from None
    except runs.RunError as exc:
        raise pytest.UsageError(f"--baseline: {exc}") from None
    return gates.GateKeeper(thresholds, baseline, max_drop)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "evalscope(name): a benchmark suite, parametrized with one item per sample")
    config.addinivalue_line("markers", "perf: serving performance tests (deselected unless -m perf)")
    config.stash[ENV_KEY] = {}
    try:
        run = run_config(config)
        if run.backend != "openai" and run.model is not None and looks_local(run.model):
            source(run.model)  # a missing local path is a usage error now, not 1319 errors later
    except (cfg.ConfigError, ModelError) as exc:
        raise pytest.UsageError(str(exc)) from None
    if run.dataset_dir is not None and (run.model is None or looks_local(run.model)):
        # Everything is local: hub clients would otherwise retry for 20-45 s before failing offline.
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
            config.stash[ENV_KEY][name] = os.environ.get(name)
            os.environ.setdefault(name, "1")
    config.stash[RUN_KEY] = run
    config.stash[SUITES_KEY] = {}
    # --threads, else EVALSCOPE_THREADS (for runs started by other programs, e.g. tests running in parallel),
    # else this machine's cores over the xdist workers.
    threads = run.threads or _int_env("EVALSCOPE_THREADS") or max(1, (os.cpu_count() or 1) // _workers(config))
    config.stash[ENGINE_KEY] = Engine(run, config.stash[SUITES_KEY], threads, _progress_factory(config))
    if _is_worker(config):
        if config.workerinput.get("evalscope_loadgroup"):  # type: ignore[attr-defined]
            # Workers re-parse the command line, so they learn of the switch below from the controller.
            config.option.loadgroup = True
    else:
        if config.getoption("dist", "no") in ("load", "worksteal"):
            # A group of samples is one batch: it must go to one worker whole (see engine.py).
            config.option.dist = "loadgroup"
        config.stash[GATES_KEY] = gate_keeper(config)
        recorder = Recorder(config, run, config.stash[SUITES_KEY])
        config.stash[RECORDER_KEY] = recorder
        config.pluginmanager.register(recorder, "evalscope-recorder")
        htmlreport.register(config, recorder)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput["evalscope_loadgroup"] = node.config.getoption("dist", "no") == "loadgroup"


def _progress_factory(config: pytest.Config) -> ProgressFactory:
    if _is_worker(config):
        return no_progress

    @contextlib.contextmanager
    def progress(desc: str, total: int) -> Iterator[Callable[[int], None]]:
        from tqdm import tqdm

        capture = config.pluginmanager.getplugin("capturemanager")
        live = capture.global_and_fixture_disabled if capture else contextlib.nullcontext
        with live():
            bar = tqdm(total=total, desc=desc, unit="step", leave=False, disable=None, file=sys.stderr)

        def update(n: int) -> None:
            if not bar.disable:
                with live():
                    bar.update(n)

        try:
            yield update
        finally:
            with live():
                bar.close()

    return progress


def _suite(config: pytest.Config, name: str) -> Suite:
    suites = config.stash[SUITES_KEY]
    if name not in suites:
        suites[name] = Suite.load(name, config.stash[RUN_KEY])
    return suites[name]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    mark = metafunc.definition.get_closest_marker("evalscope")
    if mark is None or "sample" not in metafunc.fixturenames:
        return
    name = str(mark.args[0])
    try:
        suite = _suite(metafunc.config, name)
    except (UnknownBenchmark, DataError, ValueError) as exc:
        # CollectError prints its message alone: one line naming the culprit, no traceback.
        raise pytest.Collector.CollectError(str(exc)) from None
    metafunc.parametrize("sample", suite.samples, ids=[s.id for s in suite.samples])


def failed_samples(run_dir: Path) -> set[tuple[str, str]]:
    """(benchmark, sample id) of every sample a previous run got wrong or could not score."""
    try:
        previous = runs.load(run_dir)
    except runs.RunError as exc:
        raise pytest.UsageError(f"--rerun-failed: {exc}") from None
    failed = set()
    for bench, records in previous.records.items():
        scored = {str(r["sample_id"]) for r in records if "error" not in r}
        for record in records:
            sample_id = str(record["sample_id"])
            # A sample that errored in one group and was scored later (e.g. -n) counts as scored.
            if ("error" in record and sample_id not in scored) or record.get("correct") is False:
                failed.add((bench, sample_id))
    return failed


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        mark = item.get_closest_marker("evalscope")
        params = item.callspec.params if hasattr(item, "callspec") else {}
        # isinstance: an empty parameter set leaves pytest's NOTSET placeholder (a skipped item).
        if mark is not None and isinstance(params.get("sample"), Sample | BadRow):
            name = str(mark.args[0])
            item.stash[BENCH_KEY] = name
            item.user_properties.append((ITEM_PROPERTY, {"benchmark": name, "sample_id": sample_of(item).id}))
    rerun = config.stash[RUN_KEY].rerun_failed
    if rerun is not None:
        wanted = failed_samples(rerun)
        keep = [it for it in items if BENCH_KEY not in it.stash or (it.stash[BENCH_KEY], sample_of(it).id) in wanted]
        if len(keep) < len(items):
            config.hook.pytest_deselected(items=[it for it in items if it not in keep])
            items[:] = keep


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    # Groups are cut from the final selection (after -k, --lf, deselection), and before xdist's worker hook
    # sends the node ids to the controller, since the group travels in the node id.
    config = session.config
    suites = config.stash[SUITES_KEY]
    selected = Counter(item.stash[BENCH_KEY] for item in session.items if BENCH_KEY in item.stash)
    workers = _workers(config)
    assign_groups(session.items, lambda name: suites[name].group_size(selected[name], workers),
                  bool(config.getoption("loadgroup", False)),
                  lambda item: suites[item.stash[BENCH_KEY]].batch_key(sample_of(item)))
    config.stash[ENGINE_KEY].bind(session.items)
    if _is_worker(config) or config.option.collectonly:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for name, n in sorted(selected.items()):
        suite = config.stash[SUITES_KEY][name]
        if reporter is not None:
            reporter.write_line(f"evalscope: {suite.describe()}: {n} of {suite.total} samples selected")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    if getattr(node, "gateway", None) is None or node.gateway.id != "gw0":
        return
    counts = Counter(i.split("[", 1)[0] for i in ids if "[" in i)
    reporter = node.config.pluginmanager.get_plugin("terminalreporter")
    for test, n in sorted(counts.items()):
        if reporter is not None:
            reporter.write_line(f"evalscope: {test}: {n} samples selected")


@pytest.fixture
def scored(request: pytest.FixtureRequest) -> SampleResult:
    """Predict (with the item's batch group, if not done yet) and score this item's sample."""
    item = request.node
    sample = sample_of(item)
    if isinstance(sample, BadRow):
        pytest.fail(sample.message, pytrace=False)
    engine = request.config.stash[ENGINE_KEY]
    bench = item.stash[BENCH_KEY]
    failure: str | None = None
    try:
        completion = engine.completion(item)
    except PredictionError as exc:
        failure = f"{bench} {sample.id}: {exc}"
        if engine.fatal is not None:
            unable = isinstance(engine.fatal, CapabilityError)
            what = "cannot run this benchmark" if unable else "the model failed to load"
            request.session.shouldstop = f"evalscope: {what}: {exc}"
    if failure is not None:  # raised outside the except block: one line, no chained traceback
        pytest.fail(failure, pytrace=False)
    suite = engine.suites[bench]
    verdict = suite.bench.score(sample, completion, suite.setup)
    common = {
        "benchmark": bench, "subset": sample.subset, "sample_id": sample.id, "index": sample.index,
        "metrics": dict(verdict.metrics), "primary_metric": suite.setup.primary_metric,
        "extracted": dict(verdict.extracted), "target": sample.target, "prompt": completion.rendered_prompt,
        "category": suite.bench.categories.get(sample.subset),
        "cluster": None if sample.metadata.get(CLUSTER_KEY) is None else str(sample.metadata[CLUSTER_KEY]),
    }
    if isinstance(completion, ChoiceLoglikelihoods):
        asked = suite.request(sample)
        assert isinstance(asked, ChoiceRequest)
        chosen = verdict.extracted.get(suite.setup.primary_metric)
        result = SampleResult(
            **common, output=chosen or "", prompt_tokens=completion.prompt_tokens,
            completion_tokens=sum(completion.continuation_tokens), finish_reason="loglikelihood",
            choices=asked.continuations, loglikelihoods=completion.loglikelihoods,
        )
    else:
        result = SampleResult(
            **common, output=completion.text, prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens, finish_reason=completion.finish_reason,
        )
    item.user_properties.append((RESULT_PROPERTY, result.to_json()))
    return result


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    if report.when != "call" or not report.passed:
        return None
    for key, value in report.user_properties:
        if key == RESULT_PROPERTY and isinstance(value, dict) and not SampleResult.from_json(value).correct:
            return "incorrect", "i", ("INCORRECT", {"yellow": True})
    return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    engine = config.stash.get(ENGINE_KEY, None)
    if engine is None:
        return
    engine.close()
    if _is_worker(config):
        config.workeroutput["evalscope"] = engine.info()  # type: ignore[attr-defined]
        return
    recorder = config.stash[RECORDER_KEY]
    if engine.batches or engine.cache is not None:
        recorder.add_local(engine.info())
    recorder.finish(int(exitstatus))
    keeper = config.stash[GATES_KEY]
    if keeper.active and not config.option.collectonly:
        _judge(session, keeper, recorder)


def _judge(session: pytest.Session, keeper: gates.GateKeeper, recorder: Recorder) -> None:
    """Gate verdicts into report.json, the terminal and the exit status (on the controller only)."""
    primary = {r.benchmark: r.primary_metric for r in recorder.results.values()}
    scores: dict[str, dict[str, float]] = {}
    for r in recorder.results.values():
        scores.setdefault(r.benchmark, {})[r.sample_id] = float(r.metrics.get(r.primary_metric, 0.0))
    verdicts: list[gates.Verdict] = []
    error: gates.GateError | None = None
    try:
        verdicts = keeper.judge(recorder.table, scores, primary)
    except gates.GateError as exc:
        error = exc
    session.exitstatus = gates.exit_status(int(session.exitstatus), verdicts, error)
    session.config.stash[VERDICTS_KEY] = (verdicts, error)
    recorder.amend(int(session.exitstatus), gates={
        "passed": error is None and all(v.passed for v in verdicts), "error": str(error) if error else None,
        "verdicts": [v.to_json() for v in verdicts]})


def pytest_unconfigure(config: pytest.Config) -> None:
    """Give the offline flags back, so an in-process caller (run_task) can reach the hubs afterwards."""
    for name, value in config.stash.get(ENV_KEY, {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    recorder = config.stash.get(RECORDER_KEY, None)
    if recorder is not None and recorder.report_path is not None:
        terminalreporter.section("evalscope scores")
        for line in format_table(recorder.table, recorder.errors).splitlines():
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"report: {recorder.report_path}")
    verdicts, error = config.stash.get(VERDICTS_KEY, ([], None))
    if verdicts or error:
        terminalreporter.section("evalscope gates")
        for verdict in verdicts:
            word = "PASS" if verdict.passed else "FAIL"
            terminalreporter.write_line(f"{word} {verdict.gate}: {verdict.summary}",
                                        green=verdict.passed, red=not verdict.passed)
        if error is not None:
            terminalreporter.write_line(f"ERROR (usage): {error}", red=True)
