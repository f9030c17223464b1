"""Reward normalisation constants (method doc §2). Stored in the checkpoint by
``instructrl.models.heads.set_normalization`` so every consumer reads ``gain * raw + bias``.

- ``bias`` (InstructGPT [P §3.5], [N+c] ``reward.py:520``): gain 1, bias = -mean raw score
  of labeler demonstrations, so demonstrations score a mean of 0.
- ``gain_bias`` ([LHP] ``train_reward.py``): gain = std_target / std(raw), bias chosen so
  the normalised scores have mean ``mean_target`` and std ``std_target``.
- ``none``: gain 1, bias 0.
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

Mode = Literal["bias", "gain_bias", "none"]


def normalization_constants(raw: Sequence[float], mode: Mode, target_mean: float = 0.0, target_std: float = 1.0) -> tuple[float, float]:
    """(gain, bias) such that ``gain * raw + bias`` has the target mean (and std for gain_bias)."""
    if mode == "none":
        return 1.0, 0.0
    if not raw:
        raise ValueError("reward normalisation needs at least one demonstration score")
    mean = sum(raw) / len(raw)
    if mode == "bias":
        return 1.0, target_mean - mean
    if mode == "gain_bias":
        std = math.sqrt(sum((x - mean) ** 2 for x in raw) / len(raw))  # biased, like tf.moments [LHP]
        if std <= 0:
            raise ValueError(f"gain_bias normalisation: the {len(raw)} demonstration scores have zero spread")
        gain = target_std / std
        return gain, target_mean - gain * mean
    raise ValueError(f"normalize.mode must be bias | gain_bias | none, got {mode!r}")
