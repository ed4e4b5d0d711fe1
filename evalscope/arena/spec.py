"""The arena's settings: its contestants (each a backend with its own model, arguments, decoding and system prompt),
the judge, the mode and the question set, from `--arena-config FILE.toml` and the command line."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from evalscope import config as cfg
from evalscope.config import ConfigError, GenerationConfig, RunConfig
from evalscope.redaction import redact_arg

MODES = ("single", "pairwise-baseline", "pairwise-all")
PROMPT_SETS = ("mt-bench", "arena-hard")
RULE = "rule"
SPEC_KEYS = ("model", "backend", "api_url", "api_key", "model_args", "generation_config", "template_type",
             "system_prompt", "eval_batch_size", "concurrency")
"""What a contestant's table (or JSON SPEC) may set; anything unset is the run's (`--model-args`, ...)."""
FILE_KEYS = ("mode", "baseline", "questions", "judge", "judge_prompts", "candidates")


@dataclass(frozen=True)
class Contestant:
    """A model as the arena runs it: a name, the run settings its backend loads with, its system prompt."""

    name: str
    run: RunConfig
    system: str | None = None

    def describe(self) -> dict[str, Any]:
        """What the report says of it (never the API key)."""
        from evalscope.redaction import strip_userinfo

        url = None if self.run.api_url is None else strip_userinfo(self.run.api_url)
        return {"name": self.name, "model": self.run.model, "backend": self.run.backend, "api_url": url,
                "model_args": dataclasses.asdict(self.run.model_args),
                "generation_config": dataclasses.asdict(self.run.generation), "template": self.run.template,
                "system_prompt": self.system}


@dataclass(frozen=True)
class ArenaConfig:
    mode: str
    candidates: tuple[Contestant, ...]
    baseline: str
    """The anchor of the ratings (1000) and the opponent of every candidate in pairwise-baseline mode."""
    judge: Contestant | None
    """None: the rule judge (a correct answer beats an incorrect one)."""
    judge_prompts: str
    questions: str
    """`mt_bench`, a benchmark's name (its samples, judged by their references) or a JSONL file of questions."""

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.candidates]

    def contestant(self, name: str) -> Contestant:
        return next(c for c in self.candidates if c.name == name)

    def pairs(self) -> list[tuple[str, str]]:
        """The pairs that meet, (first shown, second shown) in their first order: each candidate against the
        baseline, or every pair in the order the candidates were given."""
        if self.mode == "pairwise-baseline":
            return [(name, self.baseline) for name in self.names if name != self.baseline]
        if self.mode == "pairwise-all":
            return list(itertools.combinations(self.names, 2))
        return []


def _merged(option: str, base: Any, given: Any) -> str:
    """A contestant's `model_args`/`generation_config` (a table, JSON or `k=v,...`) over the run's, as JSON."""
    values = dataclasses.asdict(base)
    if isinstance(given, Mapping):
        values.update(given)
    elif given is not None:
        values.update(cfg.parse_key_values(option, str(given)))
    return json.dumps(values)


def contestant(name: str, table: Mapping[str, Any], base: RunConfig, root: Path | None = None,
               judge: bool = False) -> Contestant:
    """A contestant from its table; unset keys take the run's settings (a judge decodes greedily unless told)."""
    from evalscope.options import choose_backend

    what = "--judge" if judge else f"arena candidate {name!r}"
    unknown = sorted(set(table) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(f"{what}: unknown key {unknown[0]!r} (known: {', '.join(SPEC_KEYS)})")
    try:
        # A judge is what its SPEC says; a candidate inherits the run's model and server where it names none.
        model = table.get("model") if judge else table.get("model", base.model)
        if model is not None and root is not None and str(model).startswith(("./", "../")):
            model = str((root / str(model)).resolve())  # a path in the config file is relative to that file
        url = table.get("api_url") if judge else table.get("api_url", base.api_url)
        api_url = cfg.api_base(str(url)) if url else None
        backend = table.get("backend") or (None if judge or "api_url" in table else base.backend)
        start = GenerationConfig(max_new_tokens=base.generation.max_new_tokens) if judge else base.generation
        run = dataclasses.replace(
            base, model=None if model is None else str(model),
            model_args=cfg.parse_model_args(_merged("model_args", base.model_args, table.get("model_args"))),
            generation=cfg.parse_generation_config(_merged("generation_config", start,
                                                           table.get("generation_config"))),
            backend=choose_backend(None if backend is None else str(backend), api_url), api_url=api_url,
            # the run's fleet, where the contestant inherits the run's server; its own URL is one endpoint
            api_urls=base.api_urls if not judge and "api_url" not in table else (),
            api_key=table.get("api_key", base.api_key),
            template=table.get("template_type", base.template),
            eval_batch_size=int(table.get("eval_batch_size", base.eval_batch_size)),
            concurrency=int(table.get("concurrency", base.concurrency)))
    except ConfigError as exc:
        raise ConfigError(f"{what}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what}: {exc}") from None
    system = table.get("system_prompt")
    return Contestant(name, run, None if system is None else str(system))


def parse_spec(text: str) -> dict[str, Any]:
    """A SPEC on the command line: a JSON object (a contestant's table), `default` (the embedded model), an
    http(s) URL (an OpenAI-compatible server), or a model (a local folder, a .gguf, a hub id)."""
    text = text.strip()
    if text.startswith("{"):
        try:
            table = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(table, dict):
            raise ConfigError("expected a JSON object")
        return table
    if text == "default":
        return {"model": None}
    if text.startswith(("http://", "https://")):
        return {"api_url": text}
    return {"model": text}


def read_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--arena-config: cannot read {path} ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--arena-config: {path}: {exc}") from None
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise ConfigError(f"--arena-config: {path}: unknown key {unknown[0]!r} (known: {', '.join(FILE_KEYS)})")
    if not isinstance(data.get("candidates", {}), dict) or not all(
            isinstance(v, dict) for v in data.get("candidates", {}).values()):
        raise ConfigError(f"--arena-config: {path}: candidates must be tables ([candidates.NAME])")
    return data


def build(base: RunConfig, file: Path | None, candidates: list[str], mode: str | None, baseline: str | None,
          judge: str | None, questions: str | None, judge_prompts: str | None) -> ArenaConfig:
    """The arena from the config file, the command line over it (`--candidate` adds or replaces one)."""
    data = read_file(file) if file is not None else {}
    root = file.parent.resolve() if file is not None else None
    tables: dict[str, tuple[dict[str, Any], Path | None]] = {
        str(name): (dict(table), root) for name, table in data.get("candidates", {}).items()}
    for text in candidates:
        name, sep, spec = text.partition("=")
        if not sep or not name.strip() or not spec.strip():
            raise ConfigError(f"--candidate {redact_arg(text)!r}: expected NAME=SPEC (a model, a URL, default or a "
                              "JSON object)")
        try:
            tables[name.strip()] = (parse_spec(spec), None)
        except ConfigError as exc:
            raise ConfigError(f"--candidate {name.strip()}: {exc}") from None
    bad = [n for n in tables if not n.replace("_", "").replace(".", "").isalnum() or n.startswith(".")]
    if bad:
        raise ConfigError(f"arena candidate {bad[0]!r}: names are letters, digits, '_' and '.' (they go into test ids)")
    mode = mode or data.get("mode") or "pairwise-baseline"
    if mode not in MODES:
        raise ConfigError(f"--arena-mode: {mode!r} (choose from {', '.join(MODES)})")
    if len(tables) < (1 if mode == "single" else 2):
        raise ConfigError(f"arena mode {mode} needs {'a candidate' if mode == 'single' else 'two candidates or more'}"
                          f" (--candidate NAME=SPEC or [candidates.NAME] in --arena-config); got {len(tables)}")
    models = tuple(contestant(name, table, base, where) for name, (table, where) in tables.items())
    baseline = baseline or data.get("baseline") or models[0].name
    if baseline not in tables:
        raise ConfigError(f"--baseline {baseline!r} is not an arena candidate ({', '.join(tables)})")
    judge_text = judge if judge is not None else data.get("judge", RULE)
    if isinstance(judge_text, dict):
        judge_model: Contestant | None = contestant("judge", judge_text, base, root, judge=True)
    elif str(judge_text) == RULE:
        judge_model = None
    else:
        try:
            judge_model = contestant("judge", parse_spec(str(judge_text)), base, judge=True)
        except ConfigError as exc:
            raise ConfigError(f"--judge: {exc}") from None
    prompts = judge_prompts or data.get("judge_prompts") or "mt-bench"
    if prompts not in PROMPT_SETS:
        raise ConfigError(f"--judge-prompts: {prompts!r} (choose from {', '.join(PROMPT_SETS)})")
    if prompts == "arena-hard" and mode == "single":
        raise ConfigError("--judge-prompts arena-hard has pairwise verdicts only; single mode grades with mt-bench's")
    return ArenaConfig(mode, models, baseline, judge_model, prompts, str(questions or data.get("questions")
                                                                          or "mt_bench"))
