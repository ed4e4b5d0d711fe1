"""The pytest plugin's hooks: one parametrized item per sample, batched prediction behind them, outcomes, reports.

Per-session state lives on one registered plugin object, `EvalSession` (as pytest's stepwise plugin does); the
work is done elsewhere: options.py (options), suite.py (a benchmark in this run), groups.py and engine.py
(batches), report/ (records and reports), gates.py (CI gates).
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from evalscope import deadline, devices, gates, images, models, options, registry, shards
from evalscope.config import ConfigError
from evalscope.engine import Engine, PredictionError
from evalscope.execution import pool as execution
from evalscope.execution.sandbox import SandboxError
from evalscope.groups import BENCH_KEY, GROUP_KEY, assign_groups, sample_of
from evalscope.judging.panel import Panel, judges_of
from evalscope.judging.verdicts import Verdicts
from evalscope.models.resolve import ModelError
from evalscope.progress import terminal_progress
from evalscope.report import pytest_html
from evalscope.report.recorder import ITEM_PROPERTY, RESULT_PROPERTY, Recorder
from evalscope.report.rundir import RunError, failed_samples
from evalscope.report.tables import format_table
from evalscope.schema import BadRow, Completion, DataError, Sample, SampleResult
from evalscope.suite import Suite

# The serving-performance suite (`-m perf`), the arena and the evaluation backends have their own plugin modules.
pytest_plugins = ["evalscope.perf.plugin", "evalscope.arena.plugin", "evalscope.backends.plugin"]

NAME = "evalscope-session"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from evalscope import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "evalscope(name): a benchmark suite, parametrized with one item per sample")
    config.addinivalue_line("markers", "perf: serving performance tests (deselected unless -m perf)")
    try:
        run, threads = options.prepare(config)
        if not config.hook.pytest_evalscope_owns_judge(config=config):  # the arena's --judge is its own
            judges_of(run)  # a bad --judge SPEC is one line now, not an error per item
    except (ConfigError, ModelError, registry.UnknownBenchmark) as exc:
        raise pytest.UsageError(str(exc)) from None
    session = EvalSession(config, run, threads)
    config.pluginmanager.register(session, NAME)
    if run.shard is not None:
        config.pluginmanager.register(ShardSelection(session, shards.Shard(*run.shard)), "evalscope-shard")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    return options.auto_workers(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    # Workers re-parse the command line, so they learn of the switch to loadgroup from the controller.
    node.workerinput["evalscope_loadgroup"] = node.config.getoption("dist", "no") == "loadgroup"
    node.workerinput["evalscope_run_dir"] = str(EvalSession.of(node.config).run_dir)


@pytest.fixture
def scored(request: pytest.FixtureRequest) -> SampleResult:
    """Predict (with the item's batch group, if not done yet) and score this item's sample."""
    return EvalSession.of(request.config).score(request.node)


class EvalSession:
    """One evaluation session: its settings, the benchmarks in it, the engine, and (on the controller) the
    recorder and the gates."""

    def __init__(self, config: pytest.Config, run: Any, threads: int) -> None:
        self.config = config
        self.run = run
        self.suites: dict[str, Suite] = {}
        self.shard_totals: dict[str, int] = {}
        """Benchmark -> items selected before `--shard` took this shard's part."""
        self.worker = options.is_worker(config)
        self.run_dir = options.run_folder(config, run)
        self.engine = Engine(run, self.suites, threads, terminal_progress(config), self.run_dir / "responses.sqlite")
        self.panel: Panel | None = None
        """`--judge`'s models, made when a judge-scored setup first needs them (the arena reads `--judge` too)."""
        self.threads = threads
        self.saved_env = options.go_offline(run)
        self.pool = execution.Pool(run, ci=os.environ.get("CI", "").lower() in ("1", "true", "yes"))
        execution.install(self.pool)  # code benchmarks run their programs here, made on first use
        deadline.set_limit(run.checker_timeout)  # answer checks run in a worker process, started on first use
        self.recorder: Recorder | None = None
        self.gates = gates.GateKeeper()
        self.outcome = gates.Outcome()
        if self.worker:
            if config.workerinput.get("evalscope_loadgroup"):  # type: ignore[attr-defined]
                config.option.loadgroup = True
            return
        if config.getoption("dist", "no") in ("load", "worksteal"):
            config.option.dist = "loadgroup"  # a group of samples is one batch: it goes to one worker whole
        self.gates = gates.keeper(config)
        self.recorder = Recorder(config, run, self.suites, self.run_dir)
        config.pluginmanager.register(self.recorder, "evalscope-recorder")
        pytest_html.register(config, self.recorder)

    @staticmethod
    def of(config: pytest.Config) -> EvalSession:
        session = config.pluginmanager.get_plugin(NAME)
        assert isinstance(session, EvalSession)
        return session

    def suite(self, name: str) -> Suite:
        if name not in self.suites:
            suite = Suite.load(name, self.run)
            _ = suite.few_shot_pool  # a malformed exemplar row fails collection in one line, not an internal error
            self.suites[name] = suite
        return self.suites[name]

    # --- collection ------------------------------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        mark = metafunc.definition.get_closest_marker("evalscope")
        if mark is None or "sample" not in metafunc.fixturenames:
            return
        try:
            # A benchmark beside its test file (a folder of the user's, or --benchmarks-dir's) is known by name.
            registry.add_folder(Path(str(metafunc.module.__file__)).parent, options.flag(self.config, "allow_override"))
            suite = self.suite(str(mark.args[0]))
        except (registry.UnknownBenchmark, DataError, ValueError) as exc:
            # CollectError prints its message alone: one line naming the culprit, no traceback.
            raise pytest.Collector.CollectError(str(exc)) from None
        metafunc.parametrize("sample", suite.samples, ids=[s.id for s in suite.samples])

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        for item in items:
            mark = item.get_closest_marker("evalscope")
            params = item.callspec.params if hasattr(item, "callspec") else {}
            # isinstance: an empty parameter set leaves pytest's NOTSET placeholder (a skipped item).
            if mark is not None and isinstance(params.get("sample"), Sample | BadRow):
                name = str(mark.args[0])
                item.stash[BENCH_KEY] = name
                item.user_properties.append((ITEM_PROPERTY, {"benchmark": name, "sample_id": sample_of(item).id}))
        if self.run.rerun_failed is None:
            return
        ours = [(it.stash[BENCH_KEY], sample_of(it).id, getattr(sample_of(it), "digest", ""))
                if BENCH_KEY in it.stash else None for it in items]
        try:
            chosen = failed_samples(self.run.rerun_failed, ours, options.value(config, "pair_by") == "content")
        except RunError as exc:
            raise pytest.UsageError(f"--rerun-failed: {exc}") from None
        keep = [it for it, mine in zip(items, ours, strict=True) if mine is None or mine in chosen]
        if len(keep) < len(items):
            config.hook.pytest_deselected(items=[it for it in items if it not in keep])
            items[:] = keep

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # Groups are cut from the final selection (after -k, --lf, deselection), and before xdist's worker hook
        # sends the node ids to the controller, since the group travels in the node id.
        selected = Counter(item.stash[BENCH_KEY] for item in session.items if BENCH_KEY in item.stash)
        workers = options.workers(self.config)
        assign_groups(session.items, lambda name: self.suites[name].group_size(selected[name], workers),
                      bool(self.config.getoption("loadgroup", False)),
                      lambda item: self.suites[item.stash[BENCH_KEY]].batch_key(sample_of(item)))
        self.engine.bind(session.items)
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if self.worker or reporter is None:
            return
        if self.recorder is not None and selected and not self.config.option.collectonly:
            self.recorder.start(selected)
        for name, n in sorted(selected.items()):
            reporter.write_line(self.suites[name].selected(n))
        if self.run.sandbox == "none" and any(self.suites[n].bench.runs_code for n in selected):
            reporter.write_line(f"evalscope: warning: {execution.UNCONFINED}", yellow=True)
        if self.run.sandbox == "bubblewrap" and any(self.suites[n].bench.runs_code for n in selected):
            why = execution.no_cgroup()
            if why:
                reporter.write_line(f"evalscope: warning: {why}", yellow=True)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if getattr(node, "gateway", None) is None or node.gateway.id != "gw0" or reporter is None:
            return
        # Benchmark items are the ones whose id carries their batch group (`test_gsm8k[main-0003]@gsm8k-0001`)
        # and whose folder holds a benchmark.py (the arena's items carry groups too).
        root = self.config.rootpath
        ids = [i for i in ids if (root / Path(i.split("::")[0]).parent / "benchmark.py").is_file()]
        counts = Counter(i.split("[", 1)[0] for i in ids if "[" in i and "@" in i)
        for test, n in sorted(counts.items()):
            reporter.write_line(f"evalscope: {test}: {n} samples selected")
        if self.recorder is not None and counts and not self.config.option.collectonly:
            self.recorder.start(Counter(Path(t.split("::")[0]).parent.name for t in ids if "@" in t))
        shared = devices.sharing_warning(options.workers(self.config), len(devices.visible_gpus()),
                                         self.run.model_args.tensor_parallel_size)
        if shared and counts and not models.backend_class(self.run.backend).remote:
            reporter.write_line(f"evalscope: warning: {shared}", yellow=True)

    # --- running ---------------------------------------------------------------------------------------------

    def score(self, item: pytest.Item) -> SampleResult:
        sample = sample_of(item)
        if isinstance(sample, BadRow):
            pytest.fail(sample.message, pytrace=False)
        bench = item.stash[BENCH_KEY]
        failure: str | None = None
        try:
            response = self.engine.completion(item)
        except PredictionError as exc:
            failure = f"{bench} {sample.id}: {exc}"
            if self.engine.fatal is not None:
                unable = isinstance(self.engine.fatal, models.CapabilityError)
                what = "cannot run this benchmark" if unable else "the model failed to load"
                item.session.shouldstop = f"evalscope: {what}: {exc}"
        if failure is not None:  # raised outside the except block: one line, no chained traceback
            pytest.fail(failure, pytrace=False)
        suite, judged = self.suites[bench], None
        if suite.judged and isinstance(response, Completion):
            try:
                judged = self._judge(item, suite, sample)
            except PredictionError as exc:
                failure = f"{bench} {sample.id}: {exc}"
        if failure is not None:
            pytest.fail(failure, pytrace=False)
        try:
            result = suite.result(sample, response, judged)
        except SandboxError as exc:  # every later program would fail the same way
            item.session.shouldstop = f"evalscope: cannot run the model's code: {exc}"
            failure = f"{bench} {sample.id}: {exc}"
        if failure is not None:
            pytest.fail(failure, pytrace=False)
        if sample.images:  # the report shows each image beside the answer: a thumbnail file, never the bytes
            result = dataclasses.replace(result, images=images.with_thumbnails(sample.images, self.run_dir))
        item.user_properties.append((RESULT_PROPERTY, result.to_json()))
        return result

    def _judge(self, item: pytest.Item, suite: Suite, sample: Sample) -> Verdicts:
        """The judges' verdicts on this item's answer; the first item of its group asks them about the whole
        group's answers at once."""
        assert suite.setup.judge is not None
        if self.panel is None:
            self.panel = Panel(self.run, self.threads, terminal_progress(self.config),
                               self.run_dir / "responses.sqlite")
        bench = item.stash[BENCH_KEY]
        answers = []
        for mate in self.engine.members[item.stash[GROUP_KEY]]:
            found = self.engine.results.get((bench, sample_of(mate).id))
            if isinstance(found, Completion):
                answers.append((sample_of(mate), suite.answer(found)))
        self.panel.ask(bench, item.stash[GROUP_KEY], suite.setup.judge, answers)  # type: ignore[arg-type]
        return self.panel.verdicts(bench, suite.setup.judge, sample)

    # --- the end ---------------------------------------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.engine.close()
        if self.panel is not None:
            self.panel.close()
        self.pool.close()
        deadline.shutdown()
        if self.worker:
            suites = {name: suite.info() for name, suite in self.suites.items()}
            self.config.workeroutput["evalscope"] = {**self.engine.info(), "suites": suites,  # type: ignore[attr-defined]
                                                     "shard_totals": self.shard_totals}
            return
        assert self.recorder is not None
        if self.engine.batches or self.engine.cache is not None:
            self.recorder.add_local(self.engine.info())
        self.recorder.finish(int(exitstatus))
        if self.gates.active and not self.config.option.collectonly:
            settings = {b["name"]: b for b in self.recorder.data.get("benchmarks", [])}
            self.outcome = self.gates.outcome(self.recorder.table, self.recorder.results.values(), settings)
            session.exitstatus = gates.exit_status(int(session.exitstatus), self.outcome.verdicts,
                                                   self.outcome.error)
            self.recorder.amend(int(session.exitstatus), gates=self.outcome.section())
        if self.recorder.write_error is not None and session.exitstatus in (0, 1):  # report.json failed at the end
            session.exitstatus = pytest.ExitCode.INTERRUPTED

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if self.recorder is not None and self.recorder.report_path is not None:
            terminalreporter.section("evalscope scores")
            for line in format_table(self.recorder.table, self.recorder.errors,
                                     self.recorder.timeouts).splitlines():
                terminalreporter.write_line(line)
            for entry in self.recorder.data.get("benchmarks", []):
                if entry.get("cut_by_max_new_tokens"):  # never silent: a cut reply scores as it stands
                    terminalreporter.write_line(f"{entry['name']}: {entry['cut_by_max_new_tokens']} of "
                                                f"{entry['scored']} replies cut by max_new_tokens (finish_reason "
                                                "length)", yellow=True)
            terminalreporter.write_line(f"report: {self.recorder.report_path}")
        if self.outcome.lines():
            terminalreporter.section("evalscope gates")
            for line, passed in self.outcome.lines():
                terminalreporter.write_line(line, green=passed, red=not passed)
        if self.recorder is not None and self.recorder.write_error is not None and self.recorder.said_at_end:
            terminalreporter.write_line(self.recorder.write_error, red=True)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Give the offline flags back, so an in-process caller (run_task) can reach the hubs afterwards."""
        options.restore_env(self.saved_env)


class ShardSelection:
    """`--shard K/N`, after every other selection (-k, --lf, --rerun-failed): this shard's part of each benchmark's
    items in batch order; the same selection gives the same parts on every machine. A plugin object of its own,
    since its hook must run last and the session's own item hook must not."""

    def __init__(self, session: EvalSession, shard: shards.Shard) -> None:
        self.session = session
        self.shard = shard

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        by_bench: dict[str, list[pytest.Item]] = defaultdict(list)
        for item in items:
            if BENCH_KEY in item.stash:
                by_bench[item.stash[BENCH_KEY]].append(item)
        keep: set[pytest.Item] = set()
        totals = self.session.shard_totals
        for name, members in by_bench.items():
            batch_key = self.session.suites[name].batch_key
            ordered = sorted(members, key=lambda it: (*batch_key(sample_of(it)), sample_of(it).id))
            keep.update(shards.part(ordered, self.shard))
            totals[name] = len(members)
        dropped = [it for it in items if BENCH_KEY in it.stash and it not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [it for it in items if BENCH_KEY not in it.stash or it in keep]
        if self.session.recorder is not None:
            self.session.recorder.shard_totals = dict(totals)
