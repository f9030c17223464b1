"""Saving and restoring models and trainer state, shared by every trainer.

Models are saved HF-format (``save_pretrained`` + tokenizer), so every checkpoint loads in
plain ``transformers``. LoRA models save merged full weights or the adapter only (then
``instructrl_base.json`` names the base spec). Trainer state (optimizers, schedulers, step,
RNG of every process) goes to ``trainer_state.pt`` / ``rng_rank<r>.pt``; a ``COMPLETE``
marker written last makes a half-written checkpoint (crash mid-save) detectable.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from instructrl.models.logprobs import unwrap


def save_model(model: Any, tokenizer: Any, path: str | Path, *, merged: bool = True, base_spec: str | None = None) -> Path:
    from instructrl.models.lora import is_peft, merged_copy

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    m = model.module if hasattr(model, "module") and isinstance(model.module, torch.nn.Module) else model
    if is_peft(m):
        if merged:
            merged_copy(m).save_pretrained(path, safe_serialization=True)
        else:
            m.save_pretrained(path)
            (path / "instructrl_base.json").write_text(json.dumps({"base": base_spec}))
    else:
        m.save_pretrained(path, safe_serialization=True)
    if tokenizer is not None:
        tokenizer.save_pretrained(path)
    return path


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    """Weights needed to resume: all of them, or only the adapters for a LoRA model."""
    from instructrl.models.lora import is_peft

    m = model.module if hasattr(model, "module") and isinstance(model.module, torch.nn.Module) else model
    if is_peft(m):
        from peft import get_peft_model_state_dict

        return {k: v.detach().clone() for k, v in get_peft_model_state_dict(m).items()}
    return {k: v.detach().clone() for k, v in unwrap(m).state_dict().items()}


def load_trainable_state(model: Any, state: dict[str, torch.Tensor]) -> None:
    from instructrl.models.lora import is_peft

    m = model.module if hasattr(model, "module") and isinstance(model.module, torch.nn.Module) else model
    if is_peft(m):
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(m, state)
        return
    missing, unexpected = unwrap(m).load_state_dict(state, strict=False)
    if unexpected or missing:
        raise RuntimeError(f"checkpoint does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")


def rng_state() -> dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def save_trainer_state(path: str | Path, state: dict[str, Any], rank: int = 0, is_main: bool = True) -> None:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    torch.save(rng_state(), path / f"rng_rank{rank}.pt")
    if is_main:
        torch.save(state, path / "trainer_state.pt")


def mark_complete(path: str | Path, info: dict[str, Any] | None = None) -> None:
    Path(path, "COMPLETE").write_text(json.dumps(info or {}))


def load_trainer_state(path: str | Path, rank: int = 0) -> dict[str, Any]:
    path = Path(path)
    state = torch.load(path / "trainer_state.pt", weights_only=False)
    rng_file = path / f"rng_rank{rank}.pt"
    if rng_file.exists():
        set_rng_state(torch.load(rng_file, weights_only=False))
    return state


def load_weights_from_dir(model: Any, path: str | Path) -> None:
    """Restore weights saved by ``save_model`` into an existing model (resume)."""
    from safetensors.torch import load_file

    from instructrl.models.lora import is_peft

    path = Path(path)
    m = model.module if hasattr(model, "module") and isinstance(model.module, torch.nn.Module) else model
    if is_peft(m):
        load_trainable_state(m, load_file(path / "adapter_model.safetensors"))
        return
    index = path / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else ["model.safetensors"]
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(load_file(path / f))
    target = unwrap(m)
    missing, unexpected = target.load_state_dict(state, strict=False)
    tied = set()
    if getattr(target.config, "tie_word_embeddings", False):
        tied = {"lm_head.weight"}
    missing = [k for k in missing if k not in tied]
    if missing or unexpected:
        raise RuntimeError(f"{path}: checkpoint does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
