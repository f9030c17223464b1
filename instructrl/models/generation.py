"""Batched, KV-cached sampling behind a small backend interface.

``GenerationBackend.generate(prompt_ids, ...) -> Generation`` is all a trainer needs, so a
vLLM backend for GPU users can be added without touching PPO. The HF backend here:
- left-pads prompts with position ids that skip pads (method doc §3b.2);
- computes the lm head at the last position only, in the prefill and at every step;
- runs the prefill once per distinct prompt: the K samples of a prompt in a ranking batch
  share it (their KV cache is copied), which the prompt tokens dominate on CPU;
- records each sampled token's log-prob from ``logits / T`` (method doc §3b.5), which PPO
  reuses as the old log-probs when they are exact (same weights, dropout off);
- drops finished rows from the batch and its KV cache, and stops as soon as every row has
  emitted EOS (or hit ``max_new_tokens``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import torch
import torch.nn.functional as F

from instructrl.ops import position_ids_from_mask


@dataclass
class Generation:
    """Per prompt: response token ids (truncated after the first EOS, EOS included), the
    sampling-time log-prob of each, and whether EOS was emitted."""

    response_ids: list[list[int]]
    logprobs: list[list[float]]
    finished: list[bool]
    n_forward_tokens: int = 0  # tokens pushed through the model (prefill + steps)

    @property
    def n_generated(self) -> int:
        return sum(len(r) for r in self.response_ids)


class GenerationBackend(Protocol):
    def generate(
        self,
        prompt_ids: Sequence[Sequence[int]],
        *,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> Generation: ...


def _filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    if top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, idx = torch.sort(logits, descending=True, dim=-1)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop = cum - sorted_logits.softmax(-1) > top_p  # keep the first token past top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, idx, sorted_logits)
    return logits


def cache_kwarg(model: Any) -> str:
    """The forward keyword of the KV cache: ``cache`` in transformers 5.x (where
    ``past_key_values`` is deprecated, to be removed in 5.40), ``past_key_values`` before."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a PEFT wrapper passes kwargs on
    try:
        params = inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in params else "past_key_values"


def output_cache(out: Any) -> Any:
    """The KV cache a forward returned (``cache`` in transformers 5.x, ``past_key_values`` before),
    read without touching the deprecated attribute."""
    for key in ("cache", "past_key_values"):
        value = out.get(key) if hasattr(out, "get") else getattr(out, key, None)
        if value is not None:
            return value
    raise ValueError("the model returned no KV cache (use_cache=True was passed)")


def _left_pad(prompt_ids: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    P = max(len(p) for p in prompt_ids)
    ids = torch.full((len(prompt_ids), P), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompt_ids), P), dtype=torch.long)
    for i, p in enumerate(prompt_ids):
        ids[i, P - len(p) :] = torch.tensor(list(p), dtype=torch.long)
        mask[i, P - len(p) :] = 1
    return ids, mask


def dedup_prompts(prompt_ids: Sequence[Sequence[int]]) -> tuple[list[list[int]], list[int]]:
    """The distinct prompts in first-seen order, and for each input row the index of its
    prompt among them: ``[[1, 2], [3], [1, 2]] -> ([[1, 2], [3]], [0, 1, 0])``. K samples of
    one prompt (a ranking batch) then share one prefill."""
    index: dict[tuple[int, ...], int] = {}
    row_of = [index.setdefault(tuple(p), len(index)) for p in prompt_ids]
    return [list(p) for p in index], row_of


class HFGenerator:
    """The default backend: any transformers causal LM (peft-wrapped or not)."""

    def __init__(self, model: Any, eos_token_id: int | Sequence[int], pad_token_id: int, *, share_prefill: bool = True):
        self.model = model
        self.share_prefill = share_prefill  # False: prefill every row, copies of a prompt too (for comparison)
        eos = [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)
        self.eos = torch.tensor(eos, dtype=torch.long)
        self.pad_token_id = pad_token_id

    @torch.no_grad()
    def generate(
        self,
        prompt_ids: Sequence[Sequence[int]],
        *,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> Generation:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        model = self.model
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        gen = torch.Generator(device="cpu")
        if seed is not None:
            gen.manual_seed(seed)
        else:
            gen.seed()
        B = len(prompt_ids)
        empty = [i for i, p in enumerate(prompt_ids) if len(p) == 0]
        if empty:
            raise ValueError(f"prompt {empty[0]} is empty after tokenization")
        if self.share_prefill:
            unique, row_of = dedup_prompts(prompt_ids)
        else:
            unique, row_of = [list(p) for p in prompt_ids], list(range(B))
        ids, mask = _left_pad(unique, self.pad_token_id)
        ids, mask = ids.to(device), mask.to(device)
        pos = position_ids_from_mask(mask)
        cache_kw = cache_kwarg(model)
        out = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1)
        cache = output_cache(out)
        logits = out.logits[:, -1, :].float()
        if len(unique) < B:  # one prefill per distinct prompt, its KV cache copied to each of its rows
            rows = torch.tensor(row_of, dtype=torch.long, device=device)
            cache.batch_select_indices(rows)
            logits, mask, pos = logits[rows], mask[rows], pos[rows]
        next_pos = pos[:, -1:] + 1  # (b, 1)
        active = torch.arange(B)  # original row of each batch row
        responses: list[list[int]] = [[] for _ in range(B)]
        logprobs: list[list[float]] = [[] for _ in range(B)]
        finished = [False] * B
        n_forward = int(ids.numel())
        eos = self.eos.to(device)
        for step in range(max_new_tokens):
            if temperature == 0:
                lp_all = F.log_softmax(logits, dim=-1)
                tok = logits.argmax(-1)
            else:
                scaled = logits / temperature
                lp_all = F.log_softmax(scaled, dim=-1)
                probs = _filter_logits(scaled, top_k, top_p).softmax(-1)
                tok = torch.multinomial(probs.cpu(), 1, generator=gen).squeeze(-1).to(device)
            lp = lp_all.gather(-1, tok.unsqueeze(-1)).squeeze(-1)
            done = torch.isin(tok, eos)
            for r, (t, l, d) in enumerate(zip(tok.tolist(), lp.tolist(), done.tolist())):
                row = int(active[r])
                responses[row].append(t)
                logprobs[row].append(l)
                if d:
                    finished[row] = True
            if step == max_new_tokens - 1:
                break
            keep = (~done).nonzero(as_tuple=True)[0]
            if keep.numel() == 0:
                break
            if keep.numel() < tok.numel():  # drop finished rows from the batch and cache
                cache.batch_select_indices(keep)
                tok, mask, next_pos, active = tok[keep], mask[keep], next_pos[keep], active[keep.cpu()]
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            out = model(
                input_ids=tok.unsqueeze(-1),
                attention_mask=mask,
                position_ids=next_pos,
                use_cache=True,
                logits_to_keep=1,
                **{cache_kw: cache},
            )
            n_forward += int(tok.numel())
            cache = output_cache(out)
            logits = out.logits[:, -1, :].float()
            next_pos = next_pos + 1
        model.train(was_training)
        return Generation(response_ids=responses, logprobs=logprobs, finished=finished, n_forward_tokens=n_forward)


def generate_text(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    *,
    max_new_tokens: int = 128,
    temperature: float = 0.0,
    top_p: float = 1.0,
    batch_size: int = 8,
    seed: int = 0,
    progress: bool = False,
) -> list[str]:
    """Rendered prompt strings in, decoded continuations out (EOS and pads stripped)."""
    backend = HFGenerator(model, tokenizer.eos_token_id, tokenizer.pad_token_id)
    outs: list[str] = []
    starts = range(0, len(prompts), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="generate", unit="batch")
    for s in starts:
        chunk = prompts[s : s + batch_size]
        ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in chunk]
        g = backend.generate(ids, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed + s)
        for r, fin in zip(g.response_ids, g.finished):
            toks = [t for t in (r[:-1] if fin else r) if t < len(tokenizer)]
            outs.append(tokenizer.decode(toks, skip_special_tokens=True))
    return outs


generate = generate_text  # the name the evals use


def document_opener(tokenizer: Any) -> tuple[str, int]:
    """The token a document starts after in pretraining: the document separator
    (``<|endoftext|>`` in SmolLM2 and GPT-2 style vocabularies), else BOS, else EOS."""
    vocab = tokenizer.get_vocab()
    for t in ("<|endoftext|>", tokenizer.bos_token, tokenizer.eos_token):
        if t and t in vocab:
            return t, vocab[t]
    raise ValueError("the tokenizer has no <|endoftext|>, BOS or EOS token to start a document after")


def sample_document_ids(model: Any, tokenizer: Any, n: int, *, max_new_tokens: int, seed: int = 0,
                        batch_size: int = 32, temperature: float = 1.0) -> list[list[int]]:
    """The token ids of ``sample_documents``: the opener's id, then the sampled ids."""
    if n < 1 or max_new_tokens < 1:
        raise ValueError(f"sample_documents needs n >= 1 and max_new_tokens >= 1, got {n}, {max_new_tokens}")
    _, start_id = document_opener(tokenizer)
    backend = HFGenerator(model, tokenizer.eos_token_id, tokenizer.pad_token_id)
    out: list[list[int]] = []
    for s in range(0, n, batch_size):
        g = backend.generate([[start_id]] * min(batch_size, n - s), max_new_tokens=max_new_tokens,
                             temperature=temperature, seed=seed + s)
        out.extend([start_id] + list(r) for r in g.response_ids)
    return out


def sample_documents(model: Any, tokenizer: Any, n: int, *, max_new_tokens: int, seed: int = 0,
                     batch_size: int = 32, temperature: float = 1.0) -> list[str]:
    """``n`` documents sampled from ``model`` unconditionally: each starts after the document
    opener (``document_opener``) and is kept exactly as sampled, as text: the opener, the
    sampled tokens, and the EOS only where the model emitted one. Every sample is kept,
    however short: dropping some would bias the set away from the model's distribution.

    For a pretrained model whose pretraining data is not at hand, these are the closest
    stand-in for it: PPO-ptx on them pulls the policy back toward the base model (the
    expected LM gradient on a model's own samples is zero, so only what PPO moves is pulled
    back), and a policy's loss on held-out ones rises as it drifts from the base (the
    alignment tax). Deterministic given ``seed`` and ``batch_size``."""
    ids = sample_document_ids(model, tokenizer, n, max_new_tokens=max_new_tokens, seed=seed,
                              batch_size=batch_size, temperature=temperature)
    return [tokenizer.decode(x, skip_special_tokens=False) for x in ids]
