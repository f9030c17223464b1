"""Advantages over response tokens: GAE (method doc §3b.10) and REINFORCE leave-one-out.

Shapes: B episodes, R response positions (right-padded; ``mask`` marks real tokens).
``values[:, t]`` is V of the state *before* response token t (the same position whose
logits give log pi(y_t)); the value after the last real token is 0 (the episode ends).
"""

from __future__ import annotations

import torch


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    gamma: float = 1.0,
    lam: float = 0.95,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns, both (B, R) and 0 on padding.

    delta_t = r_t + gamma * V_{t+1} - V_t;  A_t = delta_t + gamma * lam * A_{t+1}
    (Schulman et al. 2016, Eq. 16; [LHP] train_policy.py:56-57, 327-336); returns = A + V.
    Padding gets r = V = 0, so after the last real token V_{t+1} = 0 and A_{t+1} = 0.
    """
    if rewards.shape != values.shape or rewards.shape != mask.shape:
        raise ValueError(f"rewards {tuple(rewards.shape)}, values {tuple(values.shape)} and mask {tuple(mask.shape)} must match")
    m = mask.to(values.dtype)
    r, v = rewards * m, values * m
    R = r.shape[1]
    adv = torch.zeros_like(v)
    last = torch.zeros_like(v[:, 0])
    for t in reversed(range(R)):
        next_v = v[:, t + 1] if t + 1 < R else torch.zeros_like(last)
        delta = r[:, t] + gamma * next_v - v[:, t]
        last = delta + gamma * lam * last
        adv[:, t] = last
    adv = adv * m
    return adv, (adv + v) * m


def rloo(returns: torch.Tensor, group_size: int) -> torch.Tensor:
    """Leave-one-out advantages (B,) of episode returns (B,) laid out in consecutive groups
    of ``group_size`` responses to the same prompt: A_i = G_i - mean_{j != i} G_j
    (Kool et al. 2019; Ahmadian et al. 2024, "Back to Basics"). Unbiased: the baseline of
    each episode uses only the others' returns. No value function is involved."""
    if returns.dim() != 1 or group_size < 2 or returns.shape[0] % group_size:
        raise ValueError(f"rloo needs 1-d returns in whole groups of >= 2, got shape {tuple(returns.shape)} and group_size={group_size}")
    g = returns.view(-1, group_size)
    baseline = (g.sum(1, keepdim=True) - g) / (group_size - 1)
    return (g - baseline).reshape(-1)
