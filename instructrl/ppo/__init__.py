"""Step 3: PPO and PPO-ptx against a reward model or any scorer (``instructrl ppo``)."""

from __future__ import annotations

from .config import KLConfig, OptimConfig, PPOConfig, PPODataConfig, PPOHyperConfig, PtxConfig, RewardConfig, ValueConfig
from .scorers import CallableScorer, RewardModelScorer, ScoreBatch, Scorer
from .train import train

__all__ = [
    "CallableScorer",
    "KLConfig",
    "OptimConfig",
    "PPOConfig",
    "PPODataConfig",
    "PPOHyperConfig",
    "PtxConfig",
    "RewardConfig",
    "RewardModelScorer",
    "ScoreBatch",
    "Scorer",
    "ValueConfig",
    "main",
    "train",
]


def main(argv: list[str]) -> int:
    from instructrl.config import command_main

    cfg, _ = command_main(PPOConfig, argv, "instructrl ppo", "PPO / PPO-ptx against a reward model or scorer (InstructGPT step 3).")
    final = train(cfg)
    print(f"checkpoint: {final}")
    return 0
