"""Rankings for the reward model: loading, HH-RLHF pairs, a fixed split, tokenization.

Data specs (``RewardDataConfig.train`` / ``valid``):

- ``path.jsonl[.gz]``: one ``Ranking`` per line (``{"prompt", "responses", "ranks"}``,
  ties allowed), or a chosen/rejected pair with an explicit ``prompt`` (loads as K = 2),
  or an HH-RLHF line ``{"chosen": dialogue, "rejected": dialogue}`` (see ``hh_ranking``).
- ``hf:<name or dir>[@split]``: the same records from an HF dataset (``columns`` maps).
- ``generated:<n>[@seed]``: ``n`` generated prompts, K responses each from
  ``instructrl.tasks.response_mix``, ranked by the simulated training panel.

A labeler ranking the same prompt twice in one dataset is an error naming both
``file:line`` locations (duplicates would double that prompt's weight).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from instructrl.data.io import Loaded, load_hf_dataset, read_jsonl
from instructrl.data.render import tokenize_prompt, tokenize_response
from instructrl.data.schemas import DataError, Message, Prompt, Ranking, stable_id
from instructrl.data.sources import parse_generated

_TURN = re.compile(r"\n\n(Human|Assistant): ?")


def parse_hh_dialogue(text: str) -> tuple[list[Message], str]:
    """``"\\n\\nHuman: a\\n\\nAssistant: b ... \\n\\nAssistant: last"`` -> (turns before the
    last Assistant turn as chat messages, the last Assistant reply)."""
    parts = _TURN.split(text)
    if parts[0].strip():
        raise DataError(f"text before the first turn: {parts[0][:60]!r}", field="chosen")
    turns = [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]
    if len(turns) < 2 or turns[-1][0] != "Assistant" or turns[-2][0] != "Human":
        raise DataError(f"not an HH-RLHF dialogue ending in Human then Assistant turns: {text[:80]!r}", field="chosen")
    msgs = [Message("user" if role == "Human" else "assistant", content.strip()) for role, content in turns[:-1]]
    return msgs, turns[-1][1].strip()


def hh_ranking(row: Mapping[str, Any]) -> Ranking:
    """An HH-RLHF ``{"chosen", "rejected"}`` row -> a K = 2 ``Ranking``.

    The prompt is the dialogue up to the last ``"\\n\\nAssistant:"`` (the two strings share
    it); the responses are the two last Assistant replies. Prompt id = sha1 of that prefix.
    """
    for key in ("chosen", "rejected"):
        if not isinstance(row.get(key), str):
            raise DataError("missing or non-string HH-RLHF dialogue", field=key)
    msgs_c, chosen = parse_hh_dialogue(row["chosen"])
    try:
        msgs_r, rejected = parse_hh_dialogue(row["rejected"])
    except DataError as e:
        raise DataError(e.message, field="rejected") from None
    if msgs_c != msgs_r:
        raise DataError("chosen and rejected dialogues differ before their last Assistant turn", field="rejected")
    prefix = row["chosen"].rsplit("\n\nAssistant:", 1)[0]
    prompt = Prompt(id=stable_id(prefix), messages=tuple(msgs_c))
    return Ranking(prompt=prompt, responses=(chosen, rejected), ranks=(1, 2), metadata={"source": "hh-rlhf"})


class _RankingRow:
    """``from_dict`` dispatch for ``read_jsonl``: HH-RLHF dialogues or native rankings."""

    @staticmethod
    def from_dict(d: Any) -> Ranking:
        if isinstance(d, dict) and "chosen" in d and "prompt" not in d:
            return hh_ranking(d)
        return Ranking.from_dict(d)


def check_duplicate_labelers(loaded: Loaded[Ranking]) -> None:
    """Raise ``DataError`` when one labeler ranked one prompt twice (both locations named)."""
    seen: dict[tuple[str, str], str] = {}
    for i, r in enumerate(loaded.records):
        if r.labeler_id is None:
            continue
        key = (r.prompt.id, r.labeler_id)
        where = loaded.sources[i] if i < len(loaded.sources) else f"#{i}"
        if key in seen:
            raise DataError(
                f"duplicate ranking: labeler {r.labeler_id!r} ranked prompt {r.prompt.id!r} twice (first at {seen[key]})",
                field="labeler_id",
                where=where,
            )
        seen[key] = where


def generated_rankings(n: int, seed: int = 0, k: int = 4) -> Loaded[Ranking]:
    """``n`` generated prompts, ``k`` responses each, ranked by the simulated training panel
    (labelers take prompts in turn). Needs ``instructrl.tasks`` and ``instructrl.labelers``."""
    from instructrl.labelers.panel import training_panel
    from instructrl.tasks import generate_prompts
    from instructrl.tasks.perturb import response_mix

    labelers = training_panel(seed).labelers
    out: Loaded[Ranking] = Loaded(records=[])
    for i, p in enumerate(generate_prompts(n, seed=seed)):
        responses = response_mix(p, k, seed=seed * 1_000_003 + i)
        out.records.append(labelers[i % len(labelers)].rank(p, responses))
        out.sources.append(f"generated:{n}@{seed}#{i}")
    return out


def load_rankings(spec: str, *, columns: Mapping[str, str] | None = None, skip_bad: bool = False, k: int = 4) -> Loaded[Ranking]:
    """Rankings from a data spec (module docstring); duplicates are checked."""
    if spec.startswith("generated:"):
        n, seed = parse_generated(spec)
        loaded = generated_rankings(n, seed, k)
    elif spec.startswith("hf:"):
        name, _, split = spec[3:].partition("@")
        loaded = load_hf_dataset(name, _RankingRow, split=split or "train", columns=columns, skip_bad=skip_bad)  # type: ignore[arg-type]
    else:
        loaded = read_jsonl(spec, _RankingRow, skip_bad=skip_bad)  # type: ignore[arg-type]
    check_duplicate_labelers(loaded)
    return loaded


def prompt_bucket(prompt: Prompt, salt: str = "") -> float:
    """A fixed number in [0, 1) from sha1 of the prompt's text: same prompt, same side."""
    h = hashlib.sha1((salt + prompt.as_text()).encode("utf-8")).hexdigest()
    return int(h[:8], 16) / 2**32


def is_heldout(prompt: Prompt, valid_fraction: float, salt: str = "") -> bool:
    return prompt_bucket(prompt, salt) < valid_fraction


def split_by_prompt(rankings: Sequence[Ranking], valid_fraction: float, salt: str = "") -> tuple[list[Ranking], list[Ranking]]:
    """(train, valid): a ranking is held out when ``prompt_bucket < valid_fraction``. Every
    ranking of one prompt lands on the same side, whatever the file order or machine."""
    train, valid = [], []
    for r in rankings:
        (valid if is_heldout(r.prompt, valid_fraction, salt) else train).append(r)
    return train, valid


@dataclass(frozen=True)
class TokenizedRanking:
    """A ranking as token ids: the prompt once, each response followed by EOS."""

    prompt_ids: tuple[int, ...]
    response_ids: tuple[tuple[int, ...], ...]
    ranks: tuple[int, ...]
    category: str | None = None

    @property
    def k(self) -> int:
        return len(self.response_ids)

    @property
    def n_tokens(self) -> int:
        """Tokens of the packed row: prompt once + every response."""
        return len(self.prompt_ids) + sum(len(r) for r in self.response_ids)


def tokenize_ranking(tok: Any, r: Ranking, *, max_seq_len: int, use_chat_template: bool = True) -> TokenizedRanking:
    """Raises ``DataError(field="responses")`` when prompt + a response exceeds ``max_seq_len``
    (a truncated response would move the reward off its EOS)."""
    p = tuple(tokenize_prompt(tok, r.prompt, use_chat_template))
    resp = tuple(tuple(tokenize_response(tok, x)) for x in r.responses)
    longest = max(len(x) for x in resp)
    if len(p) + longest > max_seq_len:
        raise DataError(f"prompt ({len(p)} tokens) + longest response ({longest}) is over max_seq_len={max_seq_len}", field="responses")
    return TokenizedRanking(prompt_ids=p, response_ids=resp, ranks=tuple(r.ranks), category=r.prompt.category)
