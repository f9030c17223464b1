"""PPO's clipped policy and value losses (method doc §3b.11) and the PPO-ptx loss.

Shapes: (B, R) over response tokens; ``mask`` marks real tokens. Means are over the
minibatch's real response tokens ([LHP] and [N+c] average per token).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from instructrl.ops import masked_mean


@dataclass
class PolicyLoss:
    loss: torch.Tensor  # scalar, differentiable
    approx_kl: torch.Tensor  # 0.5 * mean((log ratio)^2), no grad ([LHP] approxkl)
    clipfrac: torch.Tensor  # share of tokens where the clipped branch is taken
    ratio_mean: torch.Tensor


def clipped_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip: float = 0.2,
) -> PolicyLoss:
    """``mean(max(-A * ratio, -A * clip(ratio, 1 - eps, 1 + eps)))`` with
    ratio = exp(logp - logp_old) (Schulman et al. 2017, Eq. 7, negated to a loss)."""
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    pg1 = -advantages * ratio
    pg2 = -advantages * torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    loss = masked_mean(torch.maximum(pg1, pg2), mask)
    with torch.no_grad():
        approx_kl = 0.5 * masked_mean(log_ratio**2, mask)
        clipfrac = masked_mean((pg2 > pg1).to(logprobs.dtype), mask)
        ratio_mean = masked_mean(ratio, mask)
    return PolicyLoss(loss=loss, approx_kl=approx_kl, clipfrac=clipfrac, ratio_mean=ratio_mean)


@dataclass
class ValueLoss:
    loss: torch.Tensor  # scalar, differentiable
    clipfrac: torch.Tensor


def clipped_value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip: float = 0.2,
) -> ValueLoss:
    """``0.5 * mean(max((V - R)^2, (clip(V, V_old - c, V_old + c) - R)^2))`` ([LHP] :343-357)."""
    v_clipped = old_values + torch.clamp(values - old_values, -clip, clip)
    l1 = (values - returns) ** 2
    l2 = (v_clipped - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(l1, l2), mask)
    with torch.no_grad():
        clipfrac = masked_mean((l2 > l1).to(values.dtype), mask)
    return ValueLoss(loss=loss, clipfrac=clipfrac)


def ptx_loss(loss_sum: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """The PPO-ptx pretraining loss: summed next-token cross-entropy over a pretraining
    minibatch divided by its number of predicted tokens (a per-token mean, in nats).

    This fixes what gamma means: the minibatch objective is
    ``ppo_loss + gamma * ptx_loss``, so gamma = 27.8 weighs one nat of mean per-token
    pretraining loss 27.8 times one unit of the (per-token mean) PPO loss (Eq. 2, [P] §3.5).
    """
    if n_tokens < 1:
        raise ValueError(f"a pretraining minibatch must predict at least one token, got {n_tokens}")
    return loss_sum / n_tokens


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1 - Var(R - V) / Var(R) over masked positions (CleanRL's ``explained_var``)."""
    from instructrl.ops import masked_var

    var_r = masked_var(returns, mask)
    return 1.0 - masked_var(returns - values, mask) / var_r.clamp(min=1e-8)
