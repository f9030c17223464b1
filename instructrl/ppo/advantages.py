"""Generalised advantage estimation over response tokens (method doc §3b.10).

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
