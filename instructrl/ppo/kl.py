"""The per-token KL reward and the KL coefficient controllers (method doc §3a, §3b.7-8).

Shapes: (B, R) over response tokens, right-padded; ``mask`` marks real tokens.
"""

from __future__ import annotations

import torch


def kl_penalty_rewards(
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    scores: torch.Tensor,
    mask: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token rewards (B, R) and the per-token KL estimate (B, R).

    r_t = -beta * (log pi(y_t) - log pi_ref(y_t)), the simple sampled estimator ([P] Eq. 2,
    [LHP] train_policy.py:149-153), and the score (B,) is added at the last real response
    token of each row (the EOS when the response finished, else its last sampled token).
    This is our placement convention: [LHP] adds it at index -1 of a fixed-length response,
    which is the same token when no padding follows. Padding gets reward 0.
    """
    m = mask.to(logprobs.dtype)
    kl = (logprobs - ref_logprobs) * m
    rewards = -beta * kl
    lengths = mask.long().sum(1)
    if bool((lengths < 1).any()):
        raise ValueError("every episode needs at least one response token")
    last = (lengths - 1).unsqueeze(1)  # (B, 1)
    rewards = rewards.scatter_add(1, last, scores.to(rewards.dtype).unsqueeze(1))
    return rewards, kl


class FixedKL:
    """A constant beta (InstructGPT: 0.02)."""

    def __init__(self, coef: float):
        self.value = float(coef)

    def update(self, current_kl: float, n_episodes: int) -> None:
        pass

    def state_dict(self) -> dict[str, float]:
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.value = float(state["value"])


class AdaptiveKL:
    """[LHP] train_policy.py:115-124 (Ziegler et al. 2019, §2.2):
    e = clip(KL / target - 1, -0.2, 0.2);  beta <- beta * (1 + e * n_episodes / horizon).
    ``current_kl`` is the batch mean of each episode's summed per-token KL (nats)."""

    def __init__(self, coef: float, target: float, horizon: int):
        self.value, self.target, self.horizon = float(coef), float(target), int(horizon)

    def update(self, current_kl: float, n_episodes: int) -> None:
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_episodes / self.horizon

    def state_dict(self) -> dict[str, float]:
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.value = float(state["value"])


def kl_controller(coef: float, adaptive: bool, target: float, horizon: int) -> FixedKL | AdaptiveKL:
    return AdaptiveKL(coef, target, horizon) if adaptive else FixedKL(coef)
