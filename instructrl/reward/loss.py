"""The reward model's ranking loss (InstructGPT Eq. 1, method doc §2). Pure torch.

    loss(θ) = -1/C(K,2) · E_{(x, y_w, y_l) ~ D} [ log σ( r_θ(x, y_w) - r_θ(x, y_l) ) ]

All C(K,2) comparisons of one prompt form one batch element: the K responses are scored
once, -log σ(r_w - r_l) is averaged over that prompt's untied pairs, and the batch loss
is the mean over prompts, so every prompt weighs the same whatever its K [P §3.5].

A batch of G prompts with variable K is flattened: ``rewards`` (N,) holds the K_g rewards
of prompt g at ``offsets[g] : offsets[g] + K_g``; pairs are index tensors into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Pairs:
    """Untied (winner, loser) comparisons of a flattened batch of rankings."""

    winner: torch.Tensor  # (P,) index into the flattened rewards (N,)
    loser: torch.Tensor  # (P,)
    group: torch.Tensor  # (P,) which prompt (0..G-1) the pair belongs to
    n_groups: int  # G


def ranking_pairs(ranks: Sequence[Sequence[int]]) -> Pairs:
    """All C(K,2) pairs of each ranking with ties dropped (rank 1 = best).

    ``ranks[g][i]`` is the rank of response i of prompt g; response i of prompt g sits at
    flat index ``sum(K_0..K_{g-1}) + i``. A prompt whose responses all tie has no pairs.
    """
    w, l, g_of = [], [], []
    offset = 0
    for g, rk in enumerate(ranks):
        k = len(rk)
        for i in range(k):
            for j in range(i + 1, k):
                if rk[i] == rk[j]:
                    continue  # ties carry no comparison [P §3.5]
                a, b = (i, j) if rk[i] < rk[j] else (j, i)
                w.append(offset + a)
                l.append(offset + b)
                g_of.append(g)
        offset += k
    as_t = lambda x: torch.tensor(x, dtype=torch.long)  # noqa: E731
    return Pairs(winner=as_t(w), loser=as_t(l), group=as_t(g_of), n_groups=len(ranks))


@dataclass(frozen=True)
class RankingLoss:
    loss: torch.Tensor  # () mean over prompts that have at least one pair
    per_prompt: torch.Tensor  # (G,) mean -log σ(r_w - r_l) over the prompt's pairs; 0 if it has none
    has_pairs: torch.Tensor  # (G,) bool
    margin: torch.Tensor  # (P,) r_w - r_l, detached
    correct: torch.Tensor  # (P,) 1 if r_w > r_l, 0.5 if equal, 0 otherwise


def ranking_loss(rewards: torch.Tensor, pairs: Pairs) -> RankingLoss:
    """Eq. 1 over a batch of prompts: per-prompt mean over its pairs, then mean over prompts.

    rewards (N,) float; pairs index into it. Differentiable in ``rewards``.
    """
    d = rewards[pairs.winner] - rewards[pairs.loser]  # (P,)
    nll = -F.logsigmoid(d)  # (P,)
    G = pairs.n_groups
    total = torch.zeros(G, dtype=nll.dtype, device=nll.device).index_add(0, pairs.group.to(nll.device), nll)  # (G,)
    count = torch.bincount(pairs.group.to(nll.device), minlength=G).to(nll.dtype)  # (G,) = C(K,2) - ties
    per_prompt = total / count.clamp(min=1.0)
    has = count > 0
    loss = per_prompt[has].mean() if bool(has.any()) else per_prompt.sum() * 0.0
    dd = d.detach()
    correct = (dd > 0).to(dd.dtype) + 0.5 * (dd == 0).to(dd.dtype)
    return RankingLoss(loss=loss, per_prompt=per_prompt, has_pairs=has, margin=dd, correct=correct)


def pairwise_loss(r_winner: torch.Tensor, r_loser: torch.Tensor) -> torch.Tensor:
    """ABLATION ONLY: mean -log σ(r_w - r_l) over independent (shuffled) pairs, each pair
    its own batch element. The paper's footnote 5: this makes each completion get K-1
    updates per epoch and overfits; the default is the grouped ``ranking_loss``."""
    return -F.logsigmoid(r_winner - r_loser).mean()
