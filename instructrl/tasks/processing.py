"""The paper's prompt processing (method doc §5, [P §3.2]), usable on any prompt set.

1. ``dedup_by_prefix``: drop prompts that share a long common prefix with an earlier one;
2. ``cap_per_user``: at most 200 prompts per user id;
3. ``split_by_user``: train / valid / test by user id, so no user is in two splits;
4. ``filter_pii``: remove personal information (emails, phone numbers, street addresses)
   from the training split.

``process_prompts`` runs the four in that order. Prompts without a ``user_id`` count as a
user of their own (keyed by prompt id). All functions keep the input order.

From the command line, on any prompt set (a JSONL of prompts, an HF dataset, generated)::

    instructrl process prompts=my_prompts.jsonl out_dir=data/mine

writes ``{train,valid,test}.jsonl`` and ``processing.json`` (what each step kept).
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from instructrl.config import field
from instructrl.data.schemas import Message, Prompt

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\w@])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)\s?|\d{2,4}[\s.-])\d{3}[\s.-]?\d{3,4}(?![\w@])")
ADDRESS = re.compile(
    r"\b\d{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}"
    r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Boulevard|Blvd|Drive|Dr|Way|Court|Ct|Place|Pl)\b"
)


def _user(p: Prompt) -> str:
    return p.user_id if p.user_id is not None else f"prompt:{p.id}"


def _normalize(text: str) -> str:
    return " ".join(text.lower().split())


def prefix_key(p: Prompt, prefix_chars: int = 100) -> str:
    """What :func:`dedup_by_prefix` compares: the first ``prefix_chars`` of the normalized text."""
    return _normalize(p.as_text())[:prefix_chars]


def dedup_by_prefix(prompts: list[Prompt], prefix_chars: int = 100) -> list[Prompt]:
    """Keep the first of the prompts whose normalized text (lowercased, whitespace collapsed)
    starts with the same ``prefix_chars`` characters; shorter prompts compare whole."""
    if prefix_chars < 1:
        raise ValueError(f"prefix_chars must be >= 1, got {prefix_chars}")
    seen: set[str] = set()
    out = []
    for p in prompts:
        key = prefix_key(p, prefix_chars)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def cap_per_user(prompts: list[Prompt], cap: int = 200, seed: int = 0) -> list[Prompt]:
    """At most ``cap`` prompts per user; a user over the cap keeps a random ``cap`` of them."""
    if cap < 1:
        raise ValueError(f"cap must be >= 1, got {cap}")
    by_user: dict[str, list[int]] = {}
    for i, p in enumerate(prompts):
        by_user.setdefault(_user(p), []).append(i)
    rng = random.Random(f"cap_per_user:{seed}")
    keep: set[int] = set()
    for user in sorted(by_user):
        idx = by_user[user]
        keep.update(idx if len(idx) <= cap else rng.sample(idx, cap))
    return [p for i, p in enumerate(prompts) if i in keep]


def split_by_user(prompts: list[Prompt], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                  seed: int = 0) -> tuple[list[Prompt], list[Prompt], list[Prompt]]:
    """(train, valid, test) with every user's prompts in exactly one split.

    ``fractions`` are shares of *users* (the paper splits by user id); shuffled users are
    cut at ``round(f_train * U)`` and ``round((f_train + f_valid) * U)``."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be 3 non-negative numbers summing to 1, got {fractions}")
    users = sorted({_user(p) for p in prompts})
    random.Random(f"split_by_user:{seed}").shuffle(users)
    a = round(fractions[0] * len(users))
    b = round((fractions[0] + fractions[1]) * len(users))
    split_of = {u: 0 if k < a else 1 if k < b else 2 for k, u in enumerate(users)}
    out: tuple[list[Prompt], list[Prompt], list[Prompt]] = ([], [], [])
    for p in prompts:
        out[split_of[_user(p)]].append(p)
    return out


def scrub_pii(text: str) -> str:
    """Replace emails, phone numbers and street addresses by ``[EMAIL]``, ``[PHONE]``, ``[ADDRESS]``."""
    text = EMAIL.sub("[EMAIL]", text)
    text = ADDRESS.sub("[ADDRESS]", text)
    return PHONE.sub("[PHONE]", text)


def has_pii(text: str) -> bool:
    return scrub_pii(text) != text


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_pii(value)
    if isinstance(value, list):
        return [_scrub_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    return value


def filter_pii(prompts: list[Prompt], mode: Literal["scrub", "drop"] = "scrub") -> list[Prompt]:
    """Remove PII: ``"scrub"`` rewrites the text, messages and string metadata of prompts that
    hold some (see ``scrub_pii``); ``"drop"`` leaves such prompts out."""
    if mode not in ("scrub", "drop"):
        raise ValueError(f"mode must be 'scrub' or 'drop', got {mode!r}")
    out = []
    for p in prompts:
        if not has_pii(p.as_text()) and _scrub_value(p.metadata) == p.metadata:
            out.append(p)
        elif mode == "scrub":
            messages = None if p.messages is None else tuple(Message(m.role, scrub_pii(m.content)) for m in p.messages)
            out.append(dataclasses.replace(
                p, text=None if p.text is None else scrub_pii(p.text), messages=messages,
                metadata=_scrub_value(p.metadata)))
    return out


def process_prompts(prompts: list[Prompt], *, prefix_chars: int = 100, cap: int = 200,
                    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                    seed: int = 0, pii: Literal["scrub", "drop"] = "scrub") -> tuple[list[Prompt], list[Prompt], list[Prompt]]:
    """The paper's pipeline: prefix dedup, per-user cap, user split, PII removed from train
    (scrubbed, or with ``pii="drop"`` the prompts left out)."""
    return _process(prompts, prefix_chars=prefix_chars, cap=cap, fractions=fractions, seed=seed, pii=pii)[0]


def _process(prompts: list[Prompt], *, prefix_chars: int, cap: int, fractions: tuple[float, float, float],
             seed: int, pii: Literal["scrub", "drop"]) -> tuple[tuple[list[Prompt], list[Prompt], list[Prompt]], dict[str, int]]:
    """``process_prompts`` and how many prompts each step kept."""
    deduped = dedup_by_prefix(prompts, prefix_chars)
    kept = cap_per_user(deduped, cap, seed)
    train, valid, test = split_by_user(kept, fractions, seed)
    clean = filter_pii(train, pii)
    counts = {"input": len(prompts), "after_prefix_dedup": len(deduped), "after_user_cap": len(kept),
              "users": len({_user(p) for p in kept}), "train_with_pii": sum(has_pii(p.as_text()) for p in train),
              "train": len(clean), "valid": len(valid), "test": len(test)}
    return (clean, valid, test), counts


@dataclass(frozen=True)
class ProcessConfig:
    prompts: str = field("", help="the prompt set: a .jsonl[.gz] of prompts, hf:<name or dir>[@split], or generated:<n>[@seed]")
    out_dir: str = field("data/processed", help="where {train,valid,test}.jsonl and processing.json go")
    columns: dict = field(default_factory=dict, help="hf: column mapping, prompt field -> dataset column (e.g. {text: instruction})")
    skip_bad: bool = field(False, help="skip (and count) rows that are not valid prompts instead of stopping at the first")
    prefix_chars: int = field(100, help="prompts whose normalised text shares this many leading characters are duplicates (paper: a long common prefix)")
    user_cap: int = field(200, help="at most this many prompts per user (paper: 200)")
    split: tuple[float, ...] = field((0.8, 0.1, 0.1), help="train/valid/test fractions of users")
    pii: Literal["scrub", "drop"] = field("scrub", help="training prompts with emails, phone numbers or street addresses: scrub them, or drop them")
    seed: int = field(0, help="seed of the per-user cap and the user split")

    def __post_init__(self) -> None:
        if not self.prompts:
            raise ValueError("prompts= is required: a .jsonl[.gz] of prompts, hf:<name>[@split] or generated:<n>[@seed]")
        if self.prefix_chars < 1 or self.user_cap < 1:
            raise ValueError(f"prefix_chars and user_cap must be >= 1, got {self.prefix_chars}, {self.user_cap}")
        if len(self.split) != 3 or any(f < 0 for f in self.split) or abs(sum(self.split) - 1.0) > 1e-6:
            raise ValueError(f"split must be 3 non-negative fractions summing to 1, got {list(self.split)}")


def main(argv: list[str] | None = None) -> int:
    from instructrl.config import command_main, save_config
    from instructrl.data.io import write_jsonl, write_text_atomic
    from instructrl.data.sources import load_prompts, load_records

    cfg, _ = command_main(ProcessConfig, list(sys.argv[1:] if argv is None else argv), "instructrl process",
                          "The paper's prompt processing on any prompt set: prefix dedup, per-user cap, split by user, PII removed from train.")
    if cfg.prompts.startswith("generated:"):
        prompts, skipped = load_prompts(cfg.prompts), 0
    else:
        loaded = load_records(cfg.prompts, Prompt, columns=cfg.columns or None, skip_bad=cfg.skip_bad)
        prompts, skipped = loaded.records, loaded.n_skipped
    if not prompts:
        raise ValueError(f"prompts={cfg.prompts!r} holds no prompts")
    (train, valid, test), counts = _process(prompts, prefix_chars=cfg.prefix_chars, cap=cfg.user_cap,
                                            fractions=tuple(cfg.split), seed=cfg.seed, pii=cfg.pii)  # type: ignore[arg-type]
    counts = {"skipped_bad_rows": skipped, **counts}
    out = Path(cfg.out_dir)
    for name, split in (("train", train), ("valid", valid), ("test", test)):
        write_jsonl(out / f"{name}.jsonl", split)
    save_config(cfg, out / "config.yaml")
    write_text_atomic(out / "processing.json", json.dumps(counts, indent=2))
    print(f"{counts['input']} prompts -> {counts['after_prefix_dedup']} after prefix dedup -> {counts['after_user_cap']} after the "
          f"per-user cap ({counts['users']} users) -> train/valid/test {counts['train']}/{counts['valid']}/{counts['test']} "
          f"({counts['train_with_pii']} training prompts held PII: {'scrubbed' if cfg.pii == 'scrub' else 'dropped'}); written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
