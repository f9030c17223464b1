"""Step 2: the reward model on K-way rankings (``instructrl rm``).

Python API: ``train(cfg) -> Path``; ``load_reward_model(spec) -> RewardModel(model,
tokenizer)``; ``score(rm, prompts, responses) -> list[float]`` (normalised);
``score_tokens(model, input_ids, attention_mask, last_index) -> Tensor (B,)`` (normalised,
for PPO). The loss is ``loss.ranking_loss`` (InstructGPT Eq. 1).
"""

from __future__ import annotations

from .config import NormalizeConfig, RewardConfig, RewardDataConfig
from .model import RewardModel, load_reward_model, score, score_tokens
from .train import train

__all__ = ["NormalizeConfig", "RewardConfig", "RewardDataConfig", "RewardModel", "load_reward_model", "main", "score", "score_tokens", "train"]


def main(argv: list[str]) -> int:
    from instructrl.config import command_main

    cfg, _ = command_main(RewardConfig, argv, "instructrl rm", "Reward model on K-way rankings (InstructGPT step 2).")
    final = train(cfg)
    print(f"checkpoint: {final}")
    return 0
