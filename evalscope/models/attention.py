"""SDPA that reads grouped KV heads in place on a CPU, registered with transformers as `evalscope_sdpa`.

transformers' SDPA path repeats a grouped-query model's KV heads whenever there is a mask (`repeat_kv`: a copy of
the whole cache per layer per step), because CUDA kernels fall back to the math path with `enable_gqa` and a mask.
PyTorch's CPU kernel takes `enable_gqa` with a mask at full speed and gives bit-identical outputs, so on a CPU we
pass it; everything else (GPU, no mask, no grouping) goes to transformers' own function unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

NAME = "evalscope_sdpa"


def sdpa_grouped(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                 attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                 is_causal: bool | None = None, **kwargs: Any) -> tuple[torch.Tensor, None]:
    grouped = getattr(module, "num_key_value_groups", 1) > 1
    if not grouped or attention_mask is None or query.device.type != "cpu" or kwargs.get("position_bias") is not None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    out = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask,
                                                           dropout_p=dropout, scale=scaling, enable_gqa=True)
    return out.transpose(1, 2).contiguous(), None


AttentionInterface.register(NAME, sdpa_grouped)
AttentionMaskInterface.register(NAME, sdpa_mask)


def use_grouped(model: Any) -> None:
    """Switch a model loaded with transformers' SDPA to this one (other implementations are left alone)."""
    if getattr(model.config, "_attn_implementation", None) == "sdpa":
        model.set_attn_implementation(NAME)
