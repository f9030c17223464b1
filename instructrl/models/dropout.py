"""Dropout control. RL needs it off everywhere (method doc §3b.6: otherwise old, new and
reference log-probs disagree and the first PPO ratio is not 1); SFT may use residual
dropout (the paper: 0.2).

Llama-style models have no residual dropout of their own, so ``set_dropout`` adds it with
forward hooks on each block's attention and MLP outputs (the branch added back into the
residual stream), which is where GPT-2/GPT-3's ``resid_pdrop`` sits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_HOOK_ATTR = "_instructrl_resid_dropout"
_CONFIG_KEYS = ("attention_dropout", "hidden_dropout", "resid_pdrop", "embd_pdrop", "attn_pdrop", "dropout", "hidden_dropout_prob", "attention_probs_dropout_prob", "summary_first_dropout")


def _residual_branches(model: torch.nn.Module) -> list[torch.nn.Module]:
    out = []
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("self_attn", "mlp") and ".layers." in f".{name}":
            out.append(module)
    return out


def _hook(module: torch.nn.Module, args, output):
    p = getattr(module, _HOOK_ATTR, 0.0)
    if not module.training or p <= 0.0:
        return output
    if isinstance(output, tuple):
        return (F.dropout(output[0], p=p, training=True),) + tuple(output[1:])
    return F.dropout(output, p=p, training=True)


def set_dropout(model: torch.nn.Module, p: float) -> None:
    """Set every dropout probability in ``model`` to ``p`` (0 disables all dropout)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {p}")
    cfg = getattr(model, "config", None)
    for key in _CONFIG_KEYS:
        if cfg is not None and hasattr(cfg, key) and isinstance(getattr(cfg, key), float):
            setattr(cfg, key, p)
    has_resid = False
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = p
            has_resid = True
        # attention modules read their dropout from an attribute at call time
        if hasattr(m, "attention_dropout") and isinstance(getattr(m, "attention_dropout"), float):
            m.attention_dropout = p
    if not has_resid:
        for m in _residual_branches(model):
            if not hasattr(m, _HOOK_ATTR):
                m.register_forward_hook(_hook)
            setattr(m, _HOOK_ATTR, p)


def dropout_active(model: torch.nn.Module) -> bool:
    """True when any dropout would fire in train mode (used by tests and RL sanity checks)."""
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout) and m.p > 0:
            return True
        if getattr(m, _HOOK_ATTR, 0.0) > 0:
            return True
        if isinstance(getattr(m, "attention_dropout", None), float) and m.attention_dropout > 0:
            return True
    return False
