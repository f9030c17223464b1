"""Batching: padded batches and padding-free packing.

Packed rows carry ``position_ids`` that restart at 0 for each example and no attention
mask; transformers (>= 4.56) then builds a block-diagonal causal mask from the position
resets, so packed examples never attend to each other. The loss is identical to the
unpacked batch (tests/unit/test_collate.py checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from .render import IGNORE, Example


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T)
    labels: torch.Tensor  # (B, T), IGNORE where no loss; labels[t] is the target at t
    attention_mask: torch.Tensor | None  # (B, T) for padded batches; None for packed rows
    position_ids: torch.Tensor  # (B, T)
    real: torch.Tensor  # (B, T) bool, non-pad tokens

    @property
    def n_loss_tokens(self) -> int:
        return int((self.labels != IGNORE).sum())

    @property
    def n_tokens(self) -> int:
        return int(self.real.sum())


def pad_batch(examples: Sequence[Example], pad_id: int, side: str = "right") -> Batch:
    """Pad to the longest example. Right padding for training (left for generation)."""
    if not examples:
        raise ValueError("pad_batch needs at least one example")
    T = max(len(e) for e in examples)
    B = len(examples)
    ids = torch.full((B, T), pad_id, dtype=torch.long)
    labels = torch.full((B, T), IGNORE, dtype=torch.long)
    mask = torch.zeros((B, T), dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e)
        sl = slice(0, n) if side == "right" else slice(T - n, T)
        ids[i, sl] = torch.tensor(e.input_ids)
        labels[i, sl] = torch.tensor(e.labels)
        mask[i, sl] = 1
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    return Batch(input_ids=ids, labels=labels, attention_mask=mask, position_ids=pos, real=mask.bool())


def pack_rows(examples: Sequence[Example], max_tokens: int) -> list[list[Example]]:
    """Greedy first-fit packing of examples (in order) into rows of <= ``max_tokens``."""
    rows: list[list[Example]] = []
    room: list[int] = []
    for e in examples:
        if len(e) > max_tokens:
            raise ValueError(f"example of {len(e)} tokens does not fit a packed row of {max_tokens}")
        for i, r in enumerate(room):
            if len(e) <= r:
                rows[i].append(e)
                room[i] -= len(e)
                break
        else:
            rows.append([e])
            room.append(max_tokens - len(e))
    return rows


def pack_batch(examples: Sequence[Example], max_tokens: int, pad_id: int) -> Batch:
    """Pack examples into as few rows as fit ``max_tokens``; pad only the row ends.

    Each example gets positions 0..n-1. The tail padding forms its own segment (its
    positions also restart at 0), carries no loss, and is never attended by real tokens.
    """
    rows = pack_rows(examples, max_tokens)
    T = max(sum(len(e) for e in r) for r in rows)
    B = len(rows)
    ids = torch.full((B, T), pad_id, dtype=torch.long)
    labels = torch.full((B, T), IGNORE, dtype=torch.long)
    pos = torch.zeros((B, T), dtype=torch.long)
    real = torch.zeros((B, T), dtype=torch.bool)
    for i, row in enumerate(rows):
        t = 0
        for e in row:
            n = len(e)
            ids[i, t : t + n] = torch.tensor(e.input_ids)
            labels[i, t : t + n] = torch.tensor(e.labels)
            pos[i, t : t + n] = torch.arange(n)
            real[i, t : t + n] = True
            t += n
        pos[i, t:] = torch.arange(T - t)
    return Batch(input_ids=ids, labels=labels, attention_mask=None, position_ids=pos, real=real)
