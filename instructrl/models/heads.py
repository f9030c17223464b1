"""Scalar-head models: the reward model and PPO's value function.

InstructGPT's RM is the SFT model with its unembedding replaced by a projection to one
scalar (method doc §2), and the value function is initialised from the RM (§3a). Both are
stored as transformers' ``*ForSequenceClassification`` with ``num_labels=1``: HF-format,
loadable in plain ``transformers``, with the projection in ``model.score``.

- ``load_scalar_model(spec)``: an existing scalar checkpoint loads as is; a causal LM spec
  (``tiny``, ``smollm2-135m``, an SFT run) gets a fresh head ~ N(0, 1/sqrt(d_model + 1))
  (method doc §2, [N]) or zeros (``head_init="zeros"``, the value-head convention [LHP]).
- ``scalar_values`` gives one value per token (B, T), as the value function needs;
  ``reward_at_last`` reads the reward at the last token of each response (its EOS).
- Reward normalisation lives in the checkpoint's config (``instructrl_reward_gain``,
  ``instructrl_reward_bias``), so every consumer gets normalised rewards from
  ``normalized_reward(model, raw)`` without knowing how they were set.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import torch

from .dropout import set_dropout
from .loader import DTYPES, ensure_pad_token, load_causal_lm, load_tokenizer, read_config, resolve_spec, set_attention
from .logprobs import hidden_states

GAIN_KEY = "instructrl_reward_gain"
BIAS_KEY = "instructrl_reward_bias"


def is_scalar_checkpoint(path: str | Path) -> bool:
    """A ``*ForSequenceClassification`` checkpoint (a trained RM or value function): a local
    directory, or a hub id (its config.json through the hub cache; one it cannot provide is
    an error naming the id)."""
    archs = read_config(str(path)).get("architectures") or []
    return any(a.endswith("ForSequenceClassification") for a in archs)


def trained_scalar_path(spec: str, what: str = "reward model") -> str:
    """``spec`` resolved, when it is a trained scalar-head checkpoint; else a ValueError naming
    ``what``: a causal LM would get a fresh, random head and score noise."""
    path = resolve_spec(spec)
    if not is_scalar_checkpoint(path):
        raise ValueError(f"{what} {spec!r} is not a scalar-head (ForSequenceClassification) checkpoint, so its head would be "
                         f"random; train one with `instructrl rm`")
    return path


def _from_causal_lm(lm: Any, head_init: Literal["normal", "zeros"], seed: int) -> Any:
    from transformers import AutoModelForSequenceClassification

    cfg = lm.config.__class__.from_dict(lm.config.to_dict())
    cfg.num_labels = 1
    cfg.architectures = None
    cfg.problem_type = "regression"
    model = AutoModelForSequenceClassification.from_config(cfg)
    base = getattr(model, model.base_model_prefix)
    src = getattr(lm, lm.base_model_prefix)
    missing, unexpected = base.load_state_dict(src.state_dict(), strict=False)
    if missing or unexpected:
        raise RuntimeError(f"backbone mismatch building a scalar head: missing {missing[:4]}, unexpected {unexpected[:4]}")
    d = model.score.weight.shape[-1]
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if head_init == "normal":
            model.score.weight.normal_(0.0, 1.0 / math.sqrt(d + 1))
        else:
            model.score.weight.zero_()
        if getattr(model.score, "bias", None) is not None:
            model.score.bias.zero_()
    setattr(model.config, GAIN_KEY, 1.0)
    setattr(model.config, BIAS_KEY, 0.0)
    return model.to(lm.dtype)


def load_scalar_model(
    spec: str,
    *,
    dtype: str = "float32",
    dropout: float = 0.0,
    head_init: Literal["normal", "zeros"] = "normal",
    seed: int = 0,
    device: str | torch.device = "cpu",
    attention: str = "auto",
):
    """(model, tokenizer) for a reward model / value function. Dropout off by default."""
    from transformers import AutoModelForSequenceClassification

    path = resolve_spec(spec)
    if is_scalar_checkpoint(path):
        tok = load_tokenizer(path)
        model = AutoModelForSequenceClassification.from_pretrained(path, dtype=DTYPES[dtype])
        ensure_pad_token(model, tok)
        set_dropout(model, dropout)
        set_attention(model, attention)
        return model.to(device), tok
    lm, tok = load_causal_lm(spec, dtype=dtype, dropout=0.0)
    model = _from_causal_lm(lm, head_init, seed)
    model.config.pad_token_id = tok.pad_token_id
    set_dropout(model, dropout)
    set_attention(model, attention)
    return model.to(device), tok


def scalar_values(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    position_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """Raw (unnormalised) head output at every position: (B, T)."""
    h = hidden_states(model, input_ids, attention_mask, position_ids)  # (B, T, C)
    head = _unwrapped(model).score
    return head(h).squeeze(-1).float()


def _unwrapped(model: Any) -> Any:
    from .logprobs import unwrap

    return unwrap(model)


def reward_at_last(values: torch.Tensor, last_index: torch.Tensor) -> torch.Tensor:
    """values (B, T), last_index (B,) -> (B,): the value at each row's last response token."""
    return values.gather(1, last_index.long().unsqueeze(1)).squeeze(1)


def normalization(model: Any) -> tuple[float, float]:
    cfg = _unwrapped(model).config
    return float(getattr(cfg, GAIN_KEY, 1.0)), float(getattr(cfg, BIAS_KEY, 0.0))


def set_normalization(model: Any, gain: float, bias: float) -> None:
    cfg = _unwrapped(model).config
    setattr(cfg, GAIN_KEY, float(gain))
    setattr(cfg, BIAS_KEY, float(bias))


def normalized_reward(model: Any, raw: torch.Tensor) -> torch.Tensor:
    """``gain * raw + bias`` with the checkpoint's stored normalisation."""
    gain, bias = normalization(model)
    return gain * raw + bias
