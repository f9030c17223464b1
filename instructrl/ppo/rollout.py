"""Episodes as padded tensors, and the forwards that score them.

Layout of a batch of B episodes (P = longest prompt, R = longest response in the batch,
no padding beyond those)::

    input_ids  (B, P + R):  [pad .. pad prompt | response .. EOS pad .. pad]
                              left-padded prompt   right-padded response

Response-space tensors are (B, R) and line up with ``input_ids[:, P:]``. Off-by-one, as in
``models/logprobs.py``: the log-prob of response token t comes from the hidden state at
column P + t - 1, and so does its value V(s_t) (the state before the token is chosen);
hence ``values = per_token_values[:, P - 1 : P + R - 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Sequence

import torch

from instructrl.data.schemas import Prompt
from instructrl.ops import position_ids_from_mask


@dataclass
class Rollout:
    """A batch of episodes. Filled in stages: sampling, scoring, then advantages."""

    prompts: list[Prompt]
    input_ids: torch.Tensor  # (B, P + R)
    attention_mask: torch.Tensor  # (B, P + R)
    prompt_width: int  # P
    response_mask: torch.Tensor  # (B, R) bool, real response tokens (EOS included)
    finished: torch.Tensor  # (B,) bool, emitted EOS
    logprobs: torch.Tensor  # (B, R) old log pi(y_t) from logits / T
    ref_logprobs: torch.Tensor | None = None  # (B, R)
    values: torch.Tensor | None = None  # (B, R) V_old(s_t)
    scores: torch.Tensor | None = None  # (B,) after the missing-EOS penalty
    raw_scores: torch.Tensor | None = None  # (B,) the scorer's output
    rewards: torch.Tensor | None = None  # (B, R)
    kl: torch.Tensor | None = None  # (B, R) log pi - log pi_ref at rollout time
    advantages: torch.Tensor | None = None  # (B, R)
    returns: torch.Tensor | None = None  # (B, R)

    @property
    def position_ids(self) -> torch.Tensor:
        return position_ids_from_mask(self.attention_mask)

    @property
    def target_mask(self) -> torch.Tensor:
        """(B, P + R) bool: the response tokens, in full-sequence columns."""
        t = torch.zeros_like(self.attention_mask, dtype=torch.bool)
        t[:, self.prompt_width :] = self.response_mask
        return t

    @property
    def last_index(self) -> torch.Tensor:
        """(B,) full-sequence column of each row's last response token."""
        return self.prompt_width + self.response_mask.long().sum(1) - 1

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def select(self, idx: torch.Tensor) -> "Rollout":
        """Rows ``idx``, with columns that are padding in every selected row cut off
        (so a minibatch spends nothing on padding beyond its own longest rows)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, torch.Tensor):
                v = v[idx]
            elif f.name == "prompts":
                v = [v[i] for i in idx.tolist()]
            out[f.name] = v
        mb = Rollout(**out)
        left = int((mb.attention_mask[:, : mb.prompt_width].sum(0) == 0).long().cumprod(0).sum())  # all-pad prompt columns
        R = int(mb.response_mask.long().sum(1).max())
        resp = {f.name: getattr(mb, f.name)[:, :R] for f in fields(mb) if f.name in _RESPONSE_FIELDS and getattr(mb, f.name) is not None}
        P = mb.prompt_width
        return replace(
            mb,
            **resp,
            input_ids=mb.input_ids[:, left : P + R],
            attention_mask=mb.attention_mask[:, left : P + R],
            prompt_width=P - left,
        )


_RESPONSE_FIELDS = ("response_mask", "logprobs", "ref_logprobs", "values", "rewards", "kl", "advantages", "returns")


def pad_episodes(
    prompt_ids: Sequence[Sequence[int]],
    response_ids: Sequence[Sequence[int]],
    pad_id: int,
) -> tuple[torch.Tensor, torch.Tensor, int, torch.Tensor]:
    """(input_ids (B, P+R), attention_mask (B, P+R), P, response_mask (B, R)):
    prompts left-padded to P, responses right-padded to R."""
    if len(prompt_ids) != len(response_ids):
        raise ValueError(f"{len(prompt_ids)} prompts but {len(response_ids)} responses")
    P = max(len(p) for p in prompt_ids)
    R = max(len(r) for r in response_ids)
    if R == 0:
        raise ValueError("every response is empty")
    B = len(prompt_ids)
    ids = torch.full((B, P + R), pad_id, dtype=torch.long)
    mask = torch.zeros((B, P + R), dtype=torch.long)
    rmask = torch.zeros((B, R), dtype=torch.bool)
    for i, (p, r) in enumerate(zip(prompt_ids, response_ids)):
        if not r:
            raise ValueError(f"episode {i} has an empty response")
        ids[i, P - len(p) : P] = torch.tensor(list(p), dtype=torch.long)
        ids[i, P : P + len(r)] = torch.tensor(list(r), dtype=torch.long)
        mask[i, P - len(p) : P + len(r)] = 1
        rmask[i, : len(r)] = True
    return ids, mask, P, rmask


def pad_response_values(values: Sequence[Sequence[float]], R: int) -> torch.Tensor:
    """Ragged per-token floats (the generator's log-probs) -> (B, R), 0 on padding."""
    out = torch.zeros((len(values), R), dtype=torch.float32)
    for i, v in enumerate(values):
        out[i, : len(v)] = torch.tensor(list(v), dtype=torch.float32)
    return out


class PolicyWithValue(torch.nn.Module):
    """The policy, optionally with a linear value head on its last hidden state, so one
    backbone forward gives both log-probs (lm head at response positions only) and values.

    The hidden states are captured with a forward hook on the backbone while
    ``token_logprobs`` runs, so the log-prob path is the shared one (models/logprobs.py).
    """

    def __init__(self, policy: Any, value_head: bool = False, head_init: str = "zeros"):
        super().__init__()
        from instructrl.models.logprobs import unwrap

        self.policy = policy
        self.v_head = None
        if value_head:
            d = unwrap(policy).config.hidden_size
            self.v_head = torch.nn.Linear(d, 1, bias=True)
            torch.nn.init.zeros_(self.v_head.bias)
            if head_init == "zeros":
                torch.nn.init.zeros_(self.v_head.weight)
            else:
                torch.nn.init.normal_(self.v_head.weight, 0.0, 1.0 / (d + 1) ** 0.5)
            self.v_head.to(next(policy.parameters()).dtype).to(next(policy.parameters()).device)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        target_mask: torch.Tensor,
        temperature: float = 1.0,
        with_entropy: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(log-probs (B, T), entropy (B, T) or None, per-token values (B, T) or None)."""
        from instructrl.models.logprobs import hidden_states, token_logprobs

        pos = position_ids_from_mask(attention_mask)
        # One backbone forward; the lm head (selected positions) and the value head read it.
        h = hidden_states(self.policy, input_ids, attention_mask, pos)
        lp, ent = token_logprobs(self.policy, input_ids, target_mask, attention_mask, pos, temperature, with_entropy, hidden=h)
        values = self.v_head(h).squeeze(-1).float() if self.v_head is not None else None
        return lp, ent, values

    def values_only(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Per-token values (B, T) from the head; no lm-head compute at all."""
        from instructrl.models.logprobs import hidden_states

        if self.v_head is None:
            raise ValueError("this policy has no value head")
        h = hidden_states(self.policy, input_ids, attention_mask, position_ids_from_mask(attention_mask))
        return self.v_head(h).squeeze(-1).float()


def response_values(per_token: torch.Tensor, prompt_width: int, R: int) -> torch.Tensor:
    """Per-token values (B, P + R) -> V(s_t) for each response token (B, R): the value at
    the column *before* each response token (see the module docstring)."""
    return per_token[:, prompt_width - 1 : prompt_width - 1 + R]
