"""OpenCompass as an evaluation backend: the seed's `eval_config`, OpenCompass's `data/` layout linked from ours,
one OpenCompass run in its own venv, and its per-sample predictions and verdicts read back."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from evalscope.backends import BackendError

FOLDER = "opencompass"
"""The benchmark folder whose items are OpenCompass's samples (`pytest benchmarks/opencompass`)."""
PYTHON_ENV = "EVALSCOPE_OPENCOMPASS_PYTHON"
VENV = ".venv-opencompass"
REPO = Path(__file__).resolve().parents[2]
SAMPLES_SCRIPT = Path(__file__).with_name("opencompass_samples.py")
OFFLINE_NOTE = "OpenCompass's own download is unreachable here: its data comes from --dataset-dir, linked"

LINKS: tuple[tuple[str, str], ...] = (
    ("gsm8k", "gsm8k"),
    ("ARC/ARC-c", "arc/ARC-Challenge"),
    ("ARC/ARC-e", "arc/ARC-Easy"),
    ("mmlu", "mmlu"),
    ("cmmlu", "cmmlu"),
    ("ceval/formal_ceval", "ceval"),
    ("BBH/data", "bbh/bbh"),
    ("BBH/lib_prompt", "bbh/cot-prompts"),
    ("mbpp", "mbpp"),
    ("ifeval", "ifeval"),
    ("race/validation/middle.jsonl", "race/validation_middle.jsonl"),
    ("race/test/middle.jsonl", "race/test_middle.jsonl"),
)
"""OpenCompass's path under `data/` -> ours under the dataset dir: links, never copies. Formats that differ
(HellaSwag's bz2 text, HumanEval's .gz, MATH's jsonl) have no link: those configs do not run offline."""


@dataclass(frozen=True)
class ApiModel:
    """One served model, in the seed's keys (EvalScope's `ApiModelConfig`)."""

    path: str
    """The served model name (vLLM's default is the folder it loaded)."""
    openai_api_base: str
    """`http://host:port/v1` or the full `.../v1/chat/completions` URL."""
    abbr: str = ""
    is_chat: bool = True
    batch_size: int = 8
    key: str = "EMPTY"
    max_out_len: int = 256
    max_seq_len: int = 2048
    temperature: float = 0.0
    query_per_second: int = 16
    tokenizer_path: str | None = None
    """For OpenCompass's token counts; default `path` (a local folder loads with transformers, offline)."""

    @property
    def name(self) -> str:
        return self.abbr or Path(self.path).name or "model"

    @property
    def chat_url(self) -> str:
        base = self.openai_api_base.rstrip("/")
        return base if base.endswith("/chat/completions") else f"{base.removesuffix('/v1')}/v1/chat/completions"


@dataclass(frozen=True)
class Task:
    """The seed's `eval_config` for OpenCompass: datasets (config names) and the model it asks."""

    datasets: tuple[str, ...]
    model: ApiModel
    limit: int | None = None
    work_dir: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Other OpenCompass settings, kept for the report (not applied)."""

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Task:
        known = {"datasets", "models", "limit", "work_dir"}
        datasets = data.get("datasets") or []
        if isinstance(datasets, str):
            datasets = [datasets]
        if not datasets or not all(isinstance(d, str) for d in datasets):
            raise ValueError("eval_config: 'datasets' must list OpenCompass dataset names (e.g. [gsm8k, ARC_c])")
        models = data.get("models") or []
        if len(models) != 1 or not isinstance(models[0], Mapping):
            raise ValueError("eval_config: 'models' must hold one served model {path, openai_api_base, ...}")
        fields = set(ApiModel.__dataclass_fields__)
        unknown = sorted(set(models[0]) - fields - {"type", "meta_template", "run_cfg"})
        if unknown:
            raise ValueError(f"eval_config: models[0] has unknown key {unknown[0]!r} "
                             f"(known: {', '.join(sorted(fields))})")
        for need in ("path", "openai_api_base"):
            if not models[0].get(need):
                raise ValueError(f"eval_config: models[0] needs {need!r}")
        model = ApiModel(**{k: v for k, v in models[0].items() if k in fields})
        limit = data.get("limit")
        if limit is not None and (not str(limit).isdigit() or int(limit) < 1):
            raise ValueError(f"eval_config: limit {limit!r} is not a positive integer")
        return cls(tuple(datasets), model, None if limit is None else int(limit),
                   None if data.get("work_dir") is None else str(data["work_dir"]),
                   {k: v for k, v in data.items() if k not in known})

    def to_json(self) -> dict[str, Any]:
        return {"datasets": list(self.datasets), "models": [asdict(self.model)], "limit": self.limit,
                "work_dir": self.work_dir, **self.extra}


def load_task(spec: str) -> Task:
    """`--opencompass-config`: a YAML or JSON file, or inline JSON (what run_task passes)."""
    text = spec
    if not spec.lstrip().startswith("{"):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise ValueError(f"--opencompass-config {spec}: no such file")
        text = path.read_text()
    import yaml  # JSON is YAML too

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"--opencompass-config {spec}: not YAML/JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"--opencompass-config {spec}: not a mapping of eval_config keys")
    return Task.parse(data)


def python() -> Path:
    """OpenCompass's python: EVALSCOPE_OPENCOMPASS_PYTHON, else `make opencompass`'s venv."""
    env = os.environ.get(PYTHON_ENV)
    path = Path(env) if env else REPO / VENV / "bin" / "python"
    if not path.is_file():
        raise BackendError(f"OpenCompass is not installed: no {path} (run `make opencompass`, or set {PYTHON_ENV})")
    return path


def package_dir(py: Path) -> Path:
    """The installed `opencompass` package of that python, found without starting it."""
    found = sorted(py.parent.parent.glob("lib/python3*/site-packages/opencompass"))
    if not found:
        raise BackendError(f"OpenCompass is not installed in {py.parent.parent} (run `make opencompass`)")
    return found[0]


def config_module(name: str, package: Path) -> str:
    """A dataset name as the seed gives it (`gsm8k`, `ARC_c`: that folder's `<name>_gen` config) or a config of
    OpenCompass's own (`ARC_c/ARC_c_ppl`) -> its module; BackendError for an unknown one."""
    folder, _, config = name.partition("/")
    config = config or f"{folder}_gen"
    if not (package / "configs" / "datasets" / folder / f"{config}.py").is_file():
        raise BackendError(f"unknown OpenCompass dataset {name!r}: no configs/datasets/{folder}/{config}.py in "
                           f"{package}")
    return f"opencompass.configs.datasets.{folder}.{config}"


def link_data(dataset_dir: Path, root: Path) -> list[str]:
    """OpenCompass's `data/` layout under `root`, as links into `dataset_dir`; the paths linked."""
    linked = []
    for theirs, ours in LINKS:
        source, target = dataset_dir / ours, root / "data" / theirs
        if not source.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() and target.resolve() != source.resolve():
            target.unlink()
        if not target.is_symlink():
            target.symlink_to(source.resolve())
        linked.append(theirs)
    return linked


def config_text(task: Task, package: Path, work_dir: Path, select: Mapping[str, Sequence[int]] | None) -> str:
    """OpenCompass's config for this task: its dataset configs, our served model, every task in one process (its
    runner's `debug`: a process per task costs a torch import each), per-sample details kept; `select` keeps
    those datasets and indices."""
    imports = "\n".join(f"    from {config_module(name, package)} import *  # noqa: F403" for name in task.datasets)
    m = task.model
    model = {"abbr": m.name, "path": m.path, "key": m.key, "openai_api_base": m.chat_url,
             "tokenizer_path": m.tokenizer_path or m.path, "query_per_second": m.query_per_second,
             "max_out_len": m.max_out_len, "max_seq_len": m.max_seq_len, "batch_size": m.batch_size,
             "temperature": m.temperature, "retry": 2, "run_cfg": {"num_gpus": 0}}
    return f'''# Written by evalscope (evalscope/backends/opencompass.py) for one OpenCompass run.
from mmengine.config import read_base
from opencompass.models import OpenAI
from opencompass.partitioners import NaivePartitioner
from opencompass.runners import LocalRunner
from opencompass.tasks import OpenICLEvalTask, OpenICLInferTask

with read_base():
{imports}

_select = {json.dumps(select) if select is not None else None}
datasets = []
for _name, _value in list(locals().items()):
    if _name.endswith("_datasets") and isinstance(_value, list):
        datasets += _value
if _select is not None:
    datasets = [d for d in datasets if d.get("abbr") in _select]
    for d in datasets:
        # test_range is eval'ed after `index_list`: an empty slice plus a list picks exactly these indices
        d["reader_cfg"]["test_range"] = "[0:0]+" + str(sorted(_select[d["abbr"]]))
models = [dict(type=OpenAI, **{json.dumps(model)})]
infer = dict(partitioner=dict(type=NaivePartitioner),
             runner=dict(type=LocalRunner, debug=True, task=dict(type=OpenICLInferTask)))
eval = dict(partitioner=dict(type=NaivePartitioner),
            runner=dict(type=LocalRunner, debug=True, task=dict(type=OpenICLEvalTask, dump_details=True)))
work_dir = {str(work_dir)!r}
'''


def _env(data_root: Path) -> dict[str, str]:
    """OpenCompass's environment: data from our links, no hub, no GPU, no keys of ours."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("EVALSCOPE_", "PYTEST", "OPENAI_"))}
    return {**keep, "COMPASS_DATA_CACHE": str(data_root), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": ""}


def _run(args: list[str], cwd: Path, data_root: Path, log: Path, what: str) -> None:
    """Run OpenCompass's python; its output goes to `log` (kept in the run folder); a failure is one line."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as out:
        code = subprocess.run(args, cwd=cwd, env=_env(data_root), stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, check=False).returncode
    if code != 0:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        cause = next((ln for ln in reversed(lines) if "Error" in ln or "error" in ln), lines[-1] if lines else "")
        raise BackendError(f"OpenCompass {what} failed (exit {code}): {cause.strip()[:300]} (log: {log})")


def prepare(task: Task, dataset_dir: Path | None, cache: Path) -> Path:
    """The samples of the task's datasets, listed once per task and data (`<cache>/<key>/samples.jsonl`):
    OpenCompass loads each dataset from the linked layout; its test rows become our items."""
    py = python()
    package = package_dir(py)
    for name in task.datasets:
        config_module(name, package)
    key = hashlib.sha256(json.dumps([list(task.datasets), str(dataset_dir), str(py)]).encode()).hexdigest()[:12]
    root = cache / key
    listing = root / "samples.jsonl"
    if listing.is_file():
        return listing
    root.mkdir(parents=True, exist_ok=True)
    if dataset_dir is not None:
        link_data(dataset_dir, root)
    config = root / "list_config.py"
    config.write_text(config_text(task, package, root / "unused", None))
    partial = root / "samples.partial"
    _run([str(py), "-P", str(SAMPLES_SCRIPT), str(config), str(partial)], root, root, root / "list.log",
         f"loading datasets {', '.join(task.datasets)} ({OFFLINE_NOTE})")
    partial.replace(listing)
    return listing


@dataclass(frozen=True)
class Answer:
    """OpenCompass's record of one sample: what it sent, what came back, what its evaluator read and decided."""

    prompt: str
    prediction: str
    extracted: str | None
    correct: bool | None
    """Its evaluator's verdict; None where it gives none per sample (then the item errors, naming the dataset)."""
    details: Mapping[str, Any]


def run(task: Task, select: Mapping[str, Sequence[int]], root: Path, folder: Path) -> dict[tuple[str, int], Answer]:
    """One OpenCompass run (inference then evaluation) of the selected indices of each dataset, its work dir and
    log under `folder`; (dataset abbr, index) -> its answer."""
    py = python()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.py"
    config.write_text(config_text(task, package_dir(py), folder / "work", select))
    args = [str(py), "-m", "opencompass.cli.main", str(config), "--mode", "all", "--max-num-workers", "1"]
    _run(args, folder, root, folder / "opencompass.log", "run")
    stamps = sorted(p for p in (folder / "work").iterdir() if p.is_dir())
    if not stamps:
        raise BackendError(f"OpenCompass wrote no run under {folder / 'work'} (log: {folder / 'opencompass.log'})")
    out: dict[tuple[str, int], Answer] = {}
    for abbr, indices in select.items():
        answers = checked(read_answers(stamps[-1], task.model.name, abbr))
        for position, answer in enumerate(answers):
            if position < len(indices):
                out[(abbr, sorted(indices)[position])] = answer
    return out


def checked(answers: list[Answer]) -> list[Answer]:
    """Verdicts rebuilt from predictions and references stand only where their mean is the accuracy OpenCompass
    reports for the dataset; elsewhere there is no verdict (the items error, saying so)."""
    rebuilt = [a for a in answers if a.details.get("verdict_from") == "predictions == references"]
    if not rebuilt or len(rebuilt) != len(answers):
        return answers
    reported = answers[0].details["dataset_scores"].get("accuracy")
    mean = 100 * sum(bool(a.correct) for a in answers) / len(answers)
    if reported is not None and abs(float(reported) - mean) < 1e-6:
        return answers
    return [replace(a, correct=None, details={**a.details, "verdict_from": f"none (predictions == references gives "
                                                            f"{mean:.2f}, OpenCompass reports {reported})"})
            for a in answers]


def _positions(data: Any) -> list[Any]:
    """OpenCompass's per-sample records in order: a list, or a dict keyed "0", "1", ... (other keys dropped)."""
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        return [data[k] for k in sorted((k for k in data if str(k).isdigit()), key=int)]
    return []


def _verdict(detail: Mapping[str, Any]) -> tuple[bool | None, str | None, str]:
    """(verdict, extracted answer, where the verdict came from) of one of OpenCompass's per-sample details."""
    def first(value: Any) -> Any:  # several draws of one sample: OpenCompass's first
        return (value[0] if value else None) if isinstance(value, list) else value

    extracted = first(detail.get("pred", detail.get("predictions")))
    extracted = None if extracted is None else str(extracted)
    for key in ("correct", "is_correct"):
        if first(detail.get(key)) is not None:
            return bool(first(detail[key])), extracted, key
    if "predictions" in detail and "references" in detail:
        # OpenCompass's evaluators that give no details (AccEvaluator: ARC, MMLU, ...) score by this equality;
        # run() checks the mean against the dataset score it reports.
        return str(detail["predictions"]) == str(detail["references"]), extracted, "predictions == references"
    return None, extracted, "none"


def read_answers(stamp: Path, model: str, abbr: str) -> list[Answer]:
    """The answers of one dataset from an OpenCompass run folder: `predictions/` (prompt, raw output) and
    `results/` (its evaluator's `details`: extracted answer and verdict, per sample, and the dataset's scores)."""
    predictions_file = stamp / "predictions" / model / f"{abbr}.json"
    if not predictions_file.is_file():
        return []
    predictions = _positions(json.loads(predictions_file.read_text()))
    results_file = stamp / "results" / model / f"{abbr}.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    details = _positions(results.get("details"))
    scores = {k: v for k, v in results.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    out = []
    for i, pred in enumerate(predictions):
        detail = details[i] if i < len(details) and isinstance(details[i], Mapping) else {}
        verdict, extracted, source = _verdict(detail)
        prompt = pred.get("origin_prompt", "")
        kept = {k: v for k, v in detail.items() if k not in ("prompt", "origin_prediction")}
        out.append(Answer(prompt if isinstance(prompt, str) else json.dumps(prompt, ensure_ascii=False),
                          str(pred.get("prediction", "")), extracted, verdict,
                          {"detail": kept, "verdict_from": source, "dataset_scores": scores}))
    return out


def pytest_args(params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The seed's `run_task({"eval_backend": "OpenCompass", "eval_config": {...}})` as our run: the opencompass
    folder with `--opencompass-config` (inline JSON), `limit` and `work_dir` from eval_config unless given."""
    config = params.get("eval_config")
    if isinstance(config, str):
        task = load_task(config)
    elif isinstance(config, Mapping):
        task = Task.parse(config)
    else:
        raise ValueError("eval_backend OpenCompass needs eval_config (a dict, or a YAML/JSON file)")
    ours = {k: v for k, v in params.items() if k not in ("eval_config", "datasets")}
    if task.limit is not None and ours.get("limit") is None:
        ours["limit"] = task.limit
    if task.work_dir is not None and not (ours.get("work_dir") or ours.get("outputs")):
        ours["work_dir"] = task.work_dir
    return {**ours, "datasets": [FOLDER]}, ["--opencompass-config", json.dumps(task.to_json())]


if __name__ == "__main__":  # `python -m evalscope.backends.opencompass CONFIG`: print OpenCompass's config
    print(config_text(load_task(sys.argv[1]), package_dir(python()), Path("outputs"), None))
