"""``PPOConfig``: every knob of ``instructrl ppo``; YAML keys = field names.

Defaults follow InstructGPT (method doc §3a) where the paper states a value, and the
reproductions ([LHP], [N+c], §3b) where it is silent; each help text says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from instructrl.config import field
from instructrl.models.loader import ModelConfig


@dataclass(frozen=True)
class RewardConfig:
    kind: Literal["model", "task", "lowercase", "word_count", "callable"] | None = field(
        None,
        help="default: model when `model` is set, else task. model: a reward-model checkpoint (`model`); task: instructrl.tasks.grade quality; "
        "lowercase: share of letters in lowercase; word_count: 1 - |words - target| / target, floored at -1; "
        "callable: any `fn(prompt, response) -> float` named by `fn`",
    )
    model: str | None = field(None, help="reward model spec (an `instructrl rm` run or scalar HF checkpoint); kind=model only")
    fn: str | None = field(None, help="kind=callable: 'package.module:function' taking (Prompt, response text) -> float (e.g. a remote service client)")
    target_words: int = field(10, help="kind=word_count: the word count that earns reward 1")
    missing_eos_penalty: float | None = field(-1.0, help="score of a response that never emits EOS, instead of its reward (method doc §3b.4; null = no penalty)")

    def __post_init__(self) -> None:
        if self.kind is None:  # a documented default, resolved once: the paper's RM when one is given
            object.__setattr__(self, "kind", "model" if self.model else "task")
        if self.kind == "model" and not self.model:
            raise ValueError("reward.kind='model' needs reward.model (a reward-model checkpoint)")
        if self.kind != "model" and self.model:
            raise ValueError(f"reward.model={self.model!r} is only used with reward.kind='model', not {self.kind!r}")
        if (self.kind == "callable") != bool(self.fn):
            raise ValueError(f"reward.fn is required with reward.kind='callable' and only then (kind={self.kind!r}, fn={self.fn!r})")
        if self.fn and ":" not in self.fn:
            raise ValueError(f"reward.fn must look like 'package.module:function', got {self.fn!r}")
        if self.target_words < 1:
            raise ValueError(f"reward.target_words must be >= 1, got {self.target_words}")


@dataclass(frozen=True)
class ValueConfig:
    kind: Literal["separate", "head", "none"] = field(
        "separate",
        help="separate: its own network (the paper); head: a linear head on the policy (one backbone forward serves both); "
        "none: no value function (ppo.advantage=rloo only)",
    )
    init: str | None = field(None, help="kind=separate: spec to initialise from (default: the reward model, as the paper; else the policy)")
    head_init: Literal["zeros", "normal"] = field("zeros", help="init of a fresh value head ([LHP]: zeros); an RM checkpoint keeps its head")
    lr: float = field(9e-6, help="value learning rate, fixed: no warmup or decay (paper, 1.3B/6B policies: 9e-6; tiny models need more)")
    coef: float = field(0.1, help="value-loss coefficient ([LHP], [N+c]: 0.1)")
    clip: float = field(0.2, help="value clipping range around the rollout values ([LHP]: 0.2)")

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.coef < 0 or self.clip <= 0:
            raise ValueError(f"value.lr and value.clip must be > 0 and value.coef >= 0, got lr={self.lr}, clip={self.clip}, coef={self.coef}")
        if self.kind != "separate" and self.init:
            raise ValueError(f"value.init={self.init!r} is only used with value.kind='separate', not {self.kind!r}")


@dataclass(frozen=True)
class KLConfig:
    coef: float = field(0.02, help="beta, the per-token KL reward coefficient (paper: 0.02, fixed); initial value when adaptive")
    adaptive: bool = field(False, help="adapt beta toward `target` ([LHP] train_policy.py:115-124); the paper uses a fixed beta")
    target: float = field(6.0, help="adaptive: target KL in nats per episode ([LHP] stylistic tasks: 6)")
    horizon: int = field(10_000, help="adaptive: horizon in episodes ([LHP]: 10000)")

    def __post_init__(self) -> None:
        if self.coef < 0:
            raise ValueError(f"kl.coef must be >= 0, got {self.coef}")
        if self.adaptive and (self.target <= 0 or self.horizon < 1):
            raise ValueError(f"adaptive KL needs kl.target > 0 and kl.horizon >= 1, got {self.target}, {self.horizon}")


@dataclass(frozen=True)
class PtxConfig:
    coef: float = field(0.0, help="gamma, the pretraining-loss coefficient: 0 = plain PPO; paper's PPO-ptx: 27.8")
    data: str | None = field(None, help="pretraining text: .jsonl (text field) | .txt | hf:<name> | generated:<n>[@seed]")
    ratio: float = field(8.0, help="pretraining sequences per RL episode (paper: 8x)")
    max_seq_len: int = field(128, help="tokens per pretraining sequence (documents are cut into chunks of this length)")
    micro_batch_size: int = field(16, help="pretraining sequences per forward/backward (memory only: the loss is the same)")
    valid_docs: int = field(32, help="documents held out from `data` for the alignment-tax evaluation")
    append_eos: bool = field(True, help="end each document with EOS (a separator); false for text cut mid-document, e.g. a model's length-capped samples")

    def __post_init__(self) -> None:
        if self.coef < 0 or self.ratio <= 0:
            raise ValueError(f"ptx.coef must be >= 0 and ptx.ratio > 0, got {self.coef}, {self.ratio}")
        if self.coef > 0 and not self.data:
            raise ValueError("ptx.coef > 0 (PPO-ptx) needs ptx.data (a pretraining text source)")
        if self.max_seq_len < 8 or self.micro_batch_size < 1:
            raise ValueError(f"ptx.max_seq_len must be >= 8 and ptx.micro_batch_size >= 1, got {self.max_seq_len}, {self.micro_batch_size}")


@dataclass(frozen=True)
class OptimConfig:
    lr: float = field(1e-5, help="policy peak learning rate (paper: 2.55e-6 .. 2.55e-5 for 1.3B/6B; tiny models need more)")
    warmup_iterations: int = field(10, help="linear warmup over this many iterations (paper: 10)")
    warmup_start: float = field(0.1, help="warmup starts at this fraction of the peak (paper: 0.1)")
    decay: Literal["constant", "linear"] = field("constant", help="after warmup: constant (paper) or linear to 0 ([LHP], [N+c])")
    beta1: float = field(0.9, help="Adam beta1 (paper: 0.9)")
    beta2: float = field(0.95, help="Adam beta2 (paper: 0.95)")
    eps: float = field(1e-5, help="Adam epsilon ([LHP], [N+c]: 1e-5; note torch places it outside the bias correction, method doc §3b.14)")
    eps_style: Literal["torch", "tf"] = field(
        "torch", help="where eps enters Adam: torch (after bias correction) or tf (before it, as [LHP]'s TF Adam; method doc §3b.14)"
    )
    grad_clip: float = field(1.0, help="max global gradient norm per optimizer, policy and value separately (0 = off)")

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.eps <= 0:
            raise ValueError(f"optim.lr and optim.eps must be > 0, got {self.lr}, {self.eps}")
        if self.warmup_iterations < 0 or not 0.0 <= self.warmup_start <= 1.0:
            raise ValueError(f"optim.warmup_iterations must be >= 0 and warmup_start in [0, 1], got {self.warmup_iterations}, {self.warmup_start}")


@dataclass(frozen=True)
class PPOHyperConfig:
    epochs: int = field(1, help="passes over each batch of episodes (paper: 1; [LHP]: 4)")
    minibatches: int = field(8, help="minibatches per epoch (paper: 8 of a 512-episode batch)")
    clip: float = field(0.2, help="policy ratio clipping (paper: 0.2)")
    gamma: float = field(1.0, help="GAE discount (paper: 1, no discount)")
    lam: float = field(0.95, help="GAE lambda ([LHP], [N+c]: 0.95)")
    advantage: Literal["gae", "rloo"] = field(
        "gae",
        help="gae: a learned value function and GAE over the per-token rewards (the paper); rloo: no value function, each "
        "prompt is sampled `group_size` times and every token of an episode gets its KL-penalised return minus the mean "
        "return of the other episodes of its prompt (REINFORCE leave-one-out, Ahmadian et al. 2024; not the paper's method; "
        "needs value.kind=none)",
    )
    group_size: int = field(1, help="responses sampled per prompt in each batch (rloo: >= 2); batch_size counts episodes, so it holds batch_size / group_size prompts")
    whiten_advantages: bool = field(True, help="whiten advantages over the batch's response tokens (method doc §3b.9)")
    whiten_rewards: bool = field(False, help="whiten per-token rewards without shifting the mean ([LHP] default; [N+c] default off)")
    old_logprobs: Literal["auto", "sampling", "recompute"] = field(
        "auto",
        help="sampling: reuse the generator's log-probs (equal to a forward up to float rounding, dropout being off); "
        "recompute: one more policy forward (the first ratio is then exactly 1); auto: sampling in float32, recompute in 16-bit",
    )
    old_values: Literal["auto", "scoring"] = field(
        "auto",
        help="where V_old (for GAE and value clipping) comes from. scoring: a value forward after sampling; "
        "auto: with 1 epoch x 1 minibatch, from the training forward itself (no update has happened yet, so it is the same "
        "value, and one value forward per update is saved), else scoring",
    )

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.minibatches < 1:
            raise ValueError(f"ppo.epochs and ppo.minibatches must be >= 1, got {self.epochs}, {self.minibatches}")
        if self.clip <= 0 or not 0 <= self.gamma <= 1 or not 0 <= self.lam <= 1:
            raise ValueError(f"need ppo.clip > 0 and gamma, lam in [0, 1], got clip={self.clip}, gamma={self.gamma}, lam={self.lam}")
        if self.group_size < 1:
            raise ValueError(f"ppo.group_size must be >= 1, got {self.group_size}")
        if self.advantage == "rloo" and self.group_size < 2:
            raise ValueError(f"ppo.advantage='rloo' needs ppo.group_size >= 2 (the baseline is the other responses to the same prompt), got {self.group_size}")


@dataclass(frozen=True)
class PPODataConfig:
    prompts: str = field("generated:2000", help="training prompts: JSONL path | hf:<name>[@split] | generated:<n>[@seed]")
    valid_prompts: str | None = field(None, help="validation prompts (same spec forms); default: a held-out slice of `prompts`")
    valid_size: int = field(32, help="prompts held out for validation when `valid_prompts` is not given")
    valid_max: int | None = field(None, help="evaluate on at most this many validation prompts (a seeded sample; each evaluation samples, scores and logs them all)")
    columns: dict = field(default_factory=dict, help="hf: column mapping, record field -> dataset column")
    max_prompt_len: int = field(256, help="prompts longer than this many tokens are skipped (the paper: 1k)")
    use_chat_template: bool = field(True, help="render prompts with the tokenizer's chat template when it has one")

    def __post_init__(self) -> None:
        if self.valid_size < 0 or self.max_prompt_len < 1:
            raise ValueError(f"data.valid_size must be >= 0 and data.max_prompt_len >= 1, got {self.valid_size}, {self.max_prompt_len}")
        if self.valid_max is not None and self.valid_max < 1:
            raise ValueError(f"data.valid_max must be >= 1 (or null for all), got {self.valid_max}")


@dataclass(frozen=True)
class PPOConfig:
    model: ModelConfig = field(default_factory=ModelConfig, help="the policy (and, with LoRA, the reference as the same base with adapters disabled)")
    reference: str | None = field(None, help="KL reference spec (default: the policy's initial weights: model.name)")
    reward: RewardConfig = field(default_factory=RewardConfig, help="the scorer (default: reward.model when set, else the task grader)")
    value: ValueConfig = field(default_factory=ValueConfig, help="the value function")
    kl: KLConfig = field(default_factory=KLConfig, help="KL penalty")
    ptx: PtxConfig = field(default_factory=PtxConfig, help="PPO-ptx: pretraining loss mixed into each minibatch")
    optim: OptimConfig = field(default_factory=OptimConfig, help="policy optimizer and schedule (the value optimizer shares all but value.lr)")
    ppo: PPOHyperConfig = field(default_factory=PPOHyperConfig, help="PPO update")
    data: PPODataConfig = field(default_factory=PPODataConfig, help="prompts")
    output_dir: str = field("runs/ppo", help="run directory (resumed when it holds checkpoints)")
    episodes: int = field(256, help="total episodes (paper: 256k)")
    batch_size: int = field(64, help="episodes per iteration (paper: 512)")
    generation_batch_size: int = field(64, help="prompts per generate call (memory only)")
    forward_batch_size: int = field(64, help="sequences per no-grad scoring forward (memory only)")
    max_new_tokens: int = field(64, help="longest response in tokens (paper: 1k)")
    temperature: float = field(1.0, help="sampling temperature T; log-probs use logits / T (paper: 1.0)")
    ema_decay: float | None = field(None, help="EMA of the policy weights, saved to ema/ (paper: 0.992); null = off")
    seed: int = field(0, help="seed for prompt order, sampling, minibatches and init")
    eval_every: int = field(0, help="evaluate every N iterations (0: only at the end)")
    eval_max_new_tokens: int | None = field(None, help="response length for evaluation (default: max_new_tokens)")
    save_every: int = field(0, help="resumable checkpoint every N iterations (0: none until the end)")
    keep_checkpoints: int = field(2, help="resumable checkpoints kept on disk")
    resume: bool = field(True, help="continue from the newest checkpoint in output_dir, or return its finished final/ (refused, naming the settings, when it was made with another config); false: start over there, removing its checkpoints and final/")
    device: str = field("auto", help="auto | cpu | cuda[:i]")
    threads: int = field(0, help="torch CPU threads (0: torch default)")
    progress: bool = field(True, help="show a progress bar")
    tensorboard: bool = field(True, help="write TensorBoard events")

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.episodes < self.batch_size:
            raise ValueError(f"need batch_size >= 1 and episodes >= batch_size, got batch_size={self.batch_size}, episodes={self.episodes}")
        if self.batch_size % self.ppo.minibatches:
            raise ValueError(f"batch_size={self.batch_size} must divide into ppo.minibatches={self.ppo.minibatches}")
        if self.batch_size % self.ppo.group_size:
            raise ValueError(f"batch_size={self.batch_size} must divide into ppo.group_size={self.ppo.group_size} responses per prompt")
        if (self.ppo.advantage == "rloo") != (self.value.kind == "none"):
            raise ValueError(
                f"ppo.advantage='rloo' goes with value.kind='none' and only with it (rloo needs no value function; gae needs one), "
                f"got ppo.advantage={self.ppo.advantage!r}, value.kind={self.value.kind!r}"
            )
        if self.generation_batch_size < 1 or self.forward_batch_size < 1 or self.max_new_tokens < 1:
            raise ValueError("generation_batch_size, forward_batch_size and max_new_tokens must be >= 1")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0 for PPO (log-probs use logits / T), got {self.temperature}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        if self.keep_checkpoints < 1 or self.eval_every < 0 or self.save_every < 0:
            raise ValueError("keep_checkpoints must be >= 1 and eval_every, save_every >= 0")
        if self.model.dropout != 0.0:
            raise ValueError(f"model.dropout must be 0 in PPO (method doc §3b.6: old, new and reference log-probs must agree), got {self.model.dropout}")
        if self.reference and self.model.lora.enabled:
            raise ValueError(f"reference={self.reference!r} cannot be combined with a LoRA policy, whose reference is its own base")

    @property
    def recompute_old_logprobs(self) -> bool:
        """16-bit KV-cached decoding rounds differently from a full forward by ~1e-2 nats."""
        return self.ppo.old_logprobs == "recompute" or (self.ppo.old_logprobs == "auto" and self.model.dtype != "float32")

    @property
    def old_values_from_training(self) -> bool:
        """V_old read off the training forward: exact only when that forward precedes every update."""
        return self.ppo.advantage == "gae" and self.ppo.old_values == "auto" and self.ppo.epochs == 1 and self.ppo.minibatches == 1

    @property
    def iterations(self) -> int:
        return self.episodes // self.batch_size
