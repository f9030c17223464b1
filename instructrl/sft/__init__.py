"""Step 1: supervised fine-tuning on demonstrations (``instructrl sft``)."""

from __future__ import annotations

from .config import OptimConfig, SFTConfig, SFTDataConfig
from .train import train

__all__ = ["OptimConfig", "SFTConfig", "SFTDataConfig", "main", "train"]


def main(argv: list[str]) -> int:
    from instructrl.config import command_main

    cfg, _ = command_main(SFTConfig, argv, "instructrl sft", "Supervised fine-tuning on demonstrations (InstructGPT step 1).")
    final = train(cfg)
    print(f"checkpoint: {final}")
    return 0
