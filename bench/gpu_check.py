"""GPU check: packed loglikelihoods on CUDA, GPU against CPU, greedy text, and throughput against a naive forward.

    python bench/gpu_check.py --prepare .gpucheck          # here: model config, tokenizer and prompts (a few MB)
    python bench/gpu_check.py --files .gpucheck            # on the GPU machine (carry .gpucheck); ~3-6 min on an H200
    python bench/gpu_check.py --files .gpucheck --device cpu --limit 8   # a smoke run without a GPU

The default model's weights (98 MB) do not travel to a lent GPU, so the check builds a seeded random-weight model
from SmolLM2's config and tokenizer: the numbers compare code paths (packed vs unpacked, GPU vs CPU), not
quality. Prints one table:
- packed vs unpacked on the GPU: our loglikelihood path (context once, choices packed, 4D mask on CUDA SDPA)
  against one plain forward per choice (lm-eval's way), max |difference| and identical picks;
- GPU fp32 vs CPU fp32: our path on both (TF32 off), max |difference| and identical picks;
- greedy generation GPU vs CPU: identical-text rate over GSM8K prompts;
- ARC-Easy samples/s of our path against the naive forward, for `--eval-batch-size 8` and `auto`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
         "generation_config.json")


def prepare(target: Path, data: Path, limit: int) -> None:
    """Copy what the check needs (no weights) into `target`, a folder `run` can carry."""
    from evalscope.config import DatasetArgs, RunConfig
    from evalscope.models import resolve
    from evalscope.schema import Sample
    from evalscope.suite import Suite

    folder, _ = resolve.converted_gguf(resolve.default_model_file())
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if (folder / name).exists():
            shutil.copy(folder / name, target / name)
    arc = Suite.load("arc", RunConfig(dataset_dir=data, limit=limit,
                                      dataset_args={"arc": DatasetArgs(subset_list=("ARC-Easy",))}))
    gsm = Suite.load("gsm8k", RunConfig(dataset_dir=data, limit=min(limit, 32)))
    requests = {"arc": [{"context": r.context, "continuations": list(r.continuations)}
                        for r in (arc.request(s) for s in arc.samples if isinstance(s, Sample))],
                "gsm8k": [r.prompt for r in (gsm.request(s) for s in gsm.samples if isinstance(s, Sample))]}
    (target / "requests.json").write_text(json.dumps(requests))
    print(f"wrote {target}: {len(requests['arc'])} ARC-Easy and {len(requests['gsm8k'])} GSM8K requests")


def random_model(files: Path, out: Path) -> Path:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    for name in FILES:
        if (files / name).exists():
            shutil.copy(files / name, out / name)
    config = AutoConfig.from_pretrained(str(files))
    config.dtype = "float32"
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(out)
    return out


def naive_loglikelihoods(backend, requests) -> tuple[list[list[float]], float]:
    """One forward per choice over context + choice (lm-eval's loglikelihood), and the seconds it took."""
    import torch

    started, out = time.perf_counter(), []
    for request in requests:
        context, choices = backend.encode_choices(request)
        scores = []
        for choice in choices:
            with torch.inference_mode():
                logits = backend.model(torch.tensor([context + choice], device=backend.model.device)).logits[0]
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            scores.append(sum(float(logprobs[len(context) - 1 + j, t]) for j, t in enumerate(choice)))
        out.append(scores)
    if backend.device.startswith("cuda"):
        torch.cuda.synchronize()
    return out, time.perf_counter() - started


def ours(backend, requests) -> tuple[list[list[float]], float]:
    import torch

    from evalscope.models import in_order

    started = time.perf_counter()
    results = in_order(backend.loglikelihood(requests))
    if backend.device.startswith("cuda"):
        torch.cuda.synchronize()
    return [list(r.loglikelihoods) for r in results], time.perf_counter() - started


def compare(a: list[list[float]], b: list[list[float]]) -> tuple[float, int]:
    import numpy as np

    worst = max(max(abs(x - y) for x, y in zip(p, q, strict=True)) for p, q in zip(a, b, strict=True))
    same = sum(int(np.argmax(p)) == int(np.argmax(q)) for p, q in zip(a, b, strict=True))
    return worst, same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", type=Path, help="write the check's files into this folder and exit")
    parser.add_argument("--files", type=Path, help="a folder written by --prepare")
    parser.add_argument("--dataset-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=200, help="ARC-Easy questions (--prepare), GSM8K prompts <= 32")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu for a smoke run")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare, args.dataset_dir, args.limit)
        return
    import torch

    from evalscope.config import GenerationConfig, ModelArgs, RunConfig
    from evalscope.models import in_order
    from evalscope.models.transformers_local import TransformersBackend
    from evalscope.schema import ChoiceRequest, GenerationRequest

    stored = json.loads((args.files / "requests.json").read_text())
    arc = [ChoiceRequest(r["context"], tuple(r["continuations"])) for r in stored["arc"]][: args.limit]
    prompts = [GenerationRequest(p, chat=False) for p in stored["gsm8k"]][: args.limit]
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = random_model(args.files, Path(tmp))
        base = RunConfig(model=str(folder), generation=GenerationConfig(max_new_tokens=args.max_new_tokens))

        def backend(device: str, auto: bool = False) -> TransformersBackend:
            config = replace(base, model_args=ModelArgs(device_map=device, precision="float32"), batch_auto=auto,
                             eval_batch_size=256 if auto else 8)
            return TransformersBackend(config, torch.get_num_threads())

        gpu, cpu = backend(args.device), backend("cpu")
        rows.append(("device, dtype", f"{gpu.info()['device']}, {gpu.info()['dtype']} (TF32 off)"))
        packed, t_packed = ours(gpu, arc)
        naive, t_naive = naive_loglikelihoods(gpu, arc)
        worst, same = compare(packed, naive)
        rows.append(("packed vs unpacked (GPU)", f"max |diff| {worst:.2e}, same pick {same}/{len(arc)}"))
        on_cpu, _ = ours(cpu, arc)
        worst, same = compare(packed, on_cpu)
        rows.append(("GPU fp32 vs CPU fp32", f"max |diff| {worst:.2e}, same pick {same}/{len(arc)}"))
        texts_gpu = [c.text for c in in_order(gpu.generate(prompts))]
        texts_cpu = [c.text for c in in_order(cpu.generate(prompts))]
        identical = sum(a == b for a, b in zip(texts_gpu, texts_cpu, strict=True))
        rows.append(("greedy text GPU vs CPU", f"identical {identical}/{len(prompts)} ({args.max_new_tokens} tokens)"))
        rows.append(("samples/s, batch 8", f"ours {len(arc) / t_packed:.1f}, naive {len(arc) / t_naive:.1f}, "
                                           f"ratio {t_naive / t_packed:.2f}"))
        _, t_auto = ours(backend(args.device, auto=True), arc)
        rows.append(("samples/s, batch auto", f"ours {len(arc) / t_auto:.1f}, naive {len(arc) / t_naive:.1f}, "
                                              f"ratio {t_naive / t_auto:.2f}"))
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"| {k:<{width}} | {v} |" for k, v in rows))


if __name__ == "__main__":
    main()
