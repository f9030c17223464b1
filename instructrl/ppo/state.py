"""PPO run state: EMA of the policy weights, resumable checkpoints, the final export.

A checkpoint (``checkpoints/step-N/``, N = iterations done) holds everything a killed run
needs to continue as if uninterrupted: the policy (HF weights, or the adapter of a LoRA
policy), the value network or value head, both optimizers, the KL controller, the EMA and
the RNG state. Prompt order, sampling seeds, minibatch order and pretraining batches are
pure functions of (seed, iteration), so they need no state of their own.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from instructrl.checkpoint import load_trainer_state, load_weights_from_dir, mark_complete, save_model, save_trainer_state
from instructrl.runs import latest_checkpoint, prune_checkpoints, write_provenance

from .config import PPOConfig

if TYPE_CHECKING:
    from .train import Models


class EMA:
    """Exponential moving average of the policy's trainable weights (paper: decay 0.992;
    how the paper uses them is unstated, so they are only saved, to ``ema/``)."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        self.shadow = {n: p.detach().clone() for n, p in self.params.items()}

    @torch.no_grad()
    def update(self) -> None:
        for n, p in self.params.items():
            self.shadow[n].mul_(self.decay).add_(p.detach(), alpha=1.0 - self.decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for n, v in state.items():
            self.shadow[n].copy_(v)


def save_checkpoint(cfg: PPOConfig, run: Path, iteration: int, models: "Models", optimizers: Any, kl_ctl: Any, ema: EMA | None) -> None:
    """``checkpoints/step-<iteration>/``, marked COMPLETE last; older ones pruned."""
    ck = run / "checkpoints" / f"step-{iteration}"
    save_model(models.policy.policy, models.tokenizer, ck / "policy", merged=False, base_spec=cfg.model.name)
    if models.value is not None:
        models.value.save_pretrained(ck / "value", safe_serialization=True)
    state = {
        "iteration": iteration,
        "optimizers": [o.state_dict() for o in optimizers],
        "kl": kl_ctl.state_dict(),
        "v_head": models.policy.v_head.state_dict() if models.policy.v_head is not None else None,
        "ema": ema.state_dict() if ema is not None else None,
    }
    save_trainer_state(ck, state)
    mark_complete(ck, {"iteration": iteration})
    prune_checkpoints(run, cfg.keep_checkpoints)


def maybe_resume(run: Path, models: "Models", optimizers: Any, kl_ctl: Any, ema: EMA | None) -> int:
    """Restore the newest complete checkpoint into the live objects; the iterations done (0: none)."""
    ck = latest_checkpoint(run)
    if ck is None:
        return 0
    load_weights_from_dir(models.policy.policy, ck / "policy")
    if models.value is not None:
        load_weights_from_dir(models.value, ck / "value")
    state = load_trainer_state(ck)
    for o, s in zip(optimizers, state["optimizers"]):
        o.load_state_dict(s)
    kl_ctl.load_state_dict(state["kl"])
    if models.policy.v_head is not None:
        models.policy.v_head.load_state_dict(state["v_head"])
    if ema is not None and state["ema"] is not None:
        ema.load_state_dict(state["ema"])
    print(f"resumed from {ck} (iteration {state['iteration']})")
    return int(state["iteration"])


def finalize(cfg: PPOConfig, run: Path, models: "Models", ema: EMA | None) -> Path:
    """``final/`` (the policy), ``value/`` and ``ema/``; ``final/COMPLETE`` is written last."""
    final = run / "final"
    shutil.rmtree(final, ignore_errors=True)
    save_model(models.policy.policy, models.tokenizer, final, merged=cfg.model.lora.merge_on_save, base_spec=cfg.model.name)
    write_provenance(final, cfg)
    if models.value is not None:  # HF format with the tokenizer: loads as a scalar model anywhere
        save_model(models.value, models.tokenizer, run / "value")
    elif models.policy.v_head is not None:
        (run / "value").mkdir(exist_ok=True)
        torch.save(models.policy.v_head.state_dict(), run / "value" / "value_head.pt")  # type: ignore[union-attr]
    if ema is not None:
        live = {n: p.detach().clone() for n, p in ema.params.items()}
        with torch.no_grad():
            for n, p in ema.params.items():
                p.copy_(ema.shadow[n])
            save_model(models.policy.policy, models.tokenizer, run / "ema", merged=cfg.model.lora.merge_on_save, base_spec=cfg.model.name)
            for n, p in ema.params.items():
                p.copy_(live[n])
    mark_complete(final, {"iterations": cfg.iterations})
    return final
