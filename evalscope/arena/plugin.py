"""The arena's pytest plugin: options, one item per (question, pair) or (question, model) from paired fixtures,
batch groups, WIN/LOSS/TIE/ERROR outcomes, the report section and the `arena.` gates."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evalscope import config as cfg
from evalscope import models, options
from evalscope.engine import PredictionError
from evalscope.gates import GateError, Outcome, exit_status
from evalscope.groups import GROUP_KEY, suffix_nodeid
from evalscope.models.resolve import ModelError, looks_local, source
from evalscope.options import Option, OptionTable
from evalscope.progress import terminal_progress
from evalscope.redaction import redact
from evalscope.registry import UnknownBenchmark
from evalscope.report import tables
from evalscope.schema import DataError

from . import gates, questions, report
from .play import ERROR, LOSS, RATED, TIE, WIN, Arena, Entry, Grade, Match
from .spec import MODES, PROMPT_SETS, ArenaConfig, Contestant, build

PROPERTY = "evalscope_arena"
ENTRY_KEY = pytest.StashKey[Entry]()
NAME = "evalscope-arena"
STATUS = {WIN: ("win", "W", ("WIN", {"green": True})), LOSS: ("loss", "L", ("LOSS", {"yellow": True})),
          TIE: ("tie", "T", ("TIE", {})), ERROR: ("unjudged", "?", ("ERROR", {"red": True})),
          RATED: ("rated", "R", ("RATED", {}))}


ARENA = OptionTable("arena", "arena (pytest benchmarks/arena)", (
    Option("--arena-config", "a TOML file: mode, baseline, questions, judge, judge_prompts, [candidates.NAME] tables"),
    Option("--candidate", "NAME=SPEC (repeatable): SPEC a model (folder, .gguf, hub id), default, a server URL, "
           'or JSON: {"model": ..., "generation_config": {...}, "system_prompt": ...}', kind="append"),
    Option("--arena-mode", f"{' | '.join(MODES)} (default pairwise-baseline); --baseline NAME names the baseline "
           "(default: the first candidate)"),
    Option("--judge-prompts", f"{' | '.join(PROMPT_SETS)} (default mt-bench: [[A]]/[[B]]/[[C]], single [[1-10]])"),
    Option("--questions", "mt_bench (default), a benchmark's name (e.g. arc, gsm8k: its generation setup) or a JSONL "
           "file of {turns|question, id, category, reference}"),
    Option("--arena-rounds", "bootstrap rounds for the rating intervals (default 1000)", default="1000"),
))
"""The arena plugin's options; it reads the core's (--gate, --baseline, --judge, --model, ...) through `options`."""
GATE_PREFIX = "arena."
"""Gates on an arena's models (`arena.tuned:win_rate>=0.5`) are this plugin's."""


def pytest_addoption(parser: pytest.Parser) -> None:
    ARENA.add_to(parser)


def active(config: pytest.Config) -> bool:
    """Whether this session is an arena (contestants given)."""
    return bool(ARENA.value(config, "arena_config") or ARENA.values(config, "candidate"))


def pytest_evalscope_gate_prefixes(config: pytest.Config) -> list[str]:
    return [GATE_PREFIX]


def pytest_evalscope_owns_judge(config: pytest.Config) -> bool | None:
    """In an arena, `--judge` names the arena's judge (`rule` among its SPECs), not a benchmark's."""
    return True if active(config) else None


def pytest_evalscope_owns_baseline(config: pytest.Config) -> bool | None:
    """In an arena, `--baseline` names the baseline contestant, not a previous run."""
    return True if active(config) else None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "arena: a pairwise (or single-answer) comparison of models")
    if not active(config):
        return
    try:
        arena = _arena_config(config)
        rounds = int(ARENA.value(config, "arena_rounds") or 0)
        gates.parse_all(options.values(config, "gate"), arena)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.pluginmanager.register(ArenaSession(config, arena, rounds), NAME)


def _targeted(config: pytest.Config) -> bool:
    """Whether the command line names the arena's folder or a file in it (not a parent folder of it)."""
    return any("arena" in Path(arg.split("::", 1)[0]).resolve().parts[-2:] for arg in config.args)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("arena") and metafunc.config.pluginmanager.get_plugin(NAME) is None:
        if _targeted(metafunc.config):
            raise pytest.Collector.CollectError("benchmarks/arena needs contestants: --candidate NAME=SPEC (twice "
                                                "for a pair) or --arena-config FILE")
        for name in ("question", "model_a", "model_b", "model"):  # `pytest benchmarks`: left out, below
            if name in metafunc.fixturenames:
                metafunc.parametrize(name, [])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without contestants, a run of a folder holding the arena (`pytest benchmarks`) leaves it out."""
    if config.pluginmanager.get_plugin(NAME) is not None:
        return
    drop = [item for item in items if item.get_closest_marker("arena") is not None]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [item for item in items if item.get_closest_marker("arena") is None]


def _judge(config: pytest.Config) -> str | None:
    """The core's `--judge` (shared with judge-scored benchmarks): the arena takes one, or `rule`."""
    given = options.values(config, "judge")
    if len(given) > 1:
        raise cfg.ConfigError(f"--judge: the arena takes one judge (given {len(given)})")
    return given[0] if given else None


def _arena_config(config: pytest.Config) -> ArenaConfig:
    run = options.run_config(config)
    path = ARENA.value(config, "arena_config")
    arena = build(run, Path(path).expanduser() if path else None, ARENA.values(config, "candidate"),
                  ARENA.value(config, "arena_mode"), options.value(config, "baseline"), _judge(config),
                  ARENA.value(config, "questions"), ARENA.value(config, "judge_prompts"))
    for who in [*arena.candidates, *([arena.judge] if arena.judge else [])]:
        if not models.backend_class(who.run.backend).remote and who.run.model and looks_local(who.run.model):
            try:
                source(who.run.model)  # a missing checkpoint is one line now, not an error per item
            except ModelError as exc:
                raise cfg.ConfigError(f"arena {who.name}: {exc}") from None
    rounds = str(ARENA.value(config, "arena_rounds"))
    if not rounds.isdigit() or int(rounds) < 1:
        raise cfg.ConfigError(f"--arena-rounds: {rounds!r} is not a positive integer")
    return arena


@pytest.fixture
def model_a(request: pytest.FixtureRequest) -> Contestant:
    """The first-shown model of the pair (the judge also sees the pair swapped)."""
    return ArenaSession.of(request.config).arena.contestant(request.param)


@pytest.fixture
def model_b(request: pytest.FixtureRequest) -> Contestant:
    """The second-shown model of the pair (in pairwise-baseline mode, the baseline)."""
    return ArenaSession.of(request.config).arena.contestant(request.param)


@pytest.fixture
def model(request: pytest.FixtureRequest) -> Contestant:
    """Single mode: the model whose answer is graded."""
    return ArenaSession.of(request.config).arena.contestant(request.param)


@pytest.fixture
def battle(request: pytest.FixtureRequest, model_a: Contestant, model_b: Contestant) -> Match:
    """Both models' answers to the question and the judge's verdicts in both orders, reconciled per turn."""
    return ArenaSession.of(request.config).outcome(request.node)  # type: ignore[return-value]


@pytest.fixture
def grade(request: pytest.FixtureRequest, model: Contestant) -> Grade:
    """Single mode: the model's answer and its grade per turn."""
    return ArenaSession.of(request.config).outcome(request.node)  # type: ignore[return-value]


def _record(report_: pytest.TestReport) -> dict[str, Any] | None:
    for key, value in report_.user_properties:
        if key == PROPERTY and isinstance(value, dict):
            return value
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """A loss is its own outcome, not a failure; an unreadable verdict is ERROR (counted, never a tie)."""
    record = _record(report) if report.when == "call" and report.passed else None
    return None if record is None else STATUS[record["status"]]


class ArenaSession:
    """The arena of this session: its settings, questions, this process's Arena, and (on the controller) the
    records that make the report."""

    def __init__(self, config: pytest.Config, arena: ArenaConfig, rounds: int) -> None:
        self.config = config
        self.arena = arena
        self.rounds = rounds
        self.questions: questions.QuestionSet | None = None
        self.play: Arena | None = None
        self.records: dict[str, dict[str, Any]] = {}
        self.failed: dict[str, str] = {}
        self.outcome_: Outcome = Outcome()
        self.report_path: Path | None = None
        self.section: dict[str, Any] = {}
        self.infos: list[dict[str, Any]] = []
        """Each process's contestants as loaded (`Arena.info`): what they computed, their cache counts."""

    @staticmethod
    def of(config: pytest.Config) -> ArenaSession:
        session = config.pluginmanager.get_plugin(NAME)
        assert isinstance(session, ArenaSession)
        return session

    @property
    def run(self) -> cfg.RunConfig:
        run: cfg.RunConfig = self._main().run
        return run

    def _main(self) -> Any:
        return self.config.pluginmanager.get_plugin("evalscope-session")

    def _questions(self) -> questions.QuestionSet:
        if self.questions is None:
            self.questions = questions.load(self.arena.questions, self.run)
            if self.arena.judge is None and not self.questions.exact:
                raise DataError(f"--questions {self.arena.questions}: the rule judge needs questions with exact "
                                "answers (a benchmark, e.g. --questions arc); give --judge SPEC for open questions")
        return self.questions

    # --- collection ------------------------------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if metafunc.definition.get_closest_marker("arena") is None or "question" not in metafunc.fixturenames:
            return
        try:
            asked = self._questions()
        except (DataError, UnknownBenchmark, ValueError) as exc:
            raise pytest.Collector.CollectError(str(exc)) from None
        metafunc.parametrize("question", asked.questions, ids=questions.ids(asked.questions))
        if "model_a" in metafunc.fixturenames:
            pairs = self.arena.pairs()
            metafunc.parametrize(("model_a", "model_b"), pairs, ids=[f"{a}-vs-{b}" for a, b in pairs], indirect=True)
        elif "model" in metafunc.fixturenames:
            names = self.arena.names if self.arena.mode == "single" else []
            metafunc.parametrize("model", names, ids=names, indirect=True)

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        keep, drop = [], []
        for item in items:
            params = item.callspec.params if hasattr(item, "callspec") else {}
            if item.get_closest_marker("arena") is None:
                keep.append(item)
            elif isinstance(params.get("model_a"), str) or isinstance(params.get("model"), str):
                # (an empty parameter set leaves pytest's NOTSET placeholder: the other mode's test)
                names = (params["model_a"], params["model_b"]) if "model_a" in params else (params["model"],)
                item.stash[ENTRY_KEY] = Entry(params["question"], names)
                keep.append(item)
            else:  # the other mode's test (an empty parameter set)
                drop.append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Batch groups of whole questions (every pair or model of a question in one group, so no answer is
        asked twice under -n), cut from the final selection; with loadgroup the group goes into the node id."""
        entries = [it for it in session.items if ENTRY_KEY in it.stash]
        if not entries:
            return
        order = list(dict.fromkeys(it.stash[ENTRY_KEY].question.id for it in entries))
        size = self._group_size(len(order))
        group_of = {qid: f"arena-{i // size:04d}" for i, qid in enumerate(order)}
        groups: dict[str, list[Entry]] = {}
        for item in entries:
            group = group_of[item.stash[ENTRY_KEY].question.id]
            item.stash[GROUP_KEY] = group
            groups.setdefault(group, []).append(item.stash[ENTRY_KEY])
            if self.config.getoption("loadgroup", False):
                suffix_nodeid(item, group)
        self._arena().bind(groups)
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and not options.is_worker(self.config):
            judge = "rule" if self.arena.judge is None else self._arena().judge_name
            reporter.write_line(f"evalscope arena: {self.arena.mode}, {len(self.arena.candidates)} models, "
                                f"{len(order)} questions ({self.arena.questions}), {len(entries)} items; judge: "
                                f"{judge}; baseline: {self.arena.baseline}")

    def _group_size(self, n_questions: int) -> int:
        """Questions per group: what the slowest-batching contestant (or the judge) wants at once."""
        workers = options.workers(self.config)
        who = [*self.arena.candidates, *([self.arena.judge] if self.arena.judge else [])]
        return max(1, min(models.backend_class(c.run.backend).group_size(c.run, c.run.eval_batch_size, n_questions,
                                                                        workers) for c in who))

    def _arena(self) -> Arena:
        if self.play is None:
            main = self._main()
            mt_bench = None if self.run.dataset_dir is None else self.run.dataset_dir / "mt_bench"
            self.play = Arena(self.arena, self._questions(), main.engine.threads, terminal_progress(self.config),
                              main.run_dir / "responses.sqlite", mt_bench)
        return self.play

    # --- running ---------------------------------------------------------------------------------------------

    def outcome(self, item: pytest.Item) -> Match | Grade:
        entry, group, play = item.stash[ENTRY_KEY], item.stash[GROUP_KEY], self._arena()
        if entry.question.problem is not None:
            pytest.fail(entry.question.problem, pytrace=False)
        failure = None
        try:
            result: Match | Grade = play.match(group, entry) if len(entry.models) == 2 else play.grade(group, entry)
        except PredictionError as exc:
            failure = f"{'-vs-'.join(entry.models)} on {entry.question.id}: {exc}"
            if play.fatal is not None:
                item.session.shouldstop = f"evalscope arena: a model failed to load: {play.fatal}"
        if failure is not None:
            pytest.fail(failure, pytrace=False)
        item.user_properties.append((PROPERTY, result.to_json()))
        return result

    # --- the controller's side -------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if options.is_worker(self.config) or ("@arena-" not in report.nodeid and "arena" not in report.keywords):
            return
        # As for benchmark items: `@group` is for xdist's scheduler; the terminal, --lf and junit see the plain id.
        report.nodeid = nodeid = report.nodeid.partition("@")[0]
        record = _record(report)
        if record is not None and report.when == "call" and report.passed:
            self.records[nodeid] = record
        elif report.failed and report.when in ("setup", "call"):
            lines = report.longreprtext.strip().splitlines()
            self.failed[nodeid] = lines[-1] if lines else "error"

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        info = getattr(node, "workeroutput", {}).get("evalscope_arena")
        if info:
            self.infos.append(info)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.play is not None:
            info = self.play.info()
            self.play.close()
            if options.is_worker(self.config):
                self.config.workeroutput["evalscope_arena"] = info  # type: ignore[attr-defined]
            else:
                self.infos.append(info)
        if options.is_worker(self.config):
            return
        if not self.records and not self.failed:
            return
        records = [self.records[k] for k in sorted(self.records)]
        self.section = {
            **report.summarize(records, self.arena.mode, self.arena.names, self.arena.baseline, self.rounds,
                               self.run.seed),
            "questions": self.arena.questions,
            "judge": "rule" if self.arena.judge is None else self.arena.judge.describe(),
            "judge_prompts": None if self.arena.judge is None else self.arena.judge_prompts,
            "candidates": [c.describe() for c in self.arena.candidates], "failed": dict(sorted(self.failed.items())),
            "engines": _engines(self.infos), "records": records}
        verdicts, error = [], None
        try:
            verdicts = gates.judge_all(options.values(self.config, "gate"), self.section, self.arena)
        except GateError as exc:
            error = exc
        self.outcome_ = Outcome(tuple(verdicts), error)
        session.exitstatus = exit_status(int(session.exitstatus), verdicts, error)
        self._write(int(session.exitstatus))

    def _write(self, exit_status: int) -> None:
        main = self._main()
        recorder = main.recorder
        section = {"arena": self.section, "arena_gates": self.outcome_.section()}
        if recorder is not None and recorder.report_path is not None and recorder.data:  # benchmarks ran too
            recorder.amend(exit_status, **section)
            self.report_path = recorder.report_path
            return
        self.report_path = main.run_dir / "report.json"
        meta = {"harness": {"name": "evalscope"}, "run": {"argv": redact(self.config.invocation_params.args),
                                                          "exit_status": exit_status, "work_dir": str(main.run_dir)},
                "seed": self.run.seed, "limit": self.run.limit}
        tables.write_json(self.report_path, {**meta, "kind": "arena", "benchmarks": [], **section})

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.section:
            return
        terminalreporter.section("evalscope arena")
        for line in report.table(self.section).splitlines():
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"report: {self.report_path}")
        if self.outcome_.lines():
            terminalreporter.section("evalscope arena gates")
            for line, passed in self.outcome_.lines():
                terminalreporter.write_line(line, green=passed, red=not passed)

    # --- pytest-html rows ------------------------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        record = _record(report)
        if record is None:
            return
        data.insert(0, html.escape("\n".join(_html_text(record))))


def _engines(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """Per contestant (and the judge), over all processes: its model, answers computed, batches, cache counts."""
    out: dict[str, Any] = {}
    for info in infos:
        for name, engine in info.items():
            row = out.setdefault(name, {"model": {}, "predicted": 0, "batches": 0, "processes": 0})
            row["model"] = row["model"] or engine.get("model", {})
            row["predicted"] += engine.get("predicted", 0)
            row["batches"] += engine.get("batches", 0)
            row["processes"] += 1
            for kind in ("cache", "store"):
                if kind in engine:
                    kept = row.setdefault(kind, {"hits": 0, "misses": 0})
                    kept["hits"] += engine[kind]["hits"]
                    kept["misses"] += engine[kind]["misses"]
    return out


def _html_text(record: dict[str, Any]) -> Iterator[str]:
    yield f"{' evalscope arena ':-^80}"
    who = [record["model_a"], record["model_b"]] if record["kind"] == "match" else [record["model"]]
    yield f"question {record['question']} ({record['category']}): {record['status'].upper()}"
    for t, asked in enumerate(record["turns_asked"]):
        yield f"{f' turn {t + 1}: user ':-^80}"
        yield asked
        for name in who:
            answers = record["answers"][name] if record["kind"] == "match" else record["answers"]
            yield f"{f' {name} ':-^80}"
            yield answers[t] if t < len(answers) else ""
        if record["kind"] == "match":
            turn = record["turns"][t]
            yield f"{' judge, ' + who[0] + ' shown first ':-^80}"
            yield turn["first"]["text"]
            yield f"{' judge, ' + who[1] + ' shown first ':-^80}"
            yield turn["swapped"]["text"]
            yield f"verdict: score of {who[0]} = {turn['score_a']} (orders disagree: {turn['disagree']})"
        else:
            yield f"grade: {record['scores'][t]}   judge: {record['texts'][t]}"
