"""Local generation speed against lm-eval 0.4.13's HF backend: GSM8K (lm-eval setup), same weights, same batch.

    python bench/generation_speed.py --lmeval-python .venv-lmeval/bin/python [--limit 16] [--batch-size 8]
        [--max-new-tokens 256] [--vllm-python .venv-vllm/bin/python]

Both harnesses run the default model (the embedded SmolLM2-135M GGUF, converted to an HF folder) in fp32 on the
same problems: the first `limit` GSM8K test problems, 5-shot "Question:/Answer:" with the first five train problems
as exemplars (lm-eval reads our rows through its own gsm8k.yaml, with `first_n` few-shot sampling so the prompts
are the same), raw text, greedy, `max_new_tokens`, the same batch size and 2 threads. Each is a fresh process timed
from launch to exit (imports, model load, prompts, generation, scoring, reports). Printed: both wall times and
their ratio, generated tokens/s, identical prompts and replies; for every reply that differs, the first token where
they part and both tokens' log-probabilities under a plain fp32 forward (a near-tie when they are within 0.05).
With `--vllm-python`, our session also runs with `--backend vllm` (vLLM's CPU build, in process) for tokens/s.
Run alone on the machine: it measures time.
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

from _lmeval import OFFLINE, REPO, default_model_folder, run_ours, tasks_root

from evalscope.config import DatasetArgs, RunConfig
from evalscope.schema import Sample
from evalscope.suite import Suite

NEAR_TIE = 0.05


def write_task(limit: int, data: Path, out: Path, root: str) -> None:
    """An lm-eval task over our first `limit` test problems, exemplars from the train split in our order."""
    config = RunConfig(dataset_dir=data, limit=limit, dataset_args={"gsm8k": DatasetArgs(setup="lm-eval")})
    suite = Suite.load("gsm8k", config)
    samples = [s for s in suite.samples if isinstance(s, Sample)][:limit]
    shots = suite.few_shot(samples[0])
    for name, rows in (("test", samples), ("train", shots)):
        (out / f"{name}.jsonl").write_text("".join(json.dumps({"question": s.input, "answer": s.metadata["answer"]})
                                                   + "\n" for s in rows), encoding="utf-8")
    (out / "es_gsm8k.yaml").write_text("\n".join([
        f"include: {root}/gsm8k/gsm8k.yaml", "task: es_gsm8k", "tag: []", "dataset_path: json", "dataset_name: null",
        "dataset_kwargs:", "  data_files:", f"    test: {out / 'test.jsonl'}", f"    train: {out / 'train.jsonl'}",
        "fewshot_config:", "  sampler: first_n"]) + "\n")


def run_lmeval(python: str, model: Path, task_dir: Path, out: Path, args: argparse.Namespace
               ) -> tuple[dict[int, dict[str, Any]], float]:
    cmd = [python, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={model},dtype=float32",
           "--tasks", "es_gsm8k", "--include_path", str(task_dir), "--device", "cpu",
           "--batch_size", str(args.batch_size), "--output_path", str(out), "--log_samples",
           "--gen_kwargs", f"max_gen_toks={args.max_new_tokens}"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env={**os.environ, **OFFLINE, "OMP_NUM_THREADS": str(args.threads)},
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"lm-eval failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-3:]}")
    records = {}
    for path in out.rglob("samples_es_gsm8k_*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            records[int(record["doc_id"])] = record
    return records, seconds


def parting(model: Any, tok: Any, prompt: str, ours: str, their_reply: str, theirs: str = "lm-eval") -> str:
    """Where two replies to one prompt part, in tokens, with both next tokens' log-probabilities."""
    import torch

    base = tok(prompt, add_special_tokens=False)["input_ids"]
    a = tok(prompt + ours, add_special_tokens=False)["input_ids"]
    b = tok(prompt + their_reply, add_special_tokens=False)["input_ids"]
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    if at >= min(len(a), len(b)):
        return f"one reply is a prefix of the other (token {at - len(base)} of the reply)"
    with torch.inference_mode():
        logits = model(torch.tensor([a[:at]])).logits[0, -1].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    gap = abs(float(logprobs[a[at]] - logprobs[b[at]]))
    verdict = "near-tie" if gap <= NEAR_TIE else "NOT a near-tie"
    return (f"token {at - len(base)} of the reply: ours {tok.decode([a[at]])!r} {float(logprobs[a[at]]):.4f}, "
            f"{theirs} {tok.decode([b[at]])!r} {float(logprobs[b[at]]):.4f} (gap {gap:.4f}: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmeval-python", required=True, help="python of an environment with lm-eval installed")
    parser.add_argument("--vllm-python", help="python of `make vllm`'s environment: also time --backend vllm")
    parser.add_argument("--limit", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dataset-dir", type=Path,
                        default=Path(os.environ.get("EVALSCOPE_DATASET_DIR", REPO.parent / "shared" / "data")))
    args = parser.parse_args()
    model_folder = default_model_folder()
    extra = ["--generation-config", f"do_sample=false,max_new_tokens={args.max_new_tokens}"]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "tasks").mkdir()
        write_task(args.limit, args.dataset_dir, tmp / "tasks", tasks_root(args.lmeval_python))
        theirs, lm_seconds = run_lmeval(args.lmeval_python, model_folder, tmp / "tasks", tmp / "lmeval", args)
        records, our_seconds = run_ours("gsm8k", ["main"], args.limit, model_folder, args.dataset_dir,
                                        tmp / "ours", args.batch_size, args.threads, "lm-eval", extra)
        vllm = None
        if args.vllm_python:
            vllm = run_ours("gsm8k", ["main"], args.limit, model_folder, args.dataset_dir, tmp / "vllm",
                            args.batch_size, args.threads, "lm-eval", [*extra, "--backend", "vllm"],
                            python=args.vllm_python)
    tokens = sum(r["completion_tokens"] for r in records)
    print(f"GSM8K lm-eval setup, {len(records)} problems, batch {args.batch_size}, {args.max_new_tokens} new tokens at "
          f"most, fp32, {args.threads} threads, default model")
    print(f"lm-eval 0.4.13 (hf):        {lm_seconds:7.1f} s")
    print(f"evalscope (transformers):   {our_seconds:7.1f} s  {tokens} tokens, {tokens / our_seconds:.1f} tokens/s "
          "(session wall time)")
    if vllm is not None:
        v_tokens = sum(r["completion_tokens"] for r in vllm[0])
        print(f"evalscope (vllm, in process): {vllm[1]:5.1f} s  {v_tokens} tokens, {v_tokens / vllm[1]:.1f} tokens/s")
    print(f"ratio lm-eval / evalscope: {lm_seconds / our_seconds:.2f}x")
    compare(records, theirs, model_folder)


def compare(records: list[dict[str, Any]], theirs: dict[int, dict[str, Any]], model_folder: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompts = replies = 0
    notes = []
    model = tok = None
    for record in sorted(records, key=lambda r: r["index"]):
        their = theirs[record["index"]]
        prompt, reply = their["arguments"]["gen_args_0"]["arg_0"], their["resps"][0][0]
        prompts += record["prompt"] == prompt
        replies += record["output"] == reply
        if record["output"] != reply:
            if model is None:
                torch.set_num_threads(2)
                tok = AutoTokenizer.from_pretrained(model_folder)
                model = AutoModelForCausalLM.from_pretrained(model_folder, dtype=torch.float32).eval()
            notes.append(f"  {record['sample_id']}: {parting(model, tok, prompt, record['output'], reply)}")
    n = len(records)
    print(f"identical prompts {prompts}/{n}, identical replies {replies}/{n}")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
