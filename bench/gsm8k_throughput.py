"""Generated tokens/s: the harness (`pytest benchmarks/gsm8k`) vs raw batched `model.generate`, same prompts, same run.

    python bench/gsm8k_throughput.py [--limit 24] [--batch-size 8] [--max-new-tokens 128] [--precision float32]

The baseline is what a hand-written script would do: the same rendered prompts (chat template included), in
dataset order, `batch-size` at a time, through `model.generate`. The harness run is a real pytest session in a
subprocess; its time is the session's (collection, model load from the converted cache, scoring, reports
included; interpreter start-up excluded). The baseline runs before and after it and the mean is used, since
this machine's speed drifts. Prints both rates and their ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def baseline(prompts: list[str], folder: Path, batch: int, max_new: int, precision: str) -> tuple[int, float]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(os.cpu_count() or 1)
    tok = AutoTokenizer.from_pretrained(folder)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, precision)).eval()
    tokens, start = 0, time.perf_counter()
    for i in range(0, len(prompts), batch):
        enc = tok(prompts[i : i + batch], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, pad_token_id=tok.pad_token_id,
                                 stop_strings=["Question:"], tokenizer=tok)
        for row in out[:, enc["input_ids"].shape[1] :].tolist():
            end = next((j for j, t in enumerate(row) if t == tok.pad_token_id), len(row) - 1)
            tokens += min(end + 1, len(row))
    return tokens, time.perf_counter() - start


def harness(args: argparse.Namespace, work: Path) -> tuple[int, float, list[str]]:
    cmd = [sys.executable, "-m", "pytest", str(REPO / "benchmarks" / "gsm8k"), "-q", "-p", "no:cacheprovider",
           "--limit", str(args.limit), "--dataset-dir", str(args.dataset_dir), "--work-dir", str(work),
           "--eval-batch-size", str(args.batch_size), "--model-args", f"precision={args.precision}",
           "--generation-config", f"max_new_tokens={args.max_new_tokens}"]
    subprocess.run(cmd, check=False, cwd=REPO, capture_output=True)
    report_path = next(work.glob("*/report.json"))
    report = json.loads(report_path.read_text())
    records = [json.loads(line) for line in (report_path.parent / "predictions" / "gsm8k.jsonl").open()]
    started = dt.datetime.fromisoformat(report["run"]["started"])
    finished = dt.datetime.fromisoformat(report["run"]["finished"])
    prompts = [r["prompt"] for r in sorted(records, key=lambda r: r["index"])]
    return sum(r["completion_tokens"] for r in records), (finished - started).total_seconds(), prompts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--dataset-dir", type=Path,
                        default=Path(os.environ.get("EVALSCOPE_DATASET_DIR", REPO.parent / "shared" / "data")))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from evalscope.models import resolve

    folder, _ = resolve.converted_gguf(resolve.default_model_file())
    with tempfile.TemporaryDirectory() as tmp:
        # The harness run first: it also yields the exact rendered prompts the baseline then replays.
        h_tokens, h_time, prompts = harness(args, Path(tmp))
    b1 = baseline(prompts, folder, args.batch_size, args.max_new_tokens, args.precision)
    with tempfile.TemporaryDirectory() as tmp:
        h2_tokens, h2_time, _ = harness(args, Path(tmp))
    b2 = baseline(prompts, folder, args.batch_size, args.max_new_tokens, args.precision)
    base_rate = (b1[0] + b2[0]) / (b1[1] + b2[1])
    harness_rate = (h_tokens + h2_tokens) / (h_time + h2_time)
    print(f"prompts={len(prompts)} batch={args.batch_size} max_new_tokens={args.max_new_tokens} "
          f"precision={args.precision} load={os.getloadavg()[0]:.2f}")
    print(f"baseline model.generate: {b1[0] + b2[0]} tokens in {b1[1] + b2[1]:.1f} s = {base_rate:.1f} tok/s")
    print(f"harness (pytest session): {h_tokens + h2_tokens} tokens in {h_time + h2_time:.1f} s "
          f"= {harness_rate:.1f} tok/s")
    print(f"ratio harness/baseline: {harness_rate / base_rate:.3f}")


if __name__ == "__main__":
    main()
