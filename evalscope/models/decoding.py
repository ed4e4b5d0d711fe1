"""Batched decoding for the transformers backend: a shared prompt prefix run once, KV written in place, done rows
dropped.

`model.generate` on a CPU spends most of a step on memory traffic that is not the model's: its cache concatenates
every layer's keys and values each step (a copy of the whole cache), SDPA with a padding mask repeats the KV heads
of a grouped-query model, every row of a batch decodes padding until the longest one ends, and each row's prompt runs
in full although a few-shot preamble is the same for all. This loop calls the model's own forward (weights, rotary
positions and logits unchanged) with:

- the longest prefix the rows share computed once (batch 1) and copied into every row's cache; the rest of each
  prompt is left-padded to the longest rest, so padding sits between the prefix and the rest ("middle padding")
  and positions run on as if each prompt had been fed alone;
- a cache allocated once for the longest row, written in place (`SlotCache`);
- a float padding mask per step (additive, so `eager` attention reads it as `sdpa` does);
- rows that ended (EOS, stop string) removed from the batch, with their cache rows.

Greedy outputs equal `model.generate`'s up to float rounding (different matmul shapes); tests compare the two.
Models this layout does not fit (sliding-window or recurrent layers, encoder-decoders) keep `model.generate`:
`supported` says which.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.cache_utils import Cache, DynamicLayer

from evalscope.config import GenerationConfig


class SlotLayer(DynamicLayer):
    """One layer's keys and values in buffers allocated once (rows x heads x capacity x dim); a step writes its
    column in place and attention reads a view of the filled part, so no step copies the cache."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self.filled = 0

    def allocate(self, rows: int, like: torch.Tensor) -> None:
        shape = (rows, like.shape[1], self.capacity, like.shape[3])
        self.key_buffer = torch.zeros(shape, dtype=like.dtype, device=like.device)
        self.value_buffer = torch.zeros_like(self.key_buffer)
        self.dtype, self.device = like.dtype, like.device
        self.is_initialized = True

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.allocate(key_states.shape[0], key_states)
        end = self.filled + key_states.shape[2]
        self.key_buffer[:, :, self.filled : end] = key_states
        self.value_buffer[:, :, self.filled : end] = value_states
        self.filled = end
        self.keys, self.values = self.key_buffer[:, :, :end], self.value_buffer[:, :, :end]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.filled

    def keep(self, rows: torch.Tensor) -> None:
        self.key_buffer = self.key_buffer.index_select(0, rows)
        self.value_buffer = self.value_buffer.index_select(0, rows)
        self.keys, self.values = self.key_buffer[:, :, : self.filled], self.value_buffer[:, :, : self.filled]


class SlotCache(Cache):
    """A model's cache of `SlotLayer`s, seeded with a shared prefix's keys and values for every row."""

    def __init__(self, layers: int, capacity: int) -> None:
        super().__init__(layers=[SlotLayer(capacity) for _ in range(layers)])

    def seed(self, rows: int, prefix: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> None:
        for layer, (keys, values) in zip(self.layers, prefix, strict=True):
            assert isinstance(layer, SlotLayer)
            layer.allocate(rows, keys)
            layer.key_buffer[:, :, : keys.shape[2]] = keys  # broadcast over the rows
            layer.value_buffer[:, :, : keys.shape[2]] = values
            layer.filled = keys.shape[2]

    def keep(self, rows: torch.Tensor) -> None:
        for layer in self.layers:
            assert isinstance(layer, SlotLayer)
            layer.keep(rows)


def supported(model: Any) -> bool:
    """Whether every layer is full causal attention over one KV cache (the layout `decode` writes)."""
    config = model.config
    if getattr(config, "is_encoder_decoder", False) or not hasattr(model, "get_output_embeddings"):
        return False
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None:
        return all(kind == "full_attention" for kind in layer_types)
    return getattr(config, "sliding_window", None) is None or getattr(config, "use_sliding_window", True) is False


def processors(gen: GenerationConfig) -> LogitsProcessorList:
    """`model.generate`'s logits processors for our settings, in its order (penalty, then the sampling warpers)."""
    steps: list[Any] = []
    if gen.repetition_penalty != 1.0:
        steps.append(RepetitionPenaltyLogitsProcessor(gen.repetition_penalty))
    if gen.do_sample:
        if gen.temperature not in (0.0, 1.0):
            steps.append(TemperatureLogitsWarper(gen.temperature))
        if gen.top_k:
            steps.append(TopKLogitsWarper(gen.top_k))
        if gen.top_p < 1.0:
            steps.append(TopPLogitsWarper(gen.top_p))
    return LogitsProcessorList(steps)


@dataclass(frozen=True)
class Decoded:
    """One row's generated tokens (the ending EOS included) and why it ended: `stop` or `length`."""

    tokens: list[int]
    reason: str
    logprobs: list[float]
    """Each token's log-probability under the model's own distribution (before any penalty or warper)."""


Prefix = tuple[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]]
"""A shared prefix's tokens and, per layer, its keys and values (batch 1)."""


def prefix_kv(model: Any, tokens: Sequence[int]) -> Prefix:
    """Run `tokens` once; their per-layer keys and values, to seed any number of rows."""
    with torch.inference_mode():
        ids = torch.tensor([list(tokens)], device=model.device)
        cache = model(input_ids=ids, use_cache=True, logits_to_keep=1).past_key_values
    return tuple(tokens), [(layer.keys, layer.values) for layer in cache.layers]


def decode(model: Any, rows: Sequence[Sequence[int]], prefix: Prefix | None, gen: GenerationConfig,
           ends: set[int], stopped: Callable[[list[int]], bool], pad: int,
           on_step: Callable[[int], None] | None = None) -> list[Decoded]:
    """Generate for every row of token ids at once. `prefix` (its tokens start every row) is reused, not recomputed;
    `stopped(tokens)` says whether a row's tokens so far end in a stop string."""
    device = model.device
    shared = len(prefix[0]) if prefix is not None else 0
    rests = [list(row[shared:]) for row in rows]
    assert all(rests), "every row needs a token after the shared prefix (it predicts the first new one)"
    width = max(len(rest) for rest in rests)
    batch = len(rows)
    start = shared + width
    cache = SlotCache(model.config.num_hidden_layers, start + gen.max_new_tokens)
    if prefix is not None:
        cache.seed(batch, prefix[1])
    dtype = model.dtype
    blocked = torch.finfo(dtype).min
    # Which cache columns each row may attend to: the prefix, its own (right-aligned) rest, what it generates.
    visible = torch.zeros((batch, start + gen.max_new_tokens), dtype=torch.bool, device=device)
    visible[:, :shared] = True
    ids = torch.full((batch, width), pad, dtype=torch.long, device=device)
    positions = torch.full((batch, width), shared, dtype=torch.long, device=device)
    for b, rest in enumerate(rests):
        ids[b, width - len(rest) :] = torch.tensor(rest, device=device)
        positions[b, width - len(rest) :] = torch.arange(shared, shared + len(rest), device=device)
        visible[b, start - len(rest) : start] = True
    causal = torch.ones((width, width), dtype=torch.bool, device=device).tril()
    allowed = visible[:, None, None, :start].repeat(1, 1, width, 1)
    allowed[:, 0, :, shared:start] &= causal
    # A padding query would see nothing (NaN); it sees itself, and its output is never read.
    allowed[:, 0, torch.arange(width), shared + torch.arange(width)] = True
    mask = torch.zeros(allowed.shape, dtype=dtype, device=device).masked_fill_(~allowed, blocked)
    logits_processors = processors(gen)
    # The penalty's view of a row: its whole prompt then its tokens, as `model.generate` passes them.
    history = [torch.tensor(list(row), device=device) for row in rows]
    out: list[list[int]] = [[] for _ in rows]
    logprobs: list[list[float]] = [[] for _ in rows]
    reasons: list[str] = ["length"] * batch
    live = list(range(batch))
    next_position = torch.tensor([shared + len(rest) for rest in rests], device=device)
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                       use_cache=True, logits_to_keep=1).logits[:, -1]
        for step in range(gen.max_new_tokens):
            scores = logits.float()
            if len(logits_processors):
                width_now = max(len(history[b]) for b in live)
                seen = torch.stack([torch.nn.functional.pad(history[b], (width_now - len(history[b]), 0),
                                                            value=pad) for b in live])
                scores = logits_processors(seen, scores)  # type: ignore[arg-type]  # a LongTensor at run time
            if gen.do_sample:
                chosen = torch.multinomial(torch.softmax(scores, dim=-1), 1)[:, 0]
            else:
                chosen = scores.argmax(dim=-1)
            if on_step is not None:
                on_step(1)
            own = torch.log_softmax(logits.float(), dim=-1).gather(1, chosen[:, None])[:, 0].tolist()
            keep = []
            for k, (b, token) in enumerate(zip(live, chosen.tolist(), strict=True)):
                out[b].append(token)
                logprobs[b].append(own[k])
                if logits_processors:
                    history[b] = torch.cat([history[b], chosen[k : k + 1]])
                if token in ends or stopped(out[b]):
                    reasons[b] = "stop"
                else:
                    keep.append(k)
            if not keep or step == gen.max_new_tokens - 1:
                break
            column = start + step
            if len(keep) < len(live):
                rows_kept = torch.tensor(keep, device=device)
                cache.keep(rows_kept)
                visible, next_position, chosen = visible[rows_kept], next_position[rows_kept], chosen[rows_kept]
                live = [live[k] for k in keep]
            visible[:, column] = True
            step_mask = torch.zeros((len(live), 1, 1, column + 1), dtype=dtype, device=device)
            step_mask.masked_fill_(~visible[:, None, None, : column + 1], blocked)
            logits = model(input_ids=chosen[:, None], attention_mask=step_mask, position_ids=next_position[:, None],
                           past_key_values=cache, use_cache=True, logits_to_keep=1).logits[:, -1]
            next_position = next_position + 1
    return [Decoded(*fields) for fields in zip(out, reasons, logprobs, strict=True)]
