"""Scoring responses with a reward model: the shared-prompt packed row and the plain path.

Packed row (training and batched scoring). One row per prompt holds the prompt once, then
its K responses, each ending in EOS::

    tokens     p0 p1 p2 | a0 a1 EOS | b0 EOS | pad pad
    positions   0  1  2 |  3  4  5  |  3  4  |  0   0
    segment     0  0  0 |  1  1  1  |  2  2  |  -1  -1

A 4D additive mask lets token i see token j iff j <= i and j is in the prompt or in i's
own response; every response restarts its positions where the prompt ends. Each response
therefore sees exactly the context it would see alone, so its reward equals the plain
path's ``prompt + response`` reward (tests/reward/test_model.py), while the prompt is
encoded once and its gradient is accumulated once per prompt, not K times.

Plain path (``score_tokens``): padded ``prompt + response`` rows and a 2D mask, as PPO's
rollouts have them. All public scores are normalised with the checkpoint's gain and bias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

import torch

from instructrl.data.render import tokenize_prompt, tokenize_response
from instructrl.data.schemas import Prompt
from instructrl.models.heads import load_scalar_model, normalized_reward, reward_at_last, scalar_values, trained_scalar_path
from instructrl.models.attention import is_enabled as attention_is_enabled
from instructrl.models.logprobs import backbone, hidden_states, unwrap

CHAT_TEMPLATE_KEY = "instructrl_use_chat_template"  # how prompts were rendered in training


@dataclass
class PackedBatch:
    input_ids: torch.Tensor  # (B, T)
    attention_mask: torch.Tensor  # (B, 1, T, T) additive: 0 = attend, dtype-min = blocked
    position_ids: torch.Tensor  # (B, T)
    row: torch.Tensor  # (N,) row of each response's EOS, responses in prompt-major order
    col: torch.Tensor  # (N,) column of each response's EOS
    n_tokens: int  # real (non-pad) tokens
    pieces: list | None = None  # per row: the prompt, then each response seeing it (models/attention.py pieces)


def pack_groups(groups: Sequence[tuple[Sequence[int], Sequence[Sequence[int]]]], pad_id: int, dtype: torch.dtype = torch.float32) -> PackedBatch:
    """``[(prompt_ids, [response_ids, ...]), ...]`` -> one packed row per prompt (right padded).

    Responses must end with the token the reward is read at (EOS, ``tokenize_response``).
    """
    if not groups:
        raise ValueError("pack_groups needs at least one prompt")
    lengths = [len(p) + sum(len(r) for r in rs) for p, rs in groups]
    B, T = len(groups), max(lengths)
    ids = torch.full((B, T), pad_id, dtype=torch.long)
    pos = torch.zeros((B, T), dtype=torch.long)
    seg = torch.full((B, T), -1, dtype=torch.long)  # -1 pad, 0 prompt, k+1 response k
    rows, cols, pieces = [], [], []
    for b, (p, rs) in enumerate(groups):
        if not rs or any(len(r) == 0 for r in rs):
            raise ValueError(f"prompt {b}: every prompt needs at least one non-empty response")
        P = len(p)
        ids[b, :P] = torch.tensor(list(p), dtype=torch.long)
        pos[b, :P] = torch.arange(P)
        seg[b, :P] = 0
        t = P
        row_pieces = [(0, P, ())]
        pieces.append(row_pieces)
        for k, r in enumerate(rs):
            L = len(r)
            ids[b, t : t + L] = torch.tensor(list(r), dtype=torch.long)
            pos[b, t : t + L] = torch.arange(P, P + L)  # positions continue from the prompt end
            seg[b, t : t + L] = k + 1
            rows.append(b)
            cols.append(t + L - 1)  # the reward is read at the response's last token (EOS)
            row_pieces.append((t, t + L, ((0, P),)))
            t += L
    causal = torch.ones(T, T, dtype=torch.bool).tril()  # (T, T) j <= i
    si, sj = seg.unsqueeze(2), seg.unsqueeze(1)  # (B, T, 1), (B, 1, T)
    allowed = causal & (si >= 0) & ((sj == 0) | (sj == si))  # (B, T, T)
    # Pad queries see themselves only, so no softmax row is empty (NaN); nothing sees a pad.
    allowed |= torch.eye(T, dtype=torch.bool) & (si < 0)
    mask = torch.zeros((B, 1, T, T), dtype=dtype).masked_fill(~allowed.unsqueeze(1), torch.finfo(dtype).min)
    return PackedBatch(ids, mask, pos, torch.tensor(rows), torch.tensor(cols), int(sum(lengths)), pieces)


def packed_rewards(model: Any, batch: PackedBatch) -> torch.Tensor:
    """Raw rewards (N,) of every response in a packed batch, prompt-major order. The head is
    applied at the N EOS positions only."""
    dev = batch.input_ids.device
    if batch.pieces is not None and attention_is_enabled(backbone(model)):
        # Padding-free: all rows' real tokens in one row, each row's pieces shifted along.
        lengths = [max(e for _, e, _ in row) for row in batch.pieces]
        offsets = [0]
        for n in lengths[:-1]:
            offsets.append(offsets[-1] + n)
        ids = torch.cat([batch.input_ids[b, :n] for b, n in enumerate(lengths)]).unsqueeze(0)
        pos = torch.cat([batch.position_ids[b, :n] for b, n in enumerate(lengths)]).unsqueeze(0)
        pieces = [(o + s, o + e, tuple((o + a, o + c) for a, c in sees)) for o, row in zip(offsets, batch.pieces) for s, e, sees in row]
        h = hidden_states(model, ids, None, pos, pieces=[pieces])[0]  # (sum of lengths, C)
        h_eos = h[torch.tensor(offsets, device=dev)[batch.row.to(dev)] + batch.col.to(dev)]  # (N, C)
    else:
        mask = batch.attention_mask.to(dtype=next(unwrap(model).parameters()).dtype)
        h = hidden_states(model, batch.input_ids, mask, batch.position_ids)  # (B, T, C)
        h_eos = h[batch.row.to(dev), batch.col.to(dev)]  # (N, C)
    return unwrap(model).score(h_eos).squeeze(-1).float()  # (N,)


class PackedRewards(torch.nn.Module):
    """Wraps a scalar model so DDP sees one forward returning the rewards of a packed batch."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: PackedBatch) -> torch.Tensor:
        return packed_rewards(self.model, batch)


def to_device(batch: PackedBatch, device: torch.device | str) -> PackedBatch:
    return PackedBatch(
        batch.input_ids.to(device), batch.attention_mask.to(device), batch.position_ids.to(device), batch.row.to(device), batch.col.to(device), batch.n_tokens, batch.pieces
    )


def score_tokens(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, last_index: torch.Tensor) -> torch.Tensor:
    """Normalised rewards (B,) of padded ``prompt + response`` rows (left or right padding).

    input_ids, attention_mask (B, T); last_index (B,) the column of each response's last
    token (its EOS). Position ids skip left padding (``hidden_states``).
    """
    values = scalar_values(model, input_ids, attention_mask)  # (B, T) raw
    return normalized_reward(model, reward_at_last(values, last_index))


class RewardModel(NamedTuple):
    """A loaded RM: unpacks as ``model, tokenizer = load_reward_model(spec)``."""

    model: Any
    tokenizer: Any


def load_reward_model(spec: str, *, dtype: str = "float32", device: str | torch.device = "cpu") -> RewardModel:
    """A trained RM checkpoint (HF ``*ForSequenceClassification``: a directory, a run dir's
    ``final/`` or a hub id) in eval mode. A plain causal LM is refused: its head would be random."""
    model, tok = load_scalar_model(trained_scalar_path(spec), dtype=dtype, device=device)
    model.eval()
    return RewardModel(model, tok)


def _group_consecutive(prompts: Sequence[Prompt]) -> list[list[int]]:
    groups: list[list[int]] = []
    for i, p in enumerate(prompts):
        if groups and prompts[groups[-1][0]] == p:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


@torch.no_grad()
def score(rm: RewardModel, prompts: Sequence[Prompt], responses: Sequence[str], batch_size: int = 8) -> list[float]:
    """Normalised reward of each (prompt, response). Consecutive responses to the same
    prompt share one packed row (the prompt is encoded once); ``batch_size`` counts rows."""
    model, tok = rm
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    use_chat = bool(getattr(unwrap(model).config, CHAT_TEMPLATE_KEY, True))
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    groups = _group_consecutive(prompts)
    out = torch.empty(len(responses))
    for s in range(0, len(groups), batch_size):
        chunk = groups[s : s + batch_size]
        packed = [(tokenize_prompt(tok, prompts[g[0]], use_chat), [tokenize_response(tok, responses[i]) for i in g]) for g in chunk]
        raw = packed_rewards(model, to_device(pack_groups(packed, tok.pad_token_id), dev))
        out[torch.tensor([i for g in chunk for i in g])] = normalized_reward(model, raw).cpu()
    model.train(was)
    return out.tolist()
