"""Padding-free attention: one causal flash attention per packed example.

Transformers handles a packed row (no attention mask, position ids that restart per
example) by building a dense block-diagonal ``(T, T)`` mask and running SDPA with it. A
mask rules out the flash kernels, so on a CPU the math kernel materialises every
``T x T`` score, most of them masked: a row of eight 170-token examples computes eight
times the attention it needs. ``instructrl_sdpa`` (registered with transformers' attention
and mask interfaces) instead cuts the row at the example boundaries and runs
``scaled_dot_product_attention(is_causal=True)`` on each example, which dispatches to the
flash kernel (CPU and CUDA) and never looks at another example's keys.

Where it applies, and where it steps aside:

- no attention mask and no KV cache (training forwards, scoring forwards): per-example
  causal attention, the examples found from ``cu_seq_lens_q`` when the caller passes it
  (``hidden_states`` does for the padded batches it unpads) or from position-id resets;
- anything else (a 2D padding mask, a 4D custom mask, KV-cached generation): exactly
  transformers' own ``sdpa`` path, with its own mask.

- shared-context rows (``instructrl_pieces``, passed by ``hidden_states(pieces=...)``): a
  context once, then several continuations that each see the context and themselves (the
  reward model's prompt + K responses; TruthfulQA's few-shot primer once, its questions,
  and each question's choices), each piece attending only to what it may see, instead of
  one dense masked ``(T, T)`` attention over the row.

``hidden_states`` (models/logprobs.py) uses this to run *padded* batches padding-free: the
real tokens of every row go into one packed row, and the hidden states are scattered
back. Values and gradients equal plain ``sdpa`` (tests/unit/test_attention.py).

Only decoder-only models with plain causal attention are switched (Llama, Mistral, Qwen2/3
without sliding windows, ...); others keep ``sdpa``. ``model.attention`` chooses
(``auto``, the default, switches where supported; ``sdpa``, ``eager`` or
``flash_attention_2`` are passed to transformers). Transformers does not write the
implementation into a saved ``config.json``, so checkpoints load anywhere (tested).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F

NAME = "instructrl_sdpa"
# Families whose attention is plain causal self-attention with rotary positions: the only
# ones whose mask we may drop for a packed row.
SUPPORTED_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3", "olmo", "olmo2", "granite", "smollm3"})

_registered = False


def _segments(n_tokens: int, position_ids: torch.Tensor | None, cu_seq_lens: torch.Tensor | None) -> list[int]:
    """Boundaries ``[0, e1, e2, ..., n]`` of the examples in a packed row."""
    if cu_seq_lens is not None:
        bounds = [int(x) for x in cu_seq_lens.tolist()]
        if bounds[0] != 0 or bounds[-1] != n_tokens:
            raise ValueError(f"cu_seq_lens {bounds[:3]}...{bounds[-1]} does not cover a row of {n_tokens} tokens")
        return bounds
    if position_ids is None:
        return [0, n_tokens]
    pos = position_ids.reshape(-1)
    starts = (torch.nonzero(pos[1:] != pos[:-1] + 1).flatten() + 1).tolist()
    return [0, *starts, n_tokens]


def _per_example_attention(query, key, value, bounds: list[int], scaling: float | None, dropout: float, gqa: bool) -> torch.Tensor:
    """(1, H, T, D) query -> (1, H, T, D) output, causal within each [s, e) segment."""
    outs = []
    for s, e in zip(bounds[:-1], bounds[1:]):
        if e <= s:
            continue
        outs.append(
            F.scaled_dot_product_attention(
                query[:, :, s:e], key[:, :, s:e], value[:, :, s:e], dropout_p=dropout, scale=scaling, is_causal=True, enable_gqa=gqa
            )
        )
    return outs[0] if len(outs) == 1 else torch.cat(outs, dim=2)


Span = tuple[int, int]
Piece = tuple[int, int, Sequence[Span]]  # (start, end, spans it also sees, all before it)


def _piece_attention(query, key, value, pieces: Sequence[Piece], T: int, scaling: float | None, dropout: float, gqa: bool) -> torch.Tensor:
    """One row of pieces. A piece attends causally to itself and fully to its visible spans
    (a context, or a shared primer and a question), never to anything else. A piece that
    sees nothing else is one causal flash attention; one with visible spans runs SDPA on
    its own queries against ``spans + itself`` with a small ``(L, V + L)`` mask. Columns in
    no piece (padding) get zeros."""
    B, H, _, D = query.shape
    pieces = sorted(pieces, key=lambda p: p[0])
    out, t = [], 0
    for s, e, spans in pieces:
        if e <= s:
            continue
        if s < t:
            raise ValueError(f"attention pieces overlap at column {s}")
        if s > t:
            out.append(query.new_zeros(B, H, s - t, D))
        if not spans:
            o = F.scaled_dot_product_attention(query[:, :, s:e], key[:, :, s:e], value[:, :, s:e], dropout_p=dropout, scale=scaling, is_causal=True, enable_gqa=gqa)
        else:
            if any(b > s for _, b in spans):
                raise ValueError(f"piece [{s}, {e}) sees a span that does not end before it: {list(spans)}")
            k = torch.cat([key[:, :, a:b] for a, b in spans] + [key[:, :, s:e]], dim=2)
            v = torch.cat([value[:, :, a:b] for a, b in spans] + [value[:, :, s:e]], dim=2)
            L, V = e - s, k.shape[2] - (e - s)
            mask = torch.ones(L, V + L, dtype=torch.bool, device=query.device)
            mask[:, V:] = torch.ones(L, L, dtype=torch.bool, device=query.device).tril()
            o = F.scaled_dot_product_attention(query[:, :, s:e], k, v, attn_mask=mask, dropout_p=dropout, scale=scaling, enable_gqa=gqa)
        out.append(o)
        t = e
    if t < T:
        out.append(query.new_zeros(B, H, T - t, D))
    return out[0] if len(out) == 1 else torch.cat(out, dim=2)


def attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    B, _, T, _ = query.shape
    if attention_mask is not None or key.shape[2] != T or T == 1 or kwargs.get("position_bias") is not None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)
    gqa = getattr(module, "num_key_value_groups", 1) > 1
    pieces = kwargs.get("instructrl_pieces")
    if pieces is not None:
        if len(pieces) != B:
            raise ValueError(f"instructrl_pieces has {len(pieces)} rows for a batch of {B}")
        rows = [_piece_attention(query[b : b + 1], key[b : b + 1], value[b : b + 1], pieces[b], T, scaling, dropout, gqa) for b in range(B)]
        out = rows[0] if B == 1 else torch.cat(rows, dim=0)
        return out.transpose(1, 2).contiguous(), None
    pos = kwargs.get("position_ids")
    cu = kwargs.get("cu_seq_lens_q")
    if pos is not None and pos.shape[0] != B:
        pos = pos.expand(B, -1)
    rows = []
    for b in range(B):
        bounds = _segments(T, None if pos is None else pos[b], cu if B == 1 else None)
        rows.append(_per_example_attention(query[b : b + 1], key[b : b + 1], value[b : b + 1], bounds, scaling, dropout, gqa))
    out = rows[0] if B == 1 else torch.cat(rows, dim=0)
    return out.transpose(1, 2).contiguous(), None


def mask_function(*args: Any, **kwargs: Any):
    """Mask interface: no mask for a no-cache forward without a padding mask (the attention
    finds the examples itself); transformers' SDPA mask otherwise."""
    from transformers.masking_utils import sdpa_mask

    q_length = kwargs.get("q_length", args[1] if len(args) > 1 else None)
    kv_length = kwargs.get("kv_length", args[2] if len(args) > 2 else None)
    q_offset = kwargs.get("q_offset", args[3] if len(args) > 3 else 0)
    if kwargs.get("attention_mask") is None and q_length == kv_length and not q_offset and (q_length or 0) > 1:
        return None
    return sdpa_mask(*args, **kwargs)


def register() -> None:
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    AttentionInterface.register(NAME, attention_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, mask_function)
    _registered = True


def supports(config: Any) -> bool:
    if getattr(config, "model_type", None) not in SUPPORTED_MODEL_TYPES:
        return False
    if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
        return False
    layer_types = getattr(config, "layer_types", None)
    return not layer_types or all(t == "full_attention" for t in layer_types)


def _configs(model: torch.nn.Module):
    seen = set()
    for m in model.modules():
        cfg = getattr(m, "config", None)
        if cfg is not None and id(cfg) not in seen and hasattr(cfg, "_attn_implementation"):
            seen.add(id(cfg))
            yield cfg


def enable(model: torch.nn.Module) -> bool:
    """Switch a model (and every sub-config) to padding-free attention where supported.
    Returns whether it was switched. Models already on another non-SDPA kernel (flash
    attention 2 on a GPU) are left alone: they handle packed rows natively."""
    cfgs = list(_configs(model))
    if not cfgs or not all(supports(c) for c in cfgs):
        return False
    if any(c._attn_implementation not in ("sdpa", NAME, None) for c in cfgs):
        return False
    register()
    for c in cfgs:
        c._attn_implementation = NAME
    return True


def is_enabled(model: torch.nn.Module) -> bool:
    return any(getattr(c, "_attn_implementation", None) == NAME for c in _configs(model))
