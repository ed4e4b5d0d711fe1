"""Shared by the lm-eval comparisons: local lm-eval task definitions over our data, and running both harnesses.

lm-eval reads datasets from the hub; here each task is a local YAML (`dataset_path: json` with `data_files`)
whose rows are the exact samples our harness scores (same slice, same order), so the two runs differ only in
the harness. Prompts follow lm-eval's own task files (arc_easy, hellaswag, mmlu with 5 dev shots).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evalscope.config import RunConfig  # noqa: E402
from evalscope.suite import Suite  # noqa: E402

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@dataclass
class Task:
    """One lm-eval task over one of our subsets."""

    name: str
    benchmark: str
    subset: str
    yaml: str


def _rows(suite: Suite, subset: str, limit: int) -> list[dict[str, Any]]:
    samples = [s for s in suite.samples if getattr(s, "subset", None) == subset][:limit]
    return [{"question": s.input, "choices": list(s.choices), "gold": int(s.metadata["gold"]),
             "subject": s.subset} for s in samples]  # type: ignore[union-attr]


def _race_task(name: str, subset: str, limit: int, data_dir: Path, test: Path, tasks_root: str) -> Task:
    """lm-eval's own race task over our articles (its documents: an article and its problems, as a Python
    literal), in our order."""
    from evalscope import registry

    articles = [row for _, row in registry.get("race").rows(data_dir / "race", "articles", subset)][:limit]
    docs = [{"article": a["article"], "problems": repr([{k: p[k] for k in ("question", "options", "answer")}
                                                       for p in a["problems"]])} for a in articles]
    test.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    yaml = test.with_suffix(".yaml")
    yaml.write_text(f"include: {tasks_root}/race/race.yaml\ntask: {name}\ndataset_path: json\ndataset_name: null\n"
                    f"dataset_kwargs:\n  data_files:\n    test: {test}\n")
    return Task(name, "race", subset, str(yaml))


def tasks_root(python: str) -> str:
    """Where lm-eval's own task files are, in the environment of `python`."""
    return subprocess.run([python, "-c", "import lm_eval.tasks as t, os; print(os.path.dirname(t.__file__))"],
                          capture_output=True, text=True, check=True).stdout.strip()


def write_tasks(benchmark: str, subsets: Sequence[str], limit: int, data_dir: Path, out: Path,
                tasks_root: str = "") -> list[Task]:
    """lm-eval task YAMLs (and their JSONL data) for the first `limit` samples of each subset (RACE: its own
    task file, under `tasks_root`, over our articles)."""
    out.mkdir(parents=True, exist_ok=True)
    suite = Suite.load(benchmark, RunConfig(dataset_dir=data_dir, limit=limit))
    tasks = []
    for subset in subsets:
        name = f"es_{benchmark}_{subset}".lower().replace("-", "_")
        test = out / f"{name}.jsonl"
        if benchmark == "race":
            tasks.append(_race_task(name, subset, limit, data_dir, test, tasks_root))
            continue
        test.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _rows(suite, subset, limit)))
        head = [f"task: {name}", "dataset_path: json", "output_type: multiple_choice", "test_split: test",
                "doc_to_target: '{{gold}}'"]
        if benchmark == "mmlu":
            dev = out / f"{name}_dev.jsonl"
            shots = [s for s in suite.few_shot_pool if s.subset == subset]
            dev.write_text("".join(json.dumps({"question": s.input, "choices": list(s.choices),
                                                "gold": int(s.metadata["gold"])}) + "\n" for s in shots))
            subject = subset.replace("_", " ")
            body = [
                f"dataset_kwargs:\n  data_files:\n    test: {test}\n    dev: {dev}",
                "fewshot_split: dev", "fewshot_config:\n  sampler: first_n", "num_fewshot: 5",
                f'description: "The following are multiple choice questions (with answers) about {subject}.\\n\\n"',
                "doc_to_text: \"{{question.strip()}}\\nA. {{choices[0]}}\\nB. {{choices[1]}}\\nC. {{choices[2]}}"
                "\\nD. {{choices[3]}}\\nAnswer:\"",
                "doc_to_choice: ['A', 'B', 'C', 'D']",
                "metric_list:\n  - metric: acc",
            ]
        else:
            text = "Question: {{question}}\\nAnswer:" if benchmark == "arc" else "{{question}}"
            body = [f"dataset_kwargs:\n  data_files:\n    test: {test}", f'doc_to_text: "{text}"',
                    "doc_to_choice: '{{choices}}'", "metric_list:\n  - metric: acc\n  - metric: acc_norm"]
        (out / f"{name}.yaml").write_text("\n".join(head + body) + "\n")
        tasks.append(Task(name, benchmark, subset, str(out / f"{name}.yaml")))
    return tasks


def run_lmeval(python: str, model: Path, tasks: Sequence[Task], task_dir: Path, out: Path, batch: int,
               threads: int) -> tuple[dict[tuple[str, int], list[float]], float]:
    """Run lm-eval's HF backend on the tasks; per (task, doc_id) loglikelihoods, and wall seconds."""
    cmd = [python, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={model},dtype=float32",
           "--tasks", ",".join(t.name for t in tasks), "--include_path", str(task_dir), "--device", "cpu",
           "--batch_size", str(batch), "--output_path", str(out), "--log_samples"]
    env = {**os.environ, **OFFLINE, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"lm-eval failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    lls: dict[tuple[str, int], list[float]] = {}
    for path in out.rglob("samples_*.jsonl"):
        task = path.name.removeprefix("samples_").rsplit("_", 1)[0]
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            lls[(task, int(rec["doc_id"]))] = [float(r[0]) for r in rec["filtered_resps"]]
    return lls, seconds


def run_ours(benchmark: str, subsets: Sequence[str], limit: int, model: Path, data_dir: Path, work: Path,
             batch: int, threads: int, setup: str | None = None,
             extra: Sequence[str] = (), python: str = sys.executable) -> tuple[list[dict[str, Any]], float]:
    """A real `pytest benchmarks/<name>` session (with `python`'s environment); per-sample records (from the
    predictions JSONL), wall seconds."""
    args: dict[str, Any] = {"subset_list": list(subsets)}
    if setup:
        args["setup"] = setup
    cmd = [python, "-m", "pytest", str(REPO / "benchmarks" / benchmark), "-q", "-p", "no:cacheprovider",
           "--model", str(model), "--limit", str(limit), "--dataset-dir", str(data_dir), "--work-dir", str(work),
           "--dataset-args", json.dumps({benchmark: args}), "--eval-batch-size", str(batch),
           "--threads", str(threads), *extra]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env={**os.environ, **OFFLINE}, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"evalscope failed ({proc.returncode}): {proc.stdout.strip().splitlines()[-3:]}")
    records = [json.loads(line) for p in work.rglob(f"predictions/{benchmark}.jsonl")
               for line in p.read_text().splitlines()]
    return records, seconds


def default_model_folder() -> Path:
    from evalscope.models import resolve

    return resolve.converted_gguf(resolve.default_model_file())[0]
