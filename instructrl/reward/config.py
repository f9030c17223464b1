"""``RewardConfig``: every knob of ``instructrl rm``; YAML keys = field names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from instructrl.config import field
from instructrl.models.loader import ModelConfig
from instructrl.sft.config import OptimConfig, check_schedule


@dataclass(frozen=True)
class RewardDataConfig:
    train: str = field("generated:2000", help="rankings: JSONL path (Ranking, chosen/rejected, or HH-RLHF lines) | hf:<name>[@split] | generated:<n>[@seed]")
    valid: str | None = field(None, help="held-out rankings (same spec forms); default: a prompt-hash split of train")
    valid_fraction: float = field(0.1, help="share of prompts held out when `valid` is not given (by sha1 of the prompt text)")
    split_salt: str = field("", help="salt of the prompt-hash split (change it for a different fixed split)")
    k: int = field(4, help="responses per prompt for generated:<n> rankings (paper: 4..9)")
    columns: dict = field(default_factory=dict, help="hf: column mapping, record field -> dataset column")
    max_seq_len: int = field(1024, help="longest prompt + response in tokens; longer rankings are an error (or skipped)")
    max_train: int | None = field(None, help="use only the first N training rankings (after the split)")
    use_chat_template: bool = field(True, help="render prompts with the tokenizer's chat template when it has one")
    skip_bad: bool = field(False, help="skip and count malformed or over-long rankings instead of failing")

    def __post_init__(self) -> None:
        if not 0.0 <= self.valid_fraction < 1.0:
            raise ValueError(f"data.valid_fraction must be in [0, 1), got {self.valid_fraction}")
        if not 2 <= self.k <= 9:
            raise ValueError(f"data.k must be in 2..9, got {self.k}")
        if self.max_seq_len < 8:
            raise ValueError(f"data.max_seq_len must be >= 8, got {self.max_seq_len}")
        if self.max_train is not None and self.max_train < 1:
            raise ValueError(f"data.max_train must be >= 1, got {self.max_train}")


@dataclass(frozen=True)
class NormalizeConfig:
    mode: Literal["bias", "gain_bias", "none"] = field(
        "bias", help="bias: demonstrations score mean 0 (InstructGPT); gain_bias: mean/std targets (lm-human-preferences); none"
    )
    demonstrations: str | None = field(
        None, help="demonstrations to normalise on (JSONL | hf: | generated:); default: the top-ranked responses of the training rankings"
    )
    max_examples: int = field(2000, help="score at most this many demonstrations")
    target_mean: float = field(0.0, help="mean of normalised demonstration rewards")
    target_std: float = field(1.0, help="std of normalised demonstration rewards (gain_bias only)")

    def __post_init__(self) -> None:
        if self.max_examples < 1:
            raise ValueError(f"normalize.max_examples must be >= 1, got {self.max_examples}")
        if self.target_std <= 0:
            raise ValueError(f"normalize.target_std must be > 0, got {self.target_std}")


@dataclass(frozen=True)
class RewardOptimConfig(OptimConfig):
    """SFT's optimizer knobs with the RM's default learning rate."""

    lr: float = field(9e-6, help="peak learning rate (paper, 6B RM: 9e-6; small models usually need more)")


@dataclass(frozen=True)
class RewardConfig:
    model: ModelConfig = field(default_factory=ModelConfig, help="initial model: normally the SFT checkpoint (its unembedding is replaced by a scalar head)")
    data: RewardDataConfig = field(default_factory=RewardDataConfig, help="rankings")
    optim: RewardOptimConfig = field(default_factory=RewardOptimConfig, help="optimizer and schedule (paper: lr 9e-6, cosine to 10%)")
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig, help="reward normalisation stored with the checkpoint")
    output_dir: str = field("runs/rm", help="run directory (resumed when it holds checkpoints)")
    loss: Literal["grouped", "shuffled_pairs"] = field(
        "grouped", help="grouped: Eq. 1, a prompt's C(K,2) pairs are one batch element; shuffled_pairs: ABLATION, pairs as independent examples"
    )
    epochs: float = field(1.0, help="passes over the rankings (paper: 1; more overfits)")
    max_steps: int | None = field(None, help="stop after this many optimizer steps (overrides epochs)")
    batch_size: int = field(64, help="prompts per optimizer step over all processes (paper: 64); pairs in shuffled_pairs mode")
    micro_batch_size: int = field(8, help="prompts per forward/backward on one process (gradient accumulation fills the rest)")
    seed: int = field(0, help="seed for data order and head init")
    eval_every: int = field(0, help="held-out evaluation every N steps (0: at the end only)")
    save_every: int = field(0, help="resumable checkpoint every N steps (0: at each evaluation)")
    keep_checkpoints: int = field(2, help="resumable checkpoints kept on disk")
    resume: bool = field(True, help="continue from the newest checkpoint in output_dir, or return its finished final/ (refused, naming the settings, when it was made with another config); false: start over there, removing its checkpoints and final/")
    device: str = field("auto", help="auto (accelerate's choice: a GPU when torch sees one; under accelerate launch, each process "
                        "its own) | cpu | cuda[:i] (a single-process run)")
    threads: int = field(0, help="torch CPU threads (0: torch default)")
    progress: bool = field(True, help="show a progress bar")
    tensorboard: bool = field(True, help="write TensorBoard events")

    def __post_init__(self) -> None:
        check_schedule(self)
        if self.model.lora.enabled:
            raise ValueError("model.lora.enabled: LoRA reward models are not supported; train all weights")
