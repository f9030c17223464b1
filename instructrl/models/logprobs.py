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

from .attention import is_enabled as attention_is_enabled


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
    pieces: list | None = None,
) -> torch.Tensor:
    """Last hidden states (B, T, C). Left padding gets position ids that skip pads.

    ``pieces`` (one list per row of ``(start, end, [spans it also sees])``, see
    models/attention.py) marks shared-context rows; under ``instructrl_sdpa`` they replace
    ``attention_mask`` (the equivalent dense 4D mask, which every other kernel needs).

    ``attention_mask=None`` with resetting ``position_ids`` means packed rows: packed
    examples never see each other (per-example attention under ``instructrl_sdpa``, a
    block-diagonal mask under plain ``sdpa``).

    Under ``instructrl_sdpa`` (models/attention.py) a padded batch runs padding-free: the
    real tokens of all rows form one packed row, and the states are scattered back (zeros
    at pads). No FLOP is spent on a pad; values and gradients equal the padded forward.
    """
    if position_ids is None and attention_mask is not None:
        position_ids = position_ids_from_mask(attention_mask)
    bb = backbone(model)
    if pieces is not None and attention_is_enabled(bb):
        return _last(bb(input_ids=input_ids, position_ids=position_ids, instructrl_pieces=pieces, use_cache=False))
    if attention_mask is not None and attention_mask.ndim == 2 and attention_is_enabled(bb):
        real = attention_mask.bool()
        if bool(real.all()):
            return _last(bb(input_ids=input_ids, position_ids=position_ids, use_cache=False))
        B, T = input_ids.shape
        cu = F.pad(real.sum(-1).cumsum(0), (1, 0))
        flat = bb(input_ids=input_ids[real].unsqueeze(0), position_ids=position_ids[real].unsqueeze(0), cu_seq_lens_q=cu, use_cache=False)
        h_flat = _last(flat)[0]
        h = h_flat.new_zeros(B, T, h_flat.shape[-1])
        h[real] = h_flat
        return h
    if attention_mask is None and position_ids is not None and input_ids.shape[0] == 1 and attention_is_enabled(bb):
        # a packed row: find its examples once here, not in every layer
        pos = position_ids.reshape(-1)
        starts = torch.nonzero(pos[1:] != pos[:-1] + 1).flatten() + 1
        cu = torch.cat([starts.new_zeros(1), starts, starts.new_tensor([pos.numel()])])
        return _last(bb(input_ids=input_ids, position_ids=position_ids, cu_seq_lens_q=cu, use_cache=False))
    return _last(bb(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False))


def _last(out: Any) -> torch.Tensor:
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
    hidden: torch.Tensor | None = None,
) -> SelectedLogits:
    """Logits (N, V) predicting each target token, the lm head applied to N rows only.
    ``hidden``: the backbone's states (B, T, C) when the caller already has them."""
    h = hidden_states(model, input_ids, attention_mask, position_ids) if hidden is None else hidden  # (B, T, C)
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
    hidden: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probs (B, T), zero where ``target_mask`` is false; optional entropy (B, T)."""
    sel = selected_logits(model, input_ids, target_mask, attention_mask, position_ids, temperature, hidden)
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
    if attention_is_enabled(backbone(model)):
        return _shared_context_logprobs(model, tokenizer, contexts, continuations, batch_size)
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


def _shared_context_logprobs(model: Any, tokenizer: Any, contexts: list[str], continuations: list[str], batch_size: int) -> list[float]:
    """``sequence_logprobs`` in shared-context rows (``instructrl_pieces``). Consecutive pairs
    with one context form a run; ``batch_size`` runs go into one row: their longest common
    token prefix once (TruthfulQA's six-shot primer), each context's remainder seeing it,
    and each continuation seeing its context and itself. 817 questions with ~12 choices
    each then encode the primer 817 / batch_size times, not ~10,000. Equal to scoring each
    pair alone (tested)."""
    was_training = model.training
    model.eval()
    runs: list[tuple[int, int]] = []  # [start, end) of pairs sharing a context
    for i, c in enumerate(contexts):
        if runs and contexts[runs[-1][0]] == c:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    out = [0.0] * len(contexts)
    with torch.no_grad():
        for r0 in range(0, len(runs), batch_size):
            chunk = runs[r0 : r0 + batch_size]
            ctx_ids = [tokenizer(contexts[s], add_special_tokens=False)["input_ids"] for s, _ in chunk]
            if any(not c for c in ctx_ids):
                raise ValueError(f"empty context after tokenization: {contexts[chunk[[len(c) for c in ctx_ids].index(0)][0]]!r}")
            lcp = _common_prefix(ctx_ids) if len(chunk) > 1 else 0
            lcp = min(lcp, min(len(c) for c in ctx_ids) - 1)  # every context keeps >= 1 token of its own
            row, pos = list(ctx_ids[0][:lcp]), list(range(lcp))
            pieces: list = [(0, lcp, ())] if lcp else []
            shared = ((0, lcp),) if lcp else ()
            pred, tgt, owner = [], [], []
            for (s, e), c_ids in zip(chunk, ctx_ids):
                a = len(row)
                row.extend(c_ids[lcp:])
                pos.extend(range(lcp, len(c_ids)))
                pieces.append((a, len(row), shared))
                sees = shared + ((a, len(row)),)
                last_ctx = len(row) - 1
                for i in range(s, e):
                    x_ids = tokenizer(continuations[i], add_special_tokens=False)["input_ids"]
                    if not x_ids:
                        raise ValueError(f"empty continuation after tokenization: {continuations[i]!r}")
                    start = len(row)
                    for j, tok_id in enumerate(x_ids):
                        pred.append(last_ctx if j == 0 else start + j - 1)  # the state that predicts it
                        tgt.append(tok_id)
                        owner.append(i)
                    row.extend(x_ids)
                    pos.extend(range(len(c_ids), len(c_ids) + len(x_ids)))
                    pieces.append((start, len(row), sees))
            h = hidden_states(model, torch.tensor([row]), None, torch.tensor([pos]), pieces=[pieces])[0]
            logits = lm_head(model)(h[torch.tensor(pred)]).float()
            lp = F.log_softmax(logits, dim=-1).gather(-1, torch.tensor(tgt).unsqueeze(-1)).squeeze(-1)
            sums: dict[int, float] = {}
            for i, v in zip(owner, lp.double().tolist()):
                sums[i] = sums.get(i, 0.0) + v
            for i, v in sums.items():
                out[i] = v
    model.train(was_training)
    return out


def _common_prefix(seqs: list[list[int]]) -> int:
    n = min(len(s) for s in seqs)
    first = seqs[0]
    for k in range(n):
        if any(s[k] != first[k] for s in seqs[1:]):
            return k
    return n
