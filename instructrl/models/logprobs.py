"""Forward passes that compute the lm head only where a log-prob is needed.

On a CPU most RLHF time is spent in forwards and backwards (README, issue 7). With a
49k vocabulary the lm head is a fifth of SmolLM2-135M's FLOPs, so we run the backbone,
select the positions that carry a loss or a log-prob, and apply the head to those only.

Indexing convention (the off-by-one that bites): ``target_mask[b, t]`` marks token
``input_ids[b, t]`` as a target; its log-prob comes from the hidden state at ``t - 1``.
Position 0 can never be a target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from instructrl.ops import position_ids_from_mask


def unwrap(model: Any) -> Any:
    """The underlying ``*ForCausalLM`` (peft and DDP wrappers removed; LoRA layers kept)."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, torch.nn.Module):  # DDP
            model = model.module
        elif model.__class__.__name__.startswith("Peft") and hasattr(model, "get_base_model"):
            model = model.get_base_model()
        else:
            return model


def backbone(model: Any) -> torch.nn.Module:
    """The transformer without the lm head (``LlamaModel`` for ``LlamaForCausalLM``)."""
    m = unwrap(model)
    base = getattr(m, "base_model_prefix", "model")
    if hasattr(m, base):
        return getattr(m, base)
    if hasattr(m, "model"):
        return m.model
    raise TypeError(f"cannot find the backbone of {type(m).__name__}")


def lm_head(model: Any) -> torch.nn.Module:
    return unwrap(model).get_output_embeddings()


def hidden_states(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    position_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """Last hidden states (B, T, C). Left padding gets position ids that skip pads.

    ``attention_mask=None`` with resetting ``position_ids`` means packed rows: transformers
    then builds a block-diagonal causal mask, so packed examples do not see each other.
    """
    if position_ids is None and attention_mask is not None:
        position_ids = position_ids_from_mask(attention_mask)
    out = backbone(model)(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False)
    return out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]


@dataclass
class SelectedLogits:
    logits: torch.Tensor  # (N, V) at the selected positions, already divided by temperature
    targets: torch.Tensor  # (N,) the token each row predicts
    index: tuple[torch.Tensor, torch.Tensor]  # (batch idx, target position) of each row


def selected_logits(
    model: Any,
    input_ids: torch.Tensor,
    target_mask: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    position_ids: torch.Tensor | None = None,
    temperature: float = 1.0,
) -> SelectedLogits:
    """Logits (N, V) predicting each target token, the lm head applied to N rows only."""
    h = hidden_states(model, input_ids, attention_mask, position_ids)  # (B, T, C)
    tm = target_mask.bool().clone()
    tm[:, 0] = False  # nothing predicts the first token
    b_idx, t_idx = tm.nonzero(as_tuple=True)  # target positions
    h_sel = h[b_idx, t_idx - 1]  # (N, C): the state *before* each target
    logits = lm_head(model)(h_sel).float()
    if temperature != 1.0:
        logits = logits / temperature  # method doc §3b.5: same T as sampling
    return SelectedLogits(logits=logits, targets=input_ids[b_idx, t_idx], index=(b_idx, t_idx))


def token_logprobs(
    model: Any,
    input_ids: torch.Tensor,
    target_mask: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    position_ids: torch.Tensor | None = None,
    temperature: float = 1.0,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probs (B, T), zero where ``target_mask`` is false; optional entropy (B, T)."""
    sel = selected_logits(model, input_ids, target_mask, attention_mask, position_ids, temperature)
    logp_all = F.log_softmax(sel.logits, dim=-1)  # (N, V)
    lp = logp_all.gather(-1, sel.targets.unsqueeze(-1)).squeeze(-1)  # (N,)
    out = torch.zeros(input_ids.shape, dtype=lp.dtype, device=lp.device)
    out[sel.index] = lp
    ent = None
    if with_entropy:
        e = -(logp_all.exp() * logp_all).sum(-1)
        ent = torch.zeros(input_ids.shape, dtype=e.dtype, device=e.device)
        ent[sel.index] = e
    return out, ent


def lm_loss_sum(
    model: Any,
    input_ids: torch.Tensor,
    labels: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    position_ids: torch.Tensor | None = None,
) -> tuple[torch.Tensor, int]:
    """Summed next-token cross-entropy over tokens whose ``labels != -100`` (labels are
    aligned with ``input_ids``: ``labels[t]`` is the target at position t). Returns
    (sum, n_tokens); the caller divides by the global token count."""
    sel = selected_logits(model, input_ids, labels != -100, attention_mask, position_ids)
    loss = F.cross_entropy(sel.logits, sel.targets, reduction="sum")
    return loss, int(sel.targets.numel())


@torch.no_grad()
def sequence_logprobs(
    model: Any,
    tokenizer: Any,
    contexts: list[str],
    continuations: list[str],
    batch_size: int = 8,
) -> list[float]:
    """Sum of log p(continuation tokens | context) for each pair (evaluation helper).

    Context and continuation are tokenized separately and concatenated, so the
    continuation's tokens are exactly those scored (as lm-evaluation-harness does).
    """
    if len(contexts) != len(continuations):
        raise ValueError(f"{len(contexts)} contexts but {len(continuations)} continuations")
    was_training = model.training
    model.eval()
    out: list[float] = []
    pad = tokenizer.pad_token_id
    for s in range(0, len(contexts), batch_size):
        rows, masks = [], []
        for ctx, cont in zip(contexts[s : s + batch_size], continuations[s : s + batch_size]):
            c_ids = tokenizer(ctx, add_special_tokens=False)["input_ids"]
            x_ids = tokenizer(cont, add_special_tokens=False)["input_ids"]
            if not x_ids:
                raise ValueError(f"empty continuation after tokenization: {cont!r}")
            rows.append(c_ids + x_ids)
            masks.append([0] * len(c_ids) + [1] * len(x_ids))
        T = max(len(r) for r in rows)
        ids = torch.full((len(rows), T), pad, dtype=torch.long)
        attn = torch.zeros((len(rows), T), dtype=torch.long)
        tgt = torch.zeros((len(rows), T), dtype=torch.bool)
        for i, (r, m) in enumerate(zip(rows, masks)):  # left padding
            ids[i, T - len(r) :] = torch.tensor(r)
            attn[i, T - len(r) :] = 1
            tgt[i, T - len(r) :] = torch.tensor(m, dtype=torch.bool)
        lp, _ = token_logprobs(model, ids, tgt, attn)
        out.extend(lp.sum(-1).tolist())
    model.train(was_training)
    return out
