"""``LoopConfig``: the whole InstructGPT loop from one YAML (``instructrl run``).

Stage configs (``sft``, ``rm``, ``ppo``) are override mappings for ``SFTConfig``,
``RewardConfig`` and ``PPOConfig``; the loop fills in paths (data, models, output dirs) and
builds every stage's config before any stage runs (``stages.check_stage_configs``), so the
stage's own validation names a bad key at once. Presets are YAML files in
``instructrl/loop/presets/`` applied before the user's file and CLI overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from instructrl.config import field

PRESETS = Path(__file__).parent / "presets"


@dataclass(frozen=True)
class BaseModelConfig:
    model: str = field("tiny:hidden=128,layers=4,heads=4,kv_heads=2,ffn=384,ctx=512", help="base LM spec before SFT (tiny:..., smollm2-135m, HF dir, hub id)")
    pretrain: bool = field(True, help="first pretrain the base LM on the generated corpus (for a from-scratch tiny model)")
    pretrain_docs: int = field(6000, help="generated pretraining documents")
    pretrain_epochs: float = field(2.0, help="passes over the pretraining corpus")
    pretrain_lr: float = field(3e-3, help="pretraining peak learning rate")
    pretrain_batch_size: int = field(32, help="pretraining sequences per step")
    max_seq_len: int = field(256, help="pretraining sequence length")


@dataclass(frozen=True)
class LoopDataConfig:
    prompts: str | None = field(None, help="your own prompt set instead of generated ones (JSONL of prompts | hf:<name>[@split] | generated:<n>[@seed]), "
                                "processed as below; the simulated labelers judge only prompts with a spec, so real prompts need labelers=<app URL>")
    n_prompts: int = field(4000, help="prompts generated before processing (dedup, per-user cap, user split, PII filter); unused with data.prompts")
    n_users: int = field(150, help="simulated users the prompts come from")
    difficulty: str = field("medium", help="task difficulty: easy | medium | hard")
    user_cap: int = field(200, help="at most this many prompts per user (the paper: 200)")
    split: tuple[float, ...] = field((0.8, 0.1, 0.1), help="train/valid/test fractions, split by user")
    sft_prompts: int = field(1500, help="prompts labelers write demonstrations for (round 0)")
    rank_prompts: int = field(300, help="prompts ranked per round")
    k: int = field(4, help="responses ranked per prompt (paper: 4..9)")
    rank_temperature: tuple[float, ...] = field(
        (1.0,), help="sampling temperature of the K responses to rank; several values are taken by the K slots in turn "
        "(e.g. 1.0,0.7 with K = 4: two samples at each). The paper does not state it; docs/loop.md")
    test_prompts: int = field(200, help="evaluation prompts from held-out (test) users")
    closed_domain_test: int = field(96, help="extra closed-domain test prompts (held-out users) the hallucination rate is also measured on (docs/loop.md)")
    ptx_text: Literal["generated", "self"] = field(
        "generated", help="pretraining text for SFT's mix, PPO-ptx and the held-out alignment-tax loss: 'generated' (instructrl's corpus, "
        "which a base pretrained by the loop learned from) or 'self' (documents sampled from the base model itself: the stand-in "
        "for a pretrained base's own pretraining data, which is not at hand; docs/loop.md)")
    sft_mix_text: Literal["ptx_text", "generated"] = field(
        "ptx_text", help="SFT's 10% pretraining mix: the same text as PPO-ptx ('ptx_text') or instructrl's generated corpus "
        "('generated', which shares the generated prompts' invented world) while PPO-ptx and the alignment tax use ptx_text")
    self_text_tokens: int = field(64, help="tokens sampled per document with ptx_text=self")
    ptx_docs: int = field(3000, help="pretraining documents for the SFT mix and PPO-ptx")
    heldout_docs: int = field(200, help="held-out pretraining documents for the alignment tax")
    corpus_reading: float = field(0.0, help="share of pretraining paragraphs that are reading documents: a passage, then text referring back to it (docs/tasks-and-labelers.md)")
    corpus_case: float = field(0.0, help="share of pretraining documents written all in capitals or all in lower case")
    seed: int = field(0, help="seed of the prompt generator and splits")

    def __post_init__(self) -> None:
        if not 4 <= self.k <= 9 and self.k != 2 and self.k != 3:
            raise ValueError(f"data.k must be in 2..9 (paper: 4..9), got {self.k}")
        if not self.rank_temperature or any(not 0.0 < t <= 2.0 for t in self.rank_temperature):
            raise ValueError(f"data.rank_temperature must be one or more temperatures in (0, 2], got {self.rank_temperature}")
        if self.closed_domain_test < 0:
            raise ValueError(f"data.closed_domain_test must be >= 0, got {self.closed_domain_test}")
        if len(self.split) != 3 or abs(sum(self.split) - 1.0) > 1e-6:
            raise ValueError(f"data.split must be 3 fractions summing to 1, got {self.split}")
        if self.self_text_tokens < 1 or self.ptx_docs < 1 or self.heldout_docs < 1:
            raise ValueError(f"data.self_text_tokens, data.ptx_docs and data.heldout_docs must be >= 1, "
                             f"got {self.self_text_tokens}, {self.ptx_docs}, {self.heldout_docs}")
        for name in ("corpus_reading", "corpus_case"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"data.{name} must be a fraction in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class LoopEvalConfig:
    max_new_tokens: int = field(64, help="response length at evaluation")
    temperature: float = field(0.0, help="sampling temperature at evaluation (0 = greedy)")
    kl_samples: int = field(64, help="test prompts sampled at T=1 to measure KL to the reference")
    vs_previous: bool = field(True, help="from round 2 on, also judge the round's policy head-to-head against the previous round's (does iteration pay?)")
    heldout_seed: int = field(1, help="seed of the held-out labeler panel")
    reference: bool = field(
        True,
        help="simulated panel, generated prompts: round 1's evaluation also judges the demonstrator's answers against SFT's, "
        "the most the win rate can show with this panel and SFT",
    )
    best_of: int = field(
        0,
        help="with eval.reference: also judge the best of SFT's greedy answer and this many T=1 samples, picked by the "
        "grader (round 1: an oracle reranker of SFT's own answers) and by each round's RM (rejection sampling, the "
        "baseline PPO has to beat); 0 = off",
    )
    interval: Literal["bootstrap", "wilson"] = field(
        "bootstrap",
        help="95% interval of the win rate: percentile bootstrap over prompts (exact for scores of 0, .25, .5, .75, 1), "
        "or Wilson on the mean score (conservative when ties are frequent); the other is recorded too",
    )

    def __post_init__(self) -> None:
        if self.best_of < 0:
            raise ValueError(f"eval.best_of must be >= 0 (0 = off), got {self.best_of}")


@dataclass(frozen=True)
class LoopConfig:
    name: str = field("default", help="run name: artifacts go to <runs_dir>/<name>/")
    runs_dir: str = field("runs", help="where runs live")
    rounds: int = field(2, help="rounds of collect rankings -> RM -> PPO after the SFT round")
    seed: int = field(0, help="global seed")
    base: BaseModelConfig = field(default_factory=BaseModelConfig, help="the pretrained starting point")
    data: LoopDataConfig = field(default_factory=LoopDataConfig, help="prompt dataset and per-round sizes")
    sample_from: Literal["current", "all"] = field("current", help="responses to rank come from the current policy, or from it and all earlier ones")
    ppo_init: Literal["sft", "last"] = field("sft", help="each round's PPO starts from the SFT policy (the paper) or the last PPO policy")
    rm_init: Literal["sft", "base"] = field("sft", help="the reward model starts from the SFT model (the paper) or the base LM")
    labelers: str = field("simulated", help="'simulated' (the rule-based panel) or the URL of an instructrl labeling app")
    labelers_token: str | None = field(None, help="API token for the labeling app (or env INSTRUCTRL_LABELAPP_TOKEN)")
    labelers_deadline_s: float | None = field(None, help="proceed with a partial batch after this many seconds of waiting (app only)")
    labelers_poll_s: float = field(5.0, help="seconds between polls of the labeling app")
    ptx_ablation: bool = field(False, help="also train plain PPO (no ptx) each round, to measure the alignment tax PPO-ptx avoids")
    sft: dict = field(default_factory=dict, help="overrides for the SFT stage (SFTConfig keys)")
    rm: dict = field(default_factory=dict, help="overrides for the reward-model stage (RewardConfig keys)")
    ppo: dict = field(default_factory=dict, help="overrides for the PPO stage (PPOConfig keys)")
    eval: LoopEvalConfig = field(default_factory=LoopEvalConfig, help="per-round evaluation")
    device: str = field("auto", help="where every stage runs: the loop's own sampling and scoring (rankings' samples, evaluation, "
                        "the base's documents), pretraining, SFT, the RM and PPO (each stage's default; a stage's own device key "
                        "overrides it): auto (a CUDA GPU when torch sees one, else the CPU) | cpu | cuda[:i] (docs/loop.md)")
    threads: int = field(0, help="torch CPU threads (0: torch default)")
    progress: bool = field(True, help="progress display")

    def __post_init__(self) -> None:
        if self.rounds < 0:
            raise ValueError(f"rounds must be >= 0, got {self.rounds}")
        if not self.labelers.startswith(("http://", "https://")) and self.labelers != "simulated":
            raise ValueError(f"labelers must be 'simulated' or an http(s) URL, got {self.labelers!r}")
        if self.data.ptx_text == "self" and self.base.pretrain:
            raise ValueError("data.ptx_text=self samples the pretraining text from a pretrained base, but base.pretrain=true "
                             "pretrains the base on the generated corpus, which is then its own pretraining text: "
                             "use data.ptx_text=generated, or base.pretrain=false with a pretrained base.model")

    @property
    def root(self) -> Path:
        return Path(self.runs_dir) / self.name
