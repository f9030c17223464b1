"""``EvalConfig``: the frozen config of ``instructrl eval`` (YAML keys = CLI overrides)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from instructrl.config import field

EVALUATORS = (
    "truthfulqa_mc", "truthfulqa_gen", "toxicity", "winrate", "ifeval",
    "hallucination", "perplexity", "lm_eval", "rm_accuracy",
)


def _positive(name: str, value: int | float | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


@dataclass(frozen=True)
class TruthfulQAConfig:
    mc_path: str | None = field(None, help="mc_task.json (or HF-form JSON/JSONL, or a hub id); None: the hub's truthfulqa/truthful_qa")
    gen_path: str | None = field(None, help="TruthfulQA.csv for the generation mode (or a hub id); None: the hub dataset")
    instruction: bool = field(False, help="prefix the paper's 'Instruction+QA' instruction to the QA primer")
    max_new_tokens: int = field(50, help="generation mode: tokens per answer before the first-newline cut")


@dataclass(frozen=True)
class ToxicityConfig:
    prompts: str | None = field(None, help="JSONL of {id, prompt} (e.g. realtoxicityprompts-sample/instructgpt_rtp_prompts_100.jsonl)")
    instructions: list[str] = field(default_factory=lambda: ["none", "respectful", "biased"], help="instruction variants: none, respectful, biased")
    scorer: Literal["profanity_check", "detoxify", "perspective"] = field("profanity_check", help="toxicity scorer")
    detoxify_checkpoint: str | None = field(None, help="local Detoxify .ckpt file (scorer=detoxify; never downloaded)")
    perspective_key_env: str = field("PERSPECTIVE_API_KEY", help="env var holding the Perspective API key (scorer=perspective)")
    perspective_url: str = field("https://commentanalyzer.googleapis.com/v1alpha1/comments:analyze", help="Perspective endpoint")
    max_new_tokens: int = field(20, help="continuation length in tokens (RealToxicityPrompts uses 20)")
    use_template: bool = field(False, help="render prompts with the chat template (default: raw text, as the paper's API calls)")
    threshold: float = field(0.5, help="a continuation is toxic when its score is above this")


@dataclass(frozen=True)
class WinRateConfig:
    prompts: str | None = field(None, help="prompt set: Prompt JSONL, Self-Instruct JSONL (instruction + instances), or generated:<n>[@seed] (instructrl.tasks)")
    baseline: str | None = field(None, help="checkpoint name every other is compared against (default: the first)")
    judge: Literal["reward", "panel", "chat"] = field(
        "reward", help="reward model, simulated held-out labeler panel (task prompts only), or OpenAI-compatible chat endpoint"
    )
    reward_model: str | None = field(None, help="reward model spec for judge=reward")
    panel_seed: int = field(0, help="seed of the held-out labeler panel for judge=panel")
    chat_url: str | None = field(None, help="base URL of an OpenAI-compatible endpoint (…/v1) for judge=chat")
    chat_model: str | None = field(None, help="model name for judge=chat")
    chat_key_env: str = field("OPENAI_API_KEY", help="env var holding the chat endpoint's API key")
    swap: Literal["both", "random"] = field("both", help="position-bias control: judge both orders, or one seeded random order")
    interval: Literal["wilson", "bootstrap"] = field("wilson", help="95% interval: Wilson score or bootstrap over prompts")
    tie_margin: float = field(0.0, help="judge=reward: reward differences within this margin are ties")


@dataclass(frozen=True)
class IFEvalConfig:
    path: str | None = field(None, help="IFEval-format JSONL {key, prompt, instruction_id_list, kwargs}")


@dataclass(frozen=True)
class HallucinationConfig:
    prompts: str | None = field(None, help="JSONL of {prompt, passage}, Prompt records with a passage, Self-Instruct rows, or generated:<n>[@seed]")
    detector: Literal["lexical", "panel"] = field("lexical", help="unsupported names/numbers/quotes, or the panel's hallucination flag")
    panel_seed: int = field(0, help="seed of the held-out labeler panel for detector=panel")


@dataclass(frozen=True)
class AlignmentTaxConfig:
    heldout_text: str | None = field(None, help="held-out text for perplexity (.txt with blank-line-separated documents, or JSONL {text})")
    max_seq_len: int = field(1024, help="perplexity chunk length in tokens")
    lm_eval_tasks: list[str] = field(default_factory=list, help="lm-evaluation-harness tasks (evaluator lm_eval)")
    lm_eval_bin: str = field("lm_eval", help="the lm_eval executable (install lm-eval in its own environment)")


@dataclass(frozen=True)
class RMAccuracyConfig:
    reward_models: list[str] = field(default_factory=list, help="reward model specs to score")
    data: list[str] = field(default_factory=list, help="preference files: HH-RLHF chosen/rejected JSONL(.gz) or Ranking JSONL")


@dataclass(frozen=True)
class EvalConfig:
    checkpoints: list[str] = field(default_factory=list, help="[name=]spec, spec: tiny | smollm2-135m | HF dir | run dir | hub id | predictions:FILE")
    evaluators: list[str] = field(default_factory=lambda: ["truthfulqa_mc"], help=f"evaluators to run, from {list(EVALUATORS)}")
    output_dir: str = field("runs/eval", help="where eval.json, eval.md, plots and per-example JSONL go")
    cache_dir: str | None = field(None, help="generation cache (default: <output_dir>/generations); share it across runs to reuse generations")
    dtype: str = field("float32", help="model dtype")
    device: str = field("auto", help="auto (a CUDA GPU when torch sees one, else the CPU) | cpu | cuda[:i]")
    batch_size: int = field(8, help="generation / scoring batch size")
    max_new_tokens: int = field(256, help="response length for winrate, ifeval and hallucination")
    use_chat_template: bool = field(True, help="render instruction prompts with the tokenizer's chat template when it has one")
    limit: int | None = field(None, help="use only the first N examples of every set (smoke runs)")
    seed: int = field(0, help="seed for random swap order and bootstrap")
    plots: bool = field(True, help="write PNG bar charts (matplotlib)")
    truthfulqa: TruthfulQAConfig = field(default_factory=TruthfulQAConfig, help="TruthfulQA MC1/MC2 and generation")
    toxicity: ToxicityConfig = field(default_factory=ToxicityConfig, help="RealToxicityPrompts-style toxicity")
    winrate: WinRateConfig = field(default_factory=WinRateConfig, help="pairwise win rate against a baseline")
    ifeval: IFEvalConfig = field(default_factory=IFEvalConfig, help="verifiable instruction following")
    hallucination: HallucinationConfig = field(default_factory=HallucinationConfig, help="closed-domain hallucination")
    alignment_tax: AlignmentTaxConfig = field(default_factory=AlignmentTaxConfig, help="perplexity and lm-eval hand-off")
    rm_accuracy: RMAccuracyConfig = field(default_factory=RMAccuracyConfig, help="reward-model accuracy on preference data")

    def __post_init__(self) -> None:
        bad = [e for e in self.evaluators if e not in EVALUATORS]
        if bad:
            raise ValueError(f"unknown evaluator(s) {bad}; known: {list(EVALUATORS)}")
        if not self.evaluators:
            raise ValueError(f"evaluators is empty; pick from {list(EVALUATORS)}")
        for name in ("batch_size", "max_new_tokens", "limit"):
            _positive(name, getattr(self, name))
        _positive("truthfulqa.max_new_tokens", self.truthfulqa.max_new_tokens)
        _positive("toxicity.max_new_tokens", self.toxicity.max_new_tokens)
        _positive("alignment_tax.max_seq_len", self.alignment_tax.max_seq_len)
        needs_model = [e for e in self.evaluators if e != "rm_accuracy"]
        if needs_model and not self.checkpoints:
            raise ValueError(f"evaluators {needs_model} need checkpoints; pass checkpoints=[name=]spec,...")
        required = {
            "toxicity": ("toxicity.prompts", self.toxicity.prompts),
            "winrate": ("winrate.prompts", self.winrate.prompts),
            "ifeval": ("ifeval.path", self.ifeval.path),
            "hallucination": ("hallucination.prompts", self.hallucination.prompts),
            "perplexity": ("alignment_tax.heldout_text", self.alignment_tax.heldout_text),
            "lm_eval": ("alignment_tax.lm_eval_tasks", self.alignment_tax.lm_eval_tasks),
            "rm_accuracy": ("rm_accuracy.data", self.rm_accuracy.data),
        }
        for ev in self.evaluators:
            if ev in required and not required[ev][1]:
                raise ValueError(f"evaluator {ev!r} needs {required[ev][0]} to be set")
        if "rm_accuracy" in self.evaluators and not self.rm_accuracy.reward_models:
            raise ValueError("evaluator 'rm_accuracy' needs rm_accuracy.reward_models to be set")
        bad_ins = [i for i in self.toxicity.instructions if i not in ("none", "respectful", "biased")]
        if bad_ins or not self.toxicity.instructions:
            raise ValueError(f"toxicity.instructions must be from ['none', 'respectful', 'biased'], got {self.toxicity.instructions}")
        if not 0.0 <= self.toxicity.threshold <= 1.0:
            raise ValueError(f"toxicity.threshold must lie in [0, 1], got {self.toxicity.threshold}")
        if "winrate" in self.evaluators:
            if len(self.checkpoints) < 2:
                raise ValueError(f"winrate needs at least 2 checkpoints, got {self.checkpoints}")
            if self.winrate.judge == "reward" and not self.winrate.reward_model:
                raise ValueError("winrate.judge=reward needs winrate.reward_model")
            if self.winrate.judge == "chat" and not (self.winrate.chat_url and self.winrate.chat_model):
                raise ValueError("winrate.judge=chat needs winrate.chat_url and winrate.chat_model")
        if self.winrate.tie_margin < 0:
            raise ValueError(f"winrate.tie_margin must be >= 0, got {self.winrate.tie_margin}")
