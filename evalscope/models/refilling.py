"""Continuous batching for the transformers backend: a row that ends hands its slot to the next prompt at once.

`decoding.decode` runs a batch until its longest reply ends, at a fraction of its width once most rows are done
(a MATH batch where some replies stop at 50 tokens and others run to 1024). Here a batch is a number of slots over
a queue of prompts, longest first. When a row ends, the next prompt's rest (what follows the shared prefix, whose
keys and values every slot keeps) runs alone in that slot, a batch-1 prefill whose matmuls are as wide as the
prompt, and the row joins the next decode step; rows leave the batch only once the queue is empty.

Each slot holds its tokens left-aligned (prefix, rest, reply), so positions are columns, a decode step writes
every row's new column at that row's own length, and attention reads up to the longest row, the rest masked.
Greedy outputs equal `model.generate`'s up to float rounding (tests compare the two); `decoding.supported` says
which models this layout fits, as for `decoding.decode`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from transformers.cache_utils import Cache

from evalscope.config import GenerationConfig
from evalscope.models.decoding import Decoded, Prefix, SlotLayer, processors


class RowLayer(SlotLayer):
    """One layer's keys and values, slots x heads x capacity x dim, allocated once (as the batch loop's). A prefill
    writes one slot's columns from `start`; a decode step writes each row's column at its own length (`columns`)."""

    def __init__(self, slots: int, capacity: int) -> None:
        super().__init__(capacity)
        self.slots = slots
        self.prefill: tuple[int, int] | None = None
        """(slot, first column) while one slot's prompt runs; None during a decode step."""
        self.columns = torch.zeros(0, dtype=torch.long)
        self.width = 0
        """Columns a decode step attends over: the longest row's, the new one included."""

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.allocate(self.slots, key_states)
        if self.prefill is not None:
            slot, start = self.prefill
            end = start + key_states.shape[2]
            self.key_buffer[slot, :, start:end] = key_states[0]
            self.value_buffer[slot, :, start:end] = value_states[0]
            return self.key_buffer[slot : slot + 1, :, :end], self.value_buffer[slot : slot + 1, :, :end]
        rows = torch.arange(key_states.shape[0], device=key_states.device)
        self.key_buffer[rows, :, self.columns] = key_states[:, :, 0]
        self.value_buffer[rows, :, self.columns] = value_states[:, :, 0]
        return self.key_buffer[:, :, : self.width], self.value_buffer[:, :, : self.width]

    def get_seq_length(self) -> int:
        return self.prefill[1] if self.prefill is not None else max(self.width - 1, 0)

    def keep(self, rows: torch.Tensor) -> None:
        self.key_buffer = self.key_buffer.index_select(0, rows)
        self.value_buffer = self.value_buffer.index_select(0, rows)
        self.slots = len(rows)


class RowCache(Cache):
    """A model's cache of `RowLayer`s; `prefill` and `step` say where the next forward writes."""

    def __init__(self, layers: int, slots: int, capacity: int) -> None:
        super().__init__(layers=[RowLayer(slots, capacity) for _ in range(layers)])

    def _rows(self) -> list[RowLayer]:
        return [layer for layer in self.layers if isinstance(layer, RowLayer)]

    def seed(self, prefix: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Every slot starts with the shared prefix's keys and values (batch 1, broadcast over the slots)."""
        for layer, (keys, values) in zip(self._rows(), prefix, strict=True):
            layer.allocate(layer.slots, keys)
            layer.key_buffer[:, :, : keys.shape[2]] = keys
            layer.value_buffer[:, :, : keys.shape[2]] = values

    def prefill(self, slot: int, start: int) -> None:
        for layer in self._rows():
            layer.prefill = (slot, start)

    def step(self, columns: torch.Tensor, width: int) -> None:
        for layer in self._rows():
            layer.prefill, layer.columns, layer.width = None, columns, width

    def keep(self, rows: torch.Tensor) -> None:
        for layer in self._rows():
            layer.keep(rows)


def refill(model: Any, rows: Sequence[Sequence[int]], prefix: Prefix | None, gen: GenerationConfig, slots: int,
           ends: set[int], stopped: Callable[[int, list[int]], bool], pad: int,
           on_step: Callable[[int], None] | None = None) -> Iterator[tuple[int, Decoded]]:
    """Generate for every row of token ids, `slots` rows at a time, each (index, result) as soon as it ends.
    `prefix` (its tokens start every row) is reused, not recomputed; `stopped(index, tokens)` says whether a row's
    tokens so far end in one of its stop strings."""
    device = model.device
    shared = len(prefix[0]) if prefix is not None else 0
    rests = [list(row[shared:]) for row in rows]
    assert all(rests), "every row needs a token after the shared prefix (it predicts the first new one)"
    cache = RowCache(model.config.num_hidden_layers, min(slots, len(rows)),
                     shared + max(map(len, rests)) + gen.max_new_tokens)
    if prefix is not None:
        cache.seed(prefix[1])
    dtype = model.dtype
    blocked = torch.finfo(dtype).min
    chooser = processors(gen)
    # The penalty's view of a row: its whole prompt then its tokens, as `model.generate` passes them.
    history: dict[int, list[int]] = {}
    out: dict[int, list[int]] = {}
    logprobs: dict[int, list[float]] = {}
    done: list[tuple[int, Decoded]] = []
    queue = deque(range(len(rows)))
    holder: list[int | None] = []  # the row each slot decodes (None: the queue ran dry)
    lengths: list[int] = []  # columns each slot holds
    chosen: list[int] = []  # each slot's token, to feed at the next step

    def choose(logits: torch.Tensor, members: list[int]) -> list[int]:
        """Pick each member's next token (recording it and its logprob)."""
        scores = logits.float()
        if len(chooser):
            width = max(len(history[r]) for r in members)
            seen = torch.tensor([[pad] * (width - len(history[r])) + history[r] for r in members], device=device)
            scores = chooser(seen, scores)  # type: ignore[arg-type]  # a LongTensor at run time
        picked = (torch.multinomial(torch.softmax(scores, dim=-1), 1)[:, 0] if gen.do_sample
                  else scores.argmax(dim=-1))
        own = torch.log_softmax(logits.float(), dim=-1).gather(1, picked[:, None])[:, 0].tolist()
        tokens: list[int] = picked.tolist()
        for r, token, lp in zip(members, tokens, own, strict=True):
            out[r].append(token)
            logprobs[r].append(lp)
            if len(chooser):
                history[r].append(token)
        return tokens

    def ended(r: int) -> bool:
        reason = "stop" if out[r][-1] in ends or stopped(r, out[r]) else \
            "length" if len(out[r]) >= gen.max_new_tokens else None
        if reason is not None:
            done.append((r, Decoded(out.pop(r), reason, logprobs.pop(r))))
            history.pop(r, None)
        return reason is not None

    def admit(slot: int) -> None:
        """Give `slot` the next prompt that does not end at its first token (or None when the queue is dry)."""
        while queue:
            r = queue.popleft()
            rest = rests[r]
            out[r], logprobs[r] = [], []
            if len(chooser):
                history[r] = list(rows[r])
            n = len(rest)
            allowed = torch.ones((n, shared + n), dtype=torch.bool, device=device)
            allowed[:, shared:] = allowed[:, shared:].tril()
            mask = torch.zeros((1, 1, n, shared + n), dtype=dtype, device=device).masked_fill_(~allowed, blocked)
            cache.prefill(slot, shared)
            logits = model(input_ids=torch.tensor([rest], device=device), attention_mask=mask,
                           position_ids=torch.arange(shared, shared + n, device=device)[None],
                           past_key_values=cache, use_cache=True, logits_to_keep=1).logits[:, -1]
            token = choose(logits, [r])[0]
            if not ended(r):
                holder[slot], lengths[slot], chosen[slot] = r, shared + n, token
                return
        holder[slot] = None

    def compact() -> None:
        """Drop the slots the queue could not refill, with their cache rows."""
        nonlocal holder, lengths, chosen
        live = [k for k, r in enumerate(holder) if r is not None]
        if len(live) < len(holder):
            if live:  # the last rows' cache is not copied: nothing reads it again
                cache.keep(torch.tensor(live, dtype=torch.long, device=device))
            holder, lengths, chosen = [holder[k] for k in live], [lengths[k] for k in live], [chosen[k] for k in live]

    with torch.inference_mode():
        for slot in range(min(slots, len(rows))):
            holder.append(None)
            lengths.append(0)
            chosen.append(pad)
            admit(slot)
        compact()
    yield from done
    done.clear()
    while holder:
        with torch.inference_mode():
            columns = torch.tensor(lengths, device=device)
            width = max(lengths) + 1
            cache.step(columns, width)
            mask = torch.zeros((len(holder), 1, 1, width), dtype=dtype, device=device)
            mask.masked_fill_(torch.arange(width, device=device)[None, None, None, :] > columns[:, None, None, None],
                              blocked)
            logits = model(input_ids=torch.tensor(chosen, device=device)[:, None], attention_mask=mask,
                           position_ids=columns[:, None], past_key_values=cache, use_cache=True,
                           logits_to_keep=1).logits[:, -1]
            members = [r for r in holder if r is not None]
            tokens = choose(logits, members)
            for k, (r, token) in enumerate(zip(members, tokens, strict=True)):
                lengths[k] += 1
                chosen[k] = token
                if ended(r):
                    admit(k)
            compact()
        if on_step is not None:
            on_step(1)
        yield from done
        done.clear()
