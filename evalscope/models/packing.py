"""Shared-context packing: one sequence holds a context and every choice after it, so the context runs once.

For a context c_1..c_C and choices whose tokens are t_i1..t_iL, the packed row is the context followed by
each choice's tokens *except its last* (the last token is only ever a target, never an input). A choice's
tokens see the context and their own earlier tokens, never another choice's, and take the positions
C, C+1, ... they would have in `context + choice` alone; so each choice's log-probabilities are those of a
separate forward pass, computed from C + sum(L_i - 1) tokens instead of sum(C + L_i).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Packed:
    """One context with its choices, laid out as a single row."""

    tokens: list[int]
    positions: list[int]
    segment: list[int]
    """-1 for context tokens, else the index of the choice the token belongs to."""
    targets: list[list[tuple[int, int]]]
    """Per choice: (row index whose output predicts the token, token id), in order."""
    context_len: int

    def __len__(self) -> int:
        return len(self.tokens)


def pack(context: Sequence[int], choices: Sequence[Sequence[int]]) -> Packed:
    if not context:
        raise ValueError("an empty context cannot be scored (the first token has no prediction)")
    if any(not c for c in choices):
        raise ValueError("a continuation encodes to zero tokens")
    tokens, positions, segment = list(context), list(range(len(context))), [-1] * len(context)
    targets = []
    for index, choice in enumerate(choices):
        previous = len(context) - 1
        wanted = []
        for j, token in enumerate(choice):
            wanted.append((previous, int(token)))
            if j < len(choice) - 1:
                previous = len(tokens)
                tokens.append(int(token))
                positions.append(len(context) + j)
                segment.append(index)
        targets.append(wanted)
    return Packed(tokens, positions, segment, targets, len(context))


def attention_mask(rows: Sequence[Packed], width: int) -> np.ndarray:
    """Boolean (batch, 1, width, width) mask, True where a query may attend to a key.

    Causal within the context; a choice token attends to the whole context and to its own choice's
    earlier tokens. Padding rows attend only to themselves (a fully masked row would give NaN).
    """
    mask = np.zeros((len(rows), 1, width, width), dtype=bool)
    causal = np.tril(np.ones((width, width), dtype=bool))
    for b, row in enumerate(rows):
        n = len(row)
        seg = np.full(width, -2)
        seg[:n] = row.segment
        same = (seg[:, None] == seg[None, :]) | (seg[None, :] == -1)
        mask[b, 0] = causal & same
        mask[b, 0, :, n:] = False
        mask[b, 0, n:, :] = False
        pad = np.arange(n, width)
        mask[b, 0, pad, pad] = True
    return mask


def shared_prefix(rows: Sequence[Packed]) -> int:
    """Tokens every row starts with that can be computed once for all (e.g. a few-shot preamble).

    Stops one token before the shortest context: that last context token predicts the first choice token, so
    its output is needed per row.
    """
    return common_prefix([r.tokens for r in rows], min(r.context_len for r in rows) - 1)


def common_prefix(rows: Sequence[Sequence[int]], limit: int) -> int:
    """How many leading tokens (at most `limit`) every row has in common."""
    first = rows[0]
    n = 0
    while n < limit and all(r[n] == first[n] for r in rows[1:]):
        n += 1
    return n
