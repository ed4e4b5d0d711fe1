"""Which device a process computes on: GPUs shared out to xdist workers, the dtype, and batches sized to the card.

Everything here is a plain function of what it is given (GPU ids, worker index, memory, model shape), so the
rules are tested without a GPU; the few calls into torch sit at the edges (`cuda_available`, `free_memory`).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any

CPU_BATCH = 8
"""Samples per batch on a CPU (and the `--eval-batch-size` default)."""
AUTO_GROUP = 256
"""Samples per group with `--eval-batch-size auto` on a GPU: the backend then cuts the group into batches that
fit the card's free memory."""
Environ = MutableMapping[str, str]
MEMORY_SHARE = 0.8
"""Share of the free GPU memory (after loading the weights) that a batch's KV cache and activations may take."""


def visible_gpus(environ: Environ | None = None,
                 proc: Path = Path("/proc/driver/nvidia/gpus")) -> list[str]:
    """The GPU ids this process may use, without importing torch or initialising CUDA: CUDA_VISIBLE_DEVICES when
    set (an empty value hides every GPU), else the driver's list of cards."""
    env = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in env:
        return [g.strip() for g in env["CUDA_VISIBLE_DEVICES"].split(",") if g.strip() and g.strip() != "-1"]
    return [str(i) for i in range(len(list(proc.iterdir())))] if proc.is_dir() else []


def worker_index(worker_id: str) -> int:
    """`gw3` -> 3 (xdist's worker ids)."""
    return int(worker_id.removeprefix("gw"))


def worker_gpus(index: int, gpus: Sequence[str], per_worker: int = 1) -> list[str]:
    """The cards worker `index` takes: group `index mod G` of `per_worker` consecutive cards (one card, or a
    tensor-parallel group); workers beyond the number of groups share them round-robin."""
    groups = [list(gpus[i : i + per_worker]) for i in range(0, len(gpus) - per_worker + 1, per_worker)]
    return groups[index % len(groups)] if groups else []


def pin_worker(worker_id: str, per_worker: int = 1, environ: Environ | None = None) -> list[str]:
    """Give xdist worker `gwK` its cards through CUDA_VISIBLE_DEVICES (before CUDA is initialised there); the
    cards, or [] where no GPU is visible."""
    env = os.environ if environ is None else environ
    gpus = visible_gpus(env)
    mine = worker_gpus(worker_index(worker_id), gpus, per_worker)
    if mine:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(mine)
    return mine


def sharing_warning(workers: int, gpus: int, per_worker: int = 1) -> str | None:
    """A warning when xdist workers outnumber the GPU groups (they then share cards), else None."""
    groups = gpus // per_worker
    if groups == 0 or workers <= groups:
        return None
    return (f"{workers} xdist workers on {groups} GPU{'s' if groups > 1 else ''}: up to {-(-workers // groups)} "
            "workers per GPU share its memory and compute (-n auto gives one worker per GPU)")


def auto_workers(gpus: int, per_worker: int = 1) -> int | None:
    """`-n auto`: one worker per GPU (or tensor-parallel group) when there are GPUs; None lets xdist count cores."""
    return max(1, gpus // per_worker) if gpus else None


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(device_map: str, cuda: bool) -> str:
    """`auto` is the GPU when torch sees one, else the CPU; anything else is passed on as given."""
    if device_map != "auto":
        return device_map
    return "cuda" if cuda else "cpu"


def resolve_dtype(precision: str, on_gpu: bool, config_dtype: str | None) -> str:
    """`auto`: the model config's dtype on a GPU (usually bfloat16; float32 when the config names none), float32
    on a CPU, where scores must stay comparable with lm-eval's fp32 numbers. Explicit precisions are kept."""
    if precision != "auto":
        return precision
    if not on_gpu:
        return "float32"
    name = (config_dtype or "float32").removeprefix("torch.")
    return name if name in ("float32", "bfloat16", "float16") else "float32"


def config_dtype(config: Any) -> str | None:
    """The dtype a transformers config declares (`dtype`, formerly `torch_dtype`)."""
    value = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    return None if value is None else str(value)


def kv_bytes_per_token(layers: int, kv_heads: int, head_dim: int, dtype_bytes: int) -> int:
    """KV cache of one token: a key and a value per layer and KV head."""
    return 2 * layers * kv_heads * head_dim * dtype_bytes


def model_kv_bytes(config: Any, dtype_bytes: int) -> int:
    """`kv_bytes_per_token` from a transformers config (grouped-query attention included)."""
    heads = int(config.num_attention_heads)
    head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // heads)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    return kv_bytes_per_token(int(config.num_hidden_layers), kv_heads, head_dim, dtype_bytes)


def token_budget(free_bytes: int, kv_per_token: int, hidden_bytes_per_token: int = 0,
                 share: float = MEMORY_SHARE) -> int:
    """Tokens (rows x padded width) one batch may hold: a share of the free memory over what a token costs
    (its KV cache and, for scoring, its activations)."""
    per_token = max(1, kv_per_token + hidden_bytes_per_token)
    return max(1, int(free_bytes * share) // per_token)


def rows_that_fit(budget: int, width: int, minimum: int = 1) -> int:
    """Rows of `width` tokens (prompt plus what is generated) within `budget` tokens; at least `minimum`."""
    return max(minimum, budget // max(1, width))


def free_memory(device: str) -> int:
    """Free bytes on a CUDA device (after the weights are loaded)."""
    import torch

    free, _ = torch.cuda.mem_get_info(torch.device(device))
    return int(free)
