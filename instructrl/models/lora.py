"""LoRA through peft on any trainable model; merged or adapter-only checkpoints."""

from __future__ import annotations

from typing import Any

import torch

from .loader import LoraConfig


def apply_lora(model: torch.nn.Module, cfg: LoraConfig) -> Any:
    from peft import LoraConfig as PeftLoraConfig, get_peft_model

    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in cfg.target_modules if t in present]
    if not targets:
        raise ValueError(f"lora.target_modules {list(cfg.target_modules)} match no module of this model; it has e.g. {sorted(present)[:12]}")
    peft_cfg = PeftLoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=targets, task_type="CAUSAL_LM")
    return get_peft_model(model, peft_cfg)


def is_peft(model: Any) -> bool:
    try:
        from peft import PeftModel
    except ImportError:  # pragma: no cover
        return False
    return isinstance(model, PeftModel)


def disabled_adapters(model: Any):
    """Context manager: run a LoRA model as its base (the PPO reference, one copy of weights)."""
    return model.disable_adapter()


def merged_copy(model: Any) -> torch.nn.Module:
    """A plain transformers model with the adapters merged in (the original is untouched)."""
    import copy

    return copy.deepcopy(model).merge_and_unload()
