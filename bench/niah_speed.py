"""Needle-in-a-haystack prefill speed on the default model: the transformers backend and vLLM (in process), in one
run, at 1k/2k/4k/8k tokens of context.

    python bench/niah_speed.py [--vllm-python .venv-vllm/bin/python] [--lengths 1000,2000,4000,8000] [--threads 2]

Each backend runs in a fresh process on the needle_haystack items at depth 50% (RACE haystack, seed 42), one prompt at
a time, greedy, max_new_tokens=1: the time of one request is its prefill (and one token). Printed per length: prompt
tokens, seconds, prefill tokens/s for both, the ratio, the answer's first token agreeing, and each process's peak
resident memory. The model loads before the clock starts. Run alone on the machine: it measures time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

WORKER = r"""
import json, resource, sys, time
from dataclasses import replace
from pathlib import Path
from evalscope import models
from evalscope.config import DatasetArgs, GenerationConfig, RunConfig
from evalscope.schema import Sample
from evalscope.suite import Suite

backend, data, lengths, threads = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
config = RunConfig(dataset_dir=data, backend=backend, generation=GenerationConfig(max_new_tokens=1), eval_batch_size=1,
                   dataset_args={"needle_haystack": DatasetArgs(extra={"lengths": lengths, "depths": [50]})})
suite = Suite.load("needle_haystack", config)
model = models.load(config, threads)
list(model.generate([suite.request(s) for s in suite.samples[:1] if isinstance(s, Sample)]))  # warm up
out = []
for sample in suite.samples:
    start = time.perf_counter()
    ((_, completion),) = list(model.generate([suite.request(sample)]))
    seconds = time.perf_counter() - start
    out.append({"length": sample.metadata["length"], "prompt_tokens": completion.prompt_tokens, "seconds": seconds,
                "text": completion.text})
print("RESULT " + json.dumps({"rows": out, "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}))
model.close()
"""


def run(python: str, backend: str, data: Path, lengths: list[int], threads: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"), "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run([python, "-c", WORKER, backend, str(data), json.dumps(lengths), str(threads)],
                          capture_output=True, text=True, env=env, check=False)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"{backend} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(line.removeprefix("RESULT "))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vllm-python", default=str(REPO / ".venv-vllm" / "bin" / "python"))
    p.add_argument("--lengths", default="1000,2000,4000,8000")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", default=os.environ.get("EVALSCOPE_DATASET_DIR", str(REPO.parent / "shared" / "data")))
    args = p.parse_args()
    lengths = [int(n) for n in args.lengths.split(",")]
    results = {"transformers": run(sys.executable, "transformers", Path(args.data), lengths, args.threads)}
    if Path(args.vllm_python).is_file():
        results["vllm"] = run(args.vllm_python, "vllm", Path(args.data), lengths, args.threads)
    else:
        print(f"no vLLM at {args.vllm_python}: transformers only")
    print(f"{'length':>7} {'tokens':>7} " + " ".join(f"{b + ' s':>16} {b + ' tok/s':>18}" for b in results)
          + ("   vllm/transformers  same answer" if "vllm" in results else ""))
    for i, length in enumerate(lengths):
        rows = {b: r["rows"][i] for b, r in results.items()}
        line = f"{length:>7} {rows['transformers']['prompt_tokens']:>7} " + " ".join(
            f"{r['seconds']:>16.2f} {r['prompt_tokens'] / r['seconds']:>18.1f}" for r in rows.values())
        if "vllm" in rows:
            ratio = rows["transformers"]["seconds"] / rows["vllm"]["seconds"]
            line += f"   {ratio:>17.2f}  {rows['transformers']['text'] == rows['vllm']['text']}"
        print(line)
    print("peak resident memory (GB): " + ", ".join(f"{b} {r['peak_rss_gb']:.2f}" for b, r in results.items()))


if __name__ == "__main__":
    main()
