"""The perf suite's pytest plugin: options, one item per sweep point, deselection unless `-m perf`, reports."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from evalscope import options
from evalscope.config import ConfigError
from evalscope.options import Option, OptionTable
from evalscope.perf import config as pc
from evalscope.redaction import strip_userinfo

PERF_KEY = pytest.StashKey[pc.PerfConfig]()
DIR_KEY = pytest.StashKey[Path]()
PROPERTY = "evalscope_perf"

PERF = OptionTable("perf", "serving performance (evalscope perf, -m perf)", (
    Option("--url", "full endpoint URL (EvalScope's --url), e.g. http://127.0.0.1:8000/v1/chat/completions"),
    Option("--api", "openai (= chat, /v1/chat/completions) or completions (/v1/completions)"),
    Option("--parallel", "concurrency per sweep point, e.g. 1,4,16 (closed loop; the in-flight cap with --rate)"),
    Option("--number", "measured requests per sweep point: one value, or one per --parallel value (default 64)"),
    Option("--rate", "open loop: requests/s per sweep point (gamma arrivals, see --burstiness); <=0 means closed "
           "loop"),
    Option("--burstiness", "gamma shape of the arrival gaps: 1 Poisson (default), <1 burstier"),
    Option("--dataset", "random (default), openqa (local open_qa.jsonl) or a PATH to a JSONL file of prompts"),
    Option("--dataset-path", "the file for --dataset openqa (default <dataset-dir>/openqa/open_qa.jsonl)"),
    Option("--max-tokens", "output tokens per request (default 128), forced with ignore_eos"),
    Option("--min-tokens", "min_tokens sent to the server (vLLM extension)"),
    Option("--min-prompt-length", "prompt length in tokens: random draws uniformly in [min, max]; files are "
           "filtered"),
    Option("--max-prompt-length", "see --min-prompt-length (random default: 128)"),
    Option("--tokenizer-path", "tokenizer.json or model folder for prompt lengths (default: --model if a local "
           "folder)"),
    Option("--slo", 'gates per sweep point, e.g. "ttft_p99<=500ms,tpot_p50<=50ms,success_rate>=0.99"'),
    Option("--warmup", "warm-up requests per user, excluded from metrics (default 1)"),
    Option("--locust-workers", "run Locust as a master and N local worker processes (default 0: one process)"),
    Option("--locust-remote-workers", "also wait for M workers started on other machines with `evalscope perf-worker "
           "--master HOST:PORT` (they get the plan from the master and send records back)"),
    Option("--locust-master", "HOST:PORT the Locust master listens on (default 127.0.0.1, a free port; remote "
           "workers need an interface they reach and a fixed port, e.g. 0.0.0.0:5557)"),
    Option("--max-duration", "seconds; bound on each sweep point's measured phase (default 300)"),
    Option("--headers", "extra request header NAME=VALUE (repeatable; the value may hold spaces); values are never "
           "written and never sent to Locust workers, which are given their own", kind="append"),
    Option("--stream", "stream responses (default; TTFT/ITL need it)", kind="toggle"),
    Option("--allow-remote-target", "let the load go to a server that is not on this machine (default: 127.0.0.1 "
           "only)", kind="flag"),
    Option("--ignore-eos", "send ignore_eos, forcing the output length (default; --no-ignore-eos for servers that "
           "reject it)", kind="toggle"),
))
"""The perf plugin's options; it reads the core's (--api-url, --model, --seed, ...) through `options`."""


def pytest_addoption(parser: pytest.Parser) -> None:
    PERF.add_to(parser)


def _local(url: str) -> bool:
    """Whether a URL's host is this machine (credentials in the URL do not change its host)."""
    host = urlsplit(url).hostname or ""
    return host.startswith("127.") or host in ("localhost", "::1")


def perf_config(config: pytest.Config) -> pc.PerfConfig:
    api = pc.api_kind(PERF.value(config, "api"))
    url = pc.endpoint_url(PERF.value(config, "url"), next(iter(options.given_api_urls(config)), None), api)
    max_tokens = pc.positive_int("--max-tokens", PERF.value(config, "max_tokens"), 128) or 128
    endpoint = None if url is None else pc.Endpoint(
        url=url, model=options.value(config, "model") or "", api=api, stream=PERF.flag(config, "stream"),
        max_tokens=max_tokens, min_tokens=pc.positive_int("--min-tokens", PERF.value(config, "min_tokens"), None, 0),
        ignore_eos=PERF.flag(config, "ignore_eos"),
        headers=pc.headers(PERF.values(config, "headers"), options.value(config, "api_key")),
        # --request-timeout is the main plugin's option (it bounds evaluation requests too); perf's default is 120 s.
        timeout_s=pc.positive_float("--request-timeout", options.value(config, "request_timeout"), 120.0))
    if url is not None and not _local(url) and not PERF.flag(config, "allow_remote_target"):
        # Load tests target this machine only; a remote server is a deliberate, separate decision.
        raise pc.PerfConfigError(f"--url/--api-url: {strip_userinfo(url)} is not on 127.0.0.1/localhost "
                                 "(--allow-remote-target to load another machine)")
    return pc.PerfConfig(
        endpoint=endpoint,
        points=pc.sweep(PERF.value(config, "parallel"), PERF.value(config, "number"), PERF.value(config, "rate")),
        dataset=PERF.value(config, "dataset") or "random", dataset_path=PERF.value(config, "dataset_path"),
        min_prompt_length=pc.positive_int("--min-prompt-length", PERF.value(config, "min_prompt_length"), None),
        max_prompt_length=pc.positive_int("--max-prompt-length", PERF.value(config, "max_prompt_length"), None),
        tokenizer_path=pc.tokenizer_source(PERF.value(config, "tokenizer_path"), options.value(config, "model")),
        burstiness=pc.positive_float("--burstiness", PERF.value(config, "burstiness"), 1.0),
        warmup=pc.positive_int("--warmup", PERF.value(config, "warmup"), 1, 0) or 0,
        locust_workers=pc.positive_int("--locust-workers", PERF.value(config, "locust_workers"), 0, 0) or 0,
        locust_remote_workers=pc.positive_int("--locust-remote-workers", PERF.value(config, "locust_remote_workers"), 0,
                                              0) or 0,
        locust_master=pc.host_port("--locust-master", PERF.value(config, "locust_master")),
        max_duration_s=pc.positive_float("--max-duration", PERF.value(config, "max_duration"), 300.0),
        slos=pc.slos(PERF.value(config, "slo")),
    )


def _selects_perf(config: pytest.Config) -> bool:
    return "perf" in (config.option.markexpr or "")


def pytest_configure(config: pytest.Config) -> None:
    try:
        config.stash[PERF_KEY] = perf_config(config)
    except (pc.PerfConfigError, ConfigError) as exc:
        raise pytest.UsageError(str(exc)) from None
    if hasattr(config, "workerinput"):
        config.stash[DIR_KEY] = Path(config.workerinput["evalscope_perf_dir"])
        return
    work = Path(options.value(config, "work_dir") or "outputs")
    config.stash[DIR_KEY] = work.resolve() / f"perf-{dt.datetime.now().strftime('%Y%m%d-%H%M%S-%f')}"
    config.pluginmanager.register(PerfRecorder(config), "evalscope-perf-recorder")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput["evalscope_perf_dir"] = str(node.config.stash[DIR_KEY])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "perf_point" not in metafunc.fixturenames:
        return
    cfg = metafunc.config.stash[PERF_KEY]
    if cfg.endpoint is None and _selects_perf(metafunc.config):
        raise pytest.Collector.CollectError(
            "-m perf needs the server: --api-url http://127.0.0.1:PORT or --url ENDPOINT")
    metafunc.parametrize("perf_point", cfg.points, ids=[p.id for p in cfg.points])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Load tests run only when asked for (`-m perf`): a normal run deselects them."""
    if _selects_perf(config):
        return
    keep = [i for i in items if i.get_closest_marker("perf") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i.get_closest_marker("perf") is not None])
        items[:] = keep


@dataclass(frozen=True)
class PointResult:
    """A finished sweep point: its summary (JSON) and where its raw records are."""

    point: pc.SweepPoint
    summary: dict[str, Any]
    records: str
    violations: tuple[str, ...]


class PerfSession:
    """What a perf test uses: `run(point)` generates the load and writes records; `gate(result)` applies SLOs."""

    def __init__(self, config: pytest.Config, item: pytest.Item) -> None:
        self.cfg = config.stash[PERF_KEY]
        self.dir = config.stash[DIR_KEY]
        self.seed = int(options.value(config, "seed") or 42)
        self.dataset_dir = options.value(config, "dataset_dir")
        self.item = item

    def _model(self, endpoint: pc.Endpoint) -> str:
        if endpoint.model:
            return endpoint.model
        base = endpoint.url.split("/v1/", 1)[0]
        asked = urllib.request.Request(f"{base}/v1/models", headers=endpoint.headers)  # a keyed server wants its key
        with urllib.request.urlopen(asked, timeout=10) as resp:
            return str(json.loads(resp.read())["data"][0]["id"])

    def run(self, point: pc.SweepPoint) -> PointResult:
        from evalscope.perf import prompts
        from evalscope.perf.metrics import summarize
        from evalscope.perf.plan import LoadPlan
        from evalscope.perf.records import write_jsonl
        from evalscope.perf.runner import run_load
        from evalscope.perf.schedule import arrival_offsets
        from evalscope.perf.slo import request_slo, violations

        cfg = self.cfg
        assert cfg.endpoint is not None
        endpoint = pc.Endpoint(**{**asdict(cfg.endpoint), "model": self._model(cfg.endpoint)})
        tokenizer = prompts.load_tokenizer(cfg.tokenizer_path)
        try:
            texts = prompts.load(cfg.dataset, point.number, min_len=cfg.min_prompt_length,
                                 max_len=cfg.max_prompt_length, seed=self.seed, tokenizer=tokenizer,
                                 dataset_path=cfg.dataset_path,
                                 dataset_dir=Path(self.dataset_dir) if self.dataset_dir else None)
        except prompts.DatasetError as exc:
            pytest.fail(str(exc), pytrace=False)
        offsets = None if point.rate is None else arrival_offsets(point.number, point.rate, cfg.burstiness, self.seed)
        plan = LoadPlan(endpoint=endpoint, prompts=tuple(p.text for p in texts), users=point.parallel,
                        offsets=None if offsets is None else tuple(offsets), warmup=cfg.warmup,
                        max_duration_s=cfg.max_duration_s, workers=cfg.locust_workers,
                        remote_workers=cfg.locust_remote_workers, master_host=cfg.locust_master[0],
                        master_port=cfg.locust_master[1])
        point_dir = self.dir / point.id
        point_dir.mkdir(parents=True, exist_ok=True)
        records = run_load(plan, point_dir)
        write_jsonl(point_dir / "records.jsonl", records)
        summary = summarize(records, request_slo(cfg.slos))
        failed = violations(cfg.slos, summary.flat())
        data: dict[str, Any] = {
            "point": asdict(point), "summary": summary.to_json(), "records": str(point_dir / "records.jsonl"),
            "violations": failed, "slo": [s.text for s in cfg.slos], "url": strip_userinfo(endpoint.url),
            "model": endpoint.model, "api": endpoint.api, "stream": endpoint.stream, "max_tokens": endpoint.max_tokens,
            "dataset": cfg.dataset, "prompt_tokens_planned_mean": sum(p.tokens for p in texts) / len(texts),
            "burstiness": cfg.burstiness, "locust_workers": cfg.locust_workers,
            "locust_remote_workers": cfg.locust_remote_workers, "seed": self.seed,
        }
        (point_dir / "summary.json").write_text(json.dumps(data, indent=2))
        self.item.user_properties.append((PROPERTY, data))
        return PointResult(point, data["summary"], data["records"], tuple(failed))

    def gate(self, result: PointResult) -> None:
        """Fail the sweep point on violated SLOs, on no success at all, or on outputs of the wrong length."""
        s = result.summary
        problems = list(result.violations)
        if s["successes"] == 0:
            problems.append(f"no request succeeded: errors {s['errors']}")
        if s["length_mismatches"]:
            problems.append(f"{s['length_mismatches']} outputs differ from the forced length "
                            f"{self.cfg.endpoint.max_tokens if self.cfg.endpoint else '?'} (usage.completion_tokens)")
        if problems:
            pytest.fail(f"{result.point.id}: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def perf(request: pytest.FixtureRequest) -> PerfSession:
    """Run a sweep point's load (Locust in subprocesses) and gate it on the SLOs."""
    return PerfSession(request.config, request.node)


class PerfRecorder:
    """Controller side: gathers every point's summary, writes report.json and report.html, prints the table."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.points: list[dict[str, Any]] = []
        self.report_path: Path | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.points += [dict(v) for k, v in report.user_properties if k == PROPERTY and isinstance(v, dict)]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.points:
            return
        from evalscope.perf.report import write_reports

        self.report_path = write_reports(self.config.stash[DIR_KEY], self.points)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.points or self.report_path is None:
            return
        from evalscope.perf.report import table

        terminalreporter.section("evalscope perf")
        for line in table(self.points).splitlines():
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"report: {self.report_path} (+ report.html, per point records.jsonl)")
