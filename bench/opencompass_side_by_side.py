"""OpenCompass's per-sample verdicts on its own outputs vs our scorers on the same outputs: GSM8K and ARC-Challenge.

    make opencompass    # .venv-opencompass
    python bench/opencompass_side_by_side.py --api-url http://127.0.0.1:8000/v1 --model MODEL [--n 20]

OpenCompass runs its `gsm8k` and `ARC_c` configs (first N samples of each) against the served model, through
evalscope's backend (evalscope/backends/opencompass.py). Each of its outputs is then scored again by our
benchmarks' scorers, unchanged: GSM8K's three setups (`evalscope-0.5`: last number; `lm-eval`: strict and flexible
match; `evalscope`: Math-Verify), ARC's `evalscope` letter reader. OpenCompass's ARC_c config asks the Dev split's
4-option questions; the sample is ours from the same row. The table counts agreement per scorer; every disagreement
is listed with OpenCompass's extracted answer and ours (their extraction rules differ: these are reported, not
hidden). The prompts OpenCompass sent for sample 0 are printed beside our `evalscope` setups' prompts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalscope import registry  # noqa: E402
from evalscope.backends import opencompass as oc  # noqa: E402
from evalscope.config import DatasetArgs, RunConfig  # noqa: E402
from evalscope.schema import Completion, Sample  # noqa: E402
from evalscope.suite import Suite  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def our_gsm8k(data: Path, n: int) -> list[Sample]:
    bench = registry.get("gsm8k")
    rows = [json.loads(line) for line in (data / "gsm8k" / "test.jsonl").read_text().splitlines()[:n]]
    return [bench.to_sample(r) for r in rows]


def our_arc_dev(data: Path, n: int) -> list[Sample]:
    """ARC-Challenge Dev's 4-option rows, in file order: OpenCompass's `ARC-c` indices."""
    bench = registry.get("arc")
    rows = [json.loads(line) for line in (data / "arc" / "ARC-Challenge" / "ARC-Challenge-Dev.jsonl").read_text()
            .splitlines()]
    return [bench.to_sample(r) for r in rows if len(r["question"]["choices"]) == 4][:n]


SCORERS = {"gsm8k": [("evalscope-0.5 (last number)", "gsm8k", "evalscope-0.5", "acc"),
                     ("lm-eval strict", "gsm8k", "lm-eval", "exact_match,strict-match"),
                     ("lm-eval flexible", "gsm8k", "lm-eval", "exact_match,flexible-extract"),
                     ("evalscope (Math-Verify)", "gsm8k", "evalscope", "acc")],
           "ARC-c": [("evalscope (letter)", "arc", "evalscope", "acc")]}
"""OpenCompass dataset -> (label, our benchmark, its setup, the metric compared)."""


def our_prompt(bench: str, subset: str, data: Path) -> str:
    suite = Suite.load(bench, RunConfig(dataset_dir=data, limit=1, dataset_args={
        bench: DatasetArgs(setup="evalscope", subset_list=(subset,) if subset else None)}))
    sample = suite.samples[0]
    assert isinstance(sample, Sample)
    return getattr(suite.request(sample), "prompt", "")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--api-url", required=True, help="the OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model", required=True, help="the served model name (vLLM: the folder it loaded)")
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--max-out-len", type=int, default=256)
    p.add_argument("--dataset-dir", type=Path, default=DATA)
    p.add_argument("--work-dir", type=Path, default=ROOT / "outputs" / "opencompass-side-by-side",
                   help="OpenCompass's listing cache, config, log and outputs; comparison.json")
    args = p.parse_args()

    task = oc.Task(("gsm8k", "ARC_c"), oc.ApiModel(args.model, args.api_url, max_out_len=args.max_out_len))
    ours = {"gsm8k": our_gsm8k(args.dataset_dir, args.n), "ARC-c": our_arc_dev(args.dataset_dir, args.n)}
    listing = oc.prepare(task, args.dataset_dir, args.work_dir / ".opencompass")
    run_dir = args.work_dir / time.strftime("%Y%m%d-%H%M%S")
    answers = oc.run(task, {k: list(range(len(v))) for k, v in ours.items()}, listing.parent, run_dir)
    rows: list[dict[str, Any]] = []
    print(f"# OpenCompass {task.datasets} vs our scorers, first {args.n} samples, model {args.model}\n")
    for dataset, samples in ours.items():
        for label, bench_name, setup_name, metric in SCORERS[dataset]:
            bench = registry.get(bench_name)
            setup = bench.setup(setup_name)
            agree, diffs = 0, []
            for i, sample in enumerate(samples):
                got = answers[(dataset, i)]
                verdict = bench.score(sample, Completion(got.prediction, 0, 0, "stop", got.prompt), setup)
                mine = verdict.metrics[metric] >= 1.0
                rows.append({"dataset": dataset, "index": i, "scorer": label, "opencompass": got.correct,
                             "ours": mine, "opencompass_extracted": got.extracted,
                             "ours_extracted": verdict.extracted.get(metric), "target": sample.target})
                if mine == got.correct:
                    agree += 1
                else:
                    diffs.append(f"    {dataset}-{i:04d}: OpenCompass {got.correct} (read {got.extracted!r}), "
                                 f"ours {mine} (read {verdict.extracted.get(metric)!r}), target {sample.target!r}")
            theirs = sum(bool(answers[(dataset, i)].correct) for i in range(len(samples)))
            mine_total = sum(r["ours"] for r in rows if r["dataset"] == dataset and r["scorer"] == label)
            print(f"{dataset:6} {label:26} agree {agree}/{len(samples)}  OpenCompass acc {theirs}/{len(samples)}  "
                  f"ours {mine_total}/{len(samples)}")
            print("\n".join(diffs) if diffs else "    (no disagreement)")
    print("\n# prompts of sample 0: OpenCompass's (as sent) vs our `evalscope` setup's")
    for dataset, (name, subset) in {"gsm8k": ("gsm8k", ""), "ARC-c": ("arc", "ARC-Challenge")}.items():
        print(f"\n## {dataset}: OpenCompass\n{answers[(dataset, 0)].prompt}\n## {name}: ours (`evalscope`; our ARC "
              f"asks the Test split)\n{our_prompt(name, subset, args.dataset_dir)}")
    (run_dir / "comparison.json").write_text(json.dumps(rows, indent=1))
    print(f"\nOpenCompass's config, log and outputs, and comparison.json: {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
