"""``SFTConfig``: every knob of ``instructrl sft``; YAML keys = field names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from instructrl.config import field
from instructrl.models.loader import ModelConfig


@dataclass(frozen=True)
class SFTDataConfig:
    kind: Literal["demonstrations", "text"] = field(
        "demonstrations", help="demonstrations (prompt -> response) or plain text (language-model pretraining, loss on every token)"
    )
    train: str = field("generated:2000", help="demonstrations: JSONL path | hf:<name>[@split] | generated:<n>[@seed]")
    valid: str | None = field(None, help="validation demonstrations (same spec forms); default: a held-out slice of train")
    valid_fraction: float = field(0.05, help="fraction of train held out for validation when `valid` is not given")
    columns: dict = field(default_factory=dict, help="hf: column mapping, record field -> dataset column")
    max_seq_len: int = field(512, help="longest prompt+response in tokens; longer examples are an error (or skipped)")
    mask_prompt: bool = field(True, help="loss on response tokens only (false: on the whole sequence)")
    use_chat_template: bool = field(True, help="render prompts with the tokenizer's chat template when it has one")
    skip_bad: bool = field(False, help="skip and count malformed or over-long rows instead of failing")
    pretrain: str | None = field(None, help="pretraining text to mix in: .jsonl (text field) | .txt | hf:<name> | generated:<n>")
    pretrain_fraction: float = field(0.0, help="share of training examples drawn from `pretrain` (InstructGPT's PPO-init SFT: 0.1)")
    pretrain_append_eos: bool = field(True, help="end each pretraining document with EOS (a separator); false for text cut mid-document, e.g. a model's length-capped samples")

    def __post_init__(self) -> None:
        if not 0.0 <= self.valid_fraction < 1.0:
            raise ValueError(f"data.valid_fraction must be in [0, 1), got {self.valid_fraction}")
        if not 0.0 <= self.pretrain_fraction < 1.0:
            raise ValueError(f"data.pretrain_fraction must be in [0, 1), got {self.pretrain_fraction}")
        if self.pretrain_fraction > 0 and not self.pretrain:
            raise ValueError("data.pretrain_fraction > 0 needs data.pretrain (a pretraining text source)")
        if self.max_seq_len < 8:
            raise ValueError(f"data.max_seq_len must be >= 8, got {self.max_seq_len}")


@dataclass(frozen=True)
class OptimConfig:
    lr: float = field(1e-4, help="peak learning rate (paper, 1.3B/6B: 9.65e-6; tiny models need more)")
    min_lr_ratio: float = field(0.1, help="cosine decay ends at this fraction of the peak (paper: 0.1)")
    warmup_steps: int = field(0, help="linear warmup steps from 0 (paper: none)")
    weight_decay: float = field(0.0, help="AdamW weight decay")
    beta1: float = field(0.9, help="Adam beta1 (paper: 0.9)")
    beta2: float = field(0.95, help="Adam beta2 (paper: 0.95)")
    eps: float = field(1e-8, help="Adam epsilon")
    grad_clip: float = field(1.0, help="max global gradient norm (0 = off)")

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"optim.lr must be > 0, got {self.lr}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"optim.min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if self.warmup_steps < 0:
            raise ValueError(f"optim.warmup_steps must be >= 0, got {self.warmup_steps}")


@dataclass(frozen=True)
class SFTConfig:
    model: ModelConfig = field(default_factory=ModelConfig, help="the model to fine-tune")
    data: SFTDataConfig = field(default_factory=SFTDataConfig, help="demonstrations and pretraining mix")
    optim: OptimConfig = field(default_factory=OptimConfig, help="optimizer and schedule")
    output_dir: str = field("runs/sft", help="run directory (resumed when it holds checkpoints)")
    epochs: float = field(2.0, help="passes over the demonstrations (paper: 16 for the SFT baseline, 2 for the PPO init)")
    max_steps: int | None = field(None, help="stop after this many optimizer steps (overrides epochs)")
    batch_size: int = field(8, help="examples per optimizer step, over all processes")
    micro_batch_size: int = field(8, help="examples per forward/backward on one process (gradient accumulation fills the rest)")
    pack: bool = field(True, help="padding-free packing of several examples per row (false: padded batches)")
    seed: int = field(0, help="seed for data order, init and dropout")
    eval_every: int = field(0, help="validation every N steps (0: once per epoch and at the end)")
    save_every: int = field(0, help="resumable checkpoint every N steps (0: at each evaluation)")
    keep_checkpoints: int = field(2, help="resumable checkpoints kept on disk")
    select_by: Literal["valid_loss", "last", "score"] = field(
        "valid_loss", help="final checkpoint: best validation loss, the last step, or best `score` hook (InstructGPT: RM score)"
    )
    resume: bool = field(True, help="continue from the newest checkpoint in output_dir, or return its finished final/ (refused, naming the settings, when it was made with another config); false: start over there, removing its checkpoints and final/")
    device: str = field("auto", help="auto (accelerate's choice: a GPU when torch sees one; under accelerate launch, each process "
                        "its own) | cpu | cuda[:i] (a single-process run)")
    threads: int = field(0, help="torch CPU threads (0: torch default)")
    progress: bool = field(True, help="show a progress bar")
    tensorboard: bool = field(True, help="write TensorBoard events")

    def __post_init__(self) -> None:
        check_schedule(self)


def check_schedule(cfg: Any) -> None:
    """The batch and length settings SFT and the reward model share: batch sizes >= 1, a positive
    number of epochs unless max_steps bounds the run, max_steps >= 1, at least one checkpoint kept."""
    if cfg.batch_size < 1 or cfg.micro_batch_size < 1:
        raise ValueError(f"batch_size and micro_batch_size must be >= 1, got {cfg.batch_size}, {cfg.micro_batch_size}")
    if cfg.epochs <= 0 and cfg.max_steps is None:
        raise ValueError(f"epochs must be > 0, got {cfg.epochs}")
    if cfg.max_steps is not None and cfg.max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {cfg.max_steps}")
    if cfg.keep_checkpoints < 1:
        raise ValueError(f"keep_checkpoints must be >= 1, got {cfg.keep_checkpoints}")
