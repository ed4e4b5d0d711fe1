"""Refilling batches against the batch loop, `model.generate` and vLLM's CPU build: MATH-500 with lm-eval's minerva
prompt, long and uneven replies.

    python bench/refill_speed.py [--limit 64] [--batch-size 16] [--max-new-tokens 1024]
        [--vllm-python .venv-vllm/bin/python]

The first `limit` MATH-500 problems, `minerva` setup (4 fixed exemplars, raw text, stop at "Problem:"), greedy,
fp32, 2 threads, the default model (the embedded SmolLM2-135M GGUF, converted to an HF folder), `batch-size` rows.
In one process, after one model load, the same requests go through the transformers backend three times:
`decoding=batch` (a batch runs until its longest reply ends; rows that end leave it), `decoding=refill` (a row that
ends hands its slot to the next prompt) and `decoding=generate` (`model.generate`, the reference text). vLLM
(`vllm.LLM` in a child process of `--vllm-python`, the same token ids, `max_num_seqs` = the batch size, eager,
fp32) is timed apart from its start-up. Printed: each loop's generation seconds and generated tokens/s (the model
load not counted), the ratios, and how many refilled replies equal `model.generate`'s; for each that differs,
the first token where they part and both tokens' log-probabilities under a plain fp32 forward (a near-tie when
within 0.05). Run alone on the machine: it measures time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lmeval import OFFLINE, REPO, default_model_folder
from generation_speed import parting

from evalscope.config import DatasetArgs, GenerationConfig, ModelArgs, RunConfig
from evalscope.models import in_order
from evalscope.schema import GenerationRequest, Sample
from evalscope.suite import Suite

VLLM_CHILD = """
import json, sys, time
from vllm import LLM, SamplingParams
from vllm.inputs import TokensPrompt
job = json.load(open(sys.argv[1]))
start = time.perf_counter()
llm = LLM(model=job["model"], dtype="float32", enforce_eager=True, max_num_seqs=job["batch"], seed=0)
started = time.perf_counter() - start
params = [SamplingParams(temperature=0.0, max_tokens=job["max_new_tokens"], stop=stop or None,
                         skip_special_tokens=True) for stop in job["stops"]]
start = time.perf_counter()
outputs = llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in job["prompts"]], params, use_tqdm=False)
seconds = time.perf_counter() - start
json.dump({"startup": started, "seconds": seconds, "tokens": [len(o.outputs[0].token_ids) for o in outputs],
           "texts": [o.outputs[0].text for o in outputs]}, open(sys.argv[2], "w"))
"""


def math_requests(limit: int, data: Path) -> list[GenerationRequest]:
    config = RunConfig(dataset_dir=data, limit=limit, dataset_args={"math_500": DatasetArgs(setup="minerva")})
    suite = Suite.load("math_500", config)
    samples = [s for s in suite.samples if isinstance(s, Sample)][:limit]
    return [suite.request(s) for s in samples]


def run_vllm(python: str, model: Path, rows: list[list[int]], requests: list[GenerationRequest],
             args: argparse.Namespace, tmp: Path) -> dict[str, Any] | None:
    job, result = tmp / "job.json", tmp / "vllm.json"
    job.write_text(json.dumps({"model": str(model), "batch": args.batch_size, "max_new_tokens": args.max_new_tokens,
                               "prompts": rows, "stops": [list(r.stop) for r in requests]}))
    env = {**os.environ, **OFFLINE, "OMP_NUM_THREADS": str(args.threads),
           "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "2"), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([python, "-c", VLLM_CHILD, str(job), str(result)], env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:  # reported, and the loops' numbers still printed
        causes = [line for line in proc.stderr.splitlines() if "Error" in line][:3]
        print(f"  vllm failed ({proc.returncode}): {causes}")
        return None
    data: dict[str, Any] = json.loads(result.read_text())
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vllm-python", help="python of `make vllm`'s environment (default: .venv-vllm if there)")
    parser.add_argument("--dataset-dir", type=Path,
                        default=Path(os.environ.get("EVALSCOPE_DATASET_DIR", REPO.parent / "shared" / "data")))
    args = parser.parse_args()
    vllm_python = args.vllm_python or next((str(p) for p in [REPO / ".venv-vllm" / "bin" / "python"] if p.exists()),
                                           None)
    from evalscope.models.transformers_local import TransformersBackend

    model = default_model_folder()
    requests = math_requests(args.limit, args.dataset_dir)
    config = RunConfig(model=str(model), eval_batch_size=args.batch_size, model_args=ModelArgs(precision="float32"),
                       generation=GenerationConfig(do_sample=False, max_new_tokens=args.max_new_tokens))
    start = time.perf_counter()
    backend = TransformersBackend(config, args.threads)
    print(f"MATH-500 minerva setup, {len(requests)} problems, batch {args.batch_size}, {args.max_new_tokens} new "
          f"tokens at most, greedy, fp32, {args.threads} threads, default model (loaded in "
          f"{time.perf_counter() - start:.1f} s)")
    runs: dict[str, tuple[float, list[Any]]] = {}
    for loop in ("batch", "refill", "generate"):
        backend.decoding, backend._kept_prefix = loop, None
        start = time.perf_counter()
        completions = in_order(backend.generate(requests))
        runs[loop] = time.perf_counter() - start, completions
        tokens = sum(c.completion_tokens for c in completions)
        print(f"  {loop:9s} {runs[loop][0]:7.1f} s  {tokens} tokens  {tokens / runs[loop][0]:6.1f} tokens/s")
    rate = {loop: sum(c.completion_tokens for c in cs) / s for loop, (s, cs) in runs.items()}
    v = None
    if vllm_python:
        tok = backend.tokenizer
        rows = [list(tok(backend.render(r), add_special_tokens=True)["input_ids"]) for r in requests]
        with tempfile.TemporaryDirectory() as tmp:
            v = run_vllm(vllm_python, model, rows, requests, args, Path(tmp))
    if v is not None:
        rate["vllm"] = sum(v["tokens"]) / v["seconds"]
        same = sum(replace_text(a) == replace_text(b) for a, b in
                   zip(v["texts"], (c.text for c in runs["generate"][1]), strict=True))
        print(f"  vllm      {v['seconds']:7.1f} s  {sum(v['tokens'])} tokens  {rate['vllm']:6.1f} tokens/s "
              f"(start-up {v['startup']:.1f} s apart; replies equal to model.generate's: {same}/{len(requests)})")
    print(f"ratio refill / batch loop (tokens/s): {rate['refill'] / rate['batch']:.2f}x")
    print(f"ratio refill / model.generate (tokens/s): {rate['refill'] / rate['generate']:.2f}x")
    if "vllm" in rate:
        print(f"ratio refill / vLLM steady state (tokens/s): {rate['refill'] / rate['vllm']:.2f}x")
    compare(backend, requests, runs)


def replace_text(text: str) -> str:
    """vLLM stops before the stop string as our cut does; both compared stripped of trailing space."""
    return text.rstrip()


def compare(backend: Any, requests: list[GenerationRequest], runs: dict[str, tuple[float, list[Any]]]) -> None:
    reference = runs["generate"][1]
    for loop in ("refill", "batch"):
        ours = runs[loop][1]
        same = sum(a.text == b.text for a, b in zip(ours, reference, strict=True))
        print(f"{loop}: replies identical to model.generate's {same}/{len(reference)}")
        for i, (a, b) in enumerate(zip(ours, reference, strict=True)):
            if a.text != b.text:
                prompt = backend.render(requests[i])
                note = parting(backend.model, backend.tokenizer, prompt, a.text, b.text, theirs="generate")
                print(f"  problem {i}: {note}")


if __name__ == "__main__":
    main()
