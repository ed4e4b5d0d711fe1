"""Generated tokens/s: the harness (`pytest benchmarks/gsm8k`) vs raw batched `model.generate`, same prompts, same run.

    python bench/gsm8k_throughput.py [--limit 24] [--batch-size 8] [--max-new-tokens 128] [--precision float32]

The baseline is what a hand-written script would do: import torch and transformers, load the converted model,
and feed the same rendered prompts (chat template included), in dataset order, `batch-size` at a time, through
`model.generate`. The harness run is a real `pytest benchmarks/gsm8k` session. Both run as subprocesses and
are timed from launch to exit, so each pays for its own imports and model load: the difference is the harness's
overhead (collection, data loading, scheduling, scoring, reports). They alternate twice and the sums are used,
since this machine's speed drifts. Prints both rates and their ratio.
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

REPO = Path(__file__).resolve().parent.parent


def baseline_worker(prompts: list[str], folder: Path, batch: int, max_new: int, precision: str) -> int:
    """Runs in its own process: the plain script a user would write. Returns generated tokens."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(os.cpu_count() or 1)
    tok = AutoTokenizer.from_pretrained(folder)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, precision)).eval()
    tokens = 0
    for i in range(0, len(prompts), batch):
        enc = tok(prompts[i : i + batch], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, pad_token_id=tok.pad_token_id,
                                 stop_strings=["Question:"], tokenizer=tok)
        for row in out[:, enc["input_ids"].shape[1] :].tolist():
            end = next((j for j, t in enumerate(row) if t == tok.pad_token_id), len(row) - 1)
            tokens += min(end + 1, len(row))
    return tokens


def baseline(prompts: list[str], folder: Path, args: argparse.Namespace, tmp: Path) -> tuple[int, float]:
    (tmp / "prompts.json").write_text(json.dumps(prompts))
    cmd = [sys.executable, __file__, "--baseline-worker", str(tmp / "prompts.json"), "--model-folder", str(folder),
           "--batch-size", str(args.batch_size), "--max-new-tokens", str(args.max_new_tokens),
           "--precision", args.precision]
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1]), time.perf_counter() - start


def harness(args: argparse.Namespace, work: Path) -> tuple[int, float, list[str]]:
    cmd = [sys.executable, "-m", "pytest", str(REPO / "benchmarks" / "gsm8k"), "-q", "-p", "no:cacheprovider",
           "--limit", str(args.limit), "--dataset-dir", str(args.dataset_dir), "--work-dir", str(work),
           "--eval-batch-size", str(args.batch_size), "--model-args", f"precision={args.precision}",
           "--generation-config", f"max_new_tokens={args.max_new_tokens}"]
    start = time.perf_counter()
    subprocess.run(cmd, check=False, cwd=REPO, capture_output=True)
    elapsed = time.perf_counter() - start
    report_path = next(work.glob("*/report.json"))
    report = json.loads(report_path.read_text())
    records = [json.loads(line) for line in (report_path.parent / "predictions" / "gsm8k.jsonl").open()]
    assert report["run"]["predicted"] == args.limit
    prompts = [r["prompt"] for r in sorted(records, key=lambda r: r["index"])]
    return sum(r["completion_tokens"] for r in records), elapsed, prompts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--dataset-dir", type=Path,
                        default=Path(os.environ.get("EVALSCOPE_DATASET_DIR", REPO.parent / "shared" / "data")))
    parser.add_argument("--baseline-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model-folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.baseline_worker:
        prompts = json.loads(args.baseline_worker.read_text())
        print(baseline_worker(prompts, args.model_folder, args.batch_size, args.max_new_tokens, args.precision))
        return
    from evalscope.models import resolve

    folder, _ = resolve.converted_gguf(resolve.default_model_file())
    with tempfile.TemporaryDirectory() as tmp:
        # The harness runs first: it also yields the exact rendered prompts the baseline then replays.
        h_tokens, h_time, prompts = harness(args, Path(tmp) / "h1")
        b1 = baseline(prompts, folder, args, Path(tmp))
        h2_tokens, h2_time, _ = harness(args, Path(tmp) / "h2")
        b2 = baseline(prompts, folder, args, Path(tmp))
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
