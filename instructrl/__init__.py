"""instructrl: InstructGPT end to end (SFT -> reward model -> PPO-ptx, iterated)."""

from ._malloc import tune as _tune_malloc

_tune_malloc()  # keep freed activation memory for reuse (see instructrl/_malloc.py)

__version__ = "0.1.0"
