"""Scorers: one interface for every episode-level reward PPO can optimise.

``Scorer.score(batch) -> (B,)`` receives the episodes both as text (prompts, decoded
responses) and as the policy's padded token tensors, so a reward model that shares the
policy's tokenizer reads the tokens directly (no decode / re-encode, one batched forward),
and anything else (a programmatic reward, the task grader, a remote service) reads text.

The missing-EOS penalty is not a scorer's business: the trainer replaces the score of an
unfinished response afterwards (method doc §3b.4), whatever the scorer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import torch

from instructrl.data.schemas import Prompt


@dataclass
class ScoreBatch:
    """Episodes to score. Tensors are the policy's: prompt left-padded, response right-padded."""

    prompts: list[Prompt]
    responses: list[str]  # decoded, EOS and pads stripped
    input_ids: torch.Tensor  # (B, L) prompt + response
    attention_mask: torch.Tensor  # (B, L)
    position_ids: torch.Tensor  # (B, L)
    last_index: torch.Tensor  # (B,) column of each row's last response token (its EOS when finished)
    prompt_texts: list[str]  # rendered prompts, as the policy saw them


class Scorer(Protocol):
    def score(self, batch: ScoreBatch) -> torch.Tensor: ...


class CallableScorer:
    """Any Python callable ``(prompt, response_text) -> float``: a programmatic reward,
    the task grader, a remote service."""

    def __init__(self, fn: Callable[[Prompt, str], float]):
        self.fn = fn

    def score(self, batch: ScoreBatch) -> torch.Tensor:
        return torch.tensor([float(self.fn(p, r)) for p, r in zip(batch.prompts, batch.responses)], dtype=torch.float32)


class RewardModelScorer:
    """A reward model (``*ForSequenceClassification``, num_labels=1) with its stored
    normalisation: the normalised head output at each episode's last response token.

    When the RM shares the policy's tokenizer, it reads the policy's tensors as they are;
    otherwise it re-tokenizes ``prompt_text + response + EOS`` with its own tokenizer.
    """

    def __init__(self, model: Any, tokenizer: Any, policy_tokenizer: Any, batch_size: int = 64):
        from instructrl.models.dropout import set_dropout

        self.model = model.eval()
        set_dropout(self.model, 0.0)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.same_tokens = tokenizer.get_vocab() == policy_tokenizer.get_vocab()

    @torch.no_grad()
    def score(self, batch: ScoreBatch) -> torch.Tensor:
        from instructrl.models.heads import normalized_reward, reward_at_last, scalar_values

        ids, mask, pos, last = batch.input_ids, batch.attention_mask, batch.position_ids, batch.last_index
        if not self.same_tokens:
            ids, mask, pos, last = self._retokenize(batch)
        device = next(self.model.parameters()).device
        out = []
        for s in range(0, ids.shape[0], self.batch_size):
            sl = slice(s, s + self.batch_size)
            v = scalar_values(self.model, ids[sl].to(device), mask[sl].to(device), pos[sl].to(device))  # (b, L)
            out.append(normalized_reward(self.model, reward_at_last(v, last[sl].to(device))).float().cpu())
        return torch.cat(out)

    def _retokenize(self, batch: ScoreBatch):
        from instructrl.ops import position_ids_from_mask

        tok = self.tokenizer
        rows = [tok(p + r, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for p, r in zip(batch.prompt_texts, batch.responses)]
        L = max(len(r) for r in rows)
        ids = torch.full((len(rows), L), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), L), dtype=torch.long)
        for i, r in enumerate(rows):  # right padding: the last real token is at len - 1
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        last = torch.tensor([len(r) - 1 for r in rows])
        return ids, mask, position_ids_from_mask(mask), last


# ------------------------------------------------------------ programmatic rewards


def lowercase_share(prompt: Prompt, response: str) -> float:
    """Share of the response's letters that are lowercase (0 when it has no letters)."""
    letters = [c for c in response if c.isalpha()]
    if not letters:
        return 0.0
    return sum(c.islower() for c in letters) / len(letters)


def word_count_reward(target: int) -> Callable[[Prompt, str], float]:
    """``1 - |words - target| / target``, floored at -1: 1 at exactly ``target`` words."""
    if target < 1:
        raise ValueError(f"target must be >= 1, got {target}")

    def fn(prompt: Prompt, response: str) -> float:
        return max(-1.0, 1.0 - abs(len(response.split()) - target) / target)

    return fn


def task_quality(prompt: Prompt, response: str) -> float:
    """The task grader's gold quality in [0, 1] (``instructrl.tasks.grade``): the same
    scorer the simulated labelers and evaluation use (style.md §6)."""
    from instructrl.tasks import grade

    return float(grade(prompt, response).quality)


def import_callable(path: str) -> Callable[[Prompt, str], float]:
    """``'package.module:function'`` -> the function."""
    import importlib

    module, _, name = path.partition(":")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"reward.fn {path!r} cannot be imported: {e}") from None
    if not callable(fn):
        raise ValueError(f"reward.fn {path!r} is not callable")
    return fn


def build_scorer(reward_cfg: Any, policy_tokenizer: Any, device: torch.device, batch_size: int = 64) -> Scorer:
    """The scorer a ``RewardConfig`` names."""
    kind = reward_cfg.kind
    if kind == "model":
        from instructrl.models.heads import load_scalar_model, trained_scalar_path

        rm, rm_tok = load_scalar_model(trained_scalar_path(reward_cfg.model, "reward.model"), device=device)
        return RewardModelScorer(rm, rm_tok, policy_tokenizer, batch_size)
    if kind == "lowercase":
        return CallableScorer(lowercase_share)
    if kind == "word_count":
        return CallableScorer(word_count_reward(reward_cfg.target_words))
    if kind == "task":
        return CallableScorer(task_quality)
    if kind == "callable":
        return CallableScorer(import_callable(reward_cfg.fn))
    raise ValueError(f"reward.kind {kind!r} is not one of model, task, lowercase, word_count, callable")
