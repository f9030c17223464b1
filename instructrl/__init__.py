"""instructrl: InstructGPT end to end (SFT -> reward model -> PPO-ptx, iterated)."""

__version__ = "0.1.0"
