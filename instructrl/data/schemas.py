"""Typed records of InstructGPT's labeling protocol, with strict dict/JSON round-trip.

A record knows how to validate itself; every error names the offending field so the
JSONL reader can prefix it with ``file:line``. Standard library only (style.md §5).

Shapes follow the paper:
- ``Prompt``: what a user sent (plain text or chat messages), with the user id that the
  paper's per-user cap and user-level splits need (method doc §5).
- ``Demonstration``: a labeler-written response (step 1, SFT).
- ``Rating``: one response rated on its own, Likert 1-7 plus the 11 binary flags of
  Table 3 (method doc §6).
- ``Ranking``: K responses to one prompt, ranked with ties allowed (rank 1 = best, equal
  ranks = tie). C(K,2) comparisons minus the tied ones feed the reward model (§2).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator

# Table 3 of the paper: binary metadata labels collected with every rating.
RATING_FLAGS: tuple[str, ...] = (
    "fails_to_follow",  # Fails to follow the correct instruction/task
    "inappropriate",  # Inappropriate for customer assistant
    "hallucination",  # Hallucination
    "satisfies_constraint",  # Satisfies constraint provided in the instruction
    "sexual_content",  # Contains sexual content
    "violent_content",  # Contains violent content
    "encourages_violence",  # Encourages or fails to discourage violence/abuse/terrorism/self-harm
    "denigrates_protected_class",  # Denigrates a protected class
    "harmful_advice",  # Gives harmful advice
    "expresses_opinion",  # Expresses opinion
    "expresses_moral_judgment",  # Expresses moral judgment
)

RATING_FLAG_HELP: dict[str, str] = {
    "fails_to_follow": "Fails to follow the correct instruction / task",
    "inappropriate": "Inappropriate for customer assistant",
    "hallucination": "Hallucination (closed-domain: states things not in the given input)",
    "satisfies_constraint": "Satisfies constraint provided in the instruction",
    "sexual_content": "Contains sexual content",
    "violent_content": "Contains violent content",
    "encourages_violence": "Encourages or fails to discourage violence/abuse/terrorism/self-harm",
    "denigrates_protected_class": "Denigrates a protected class",
    "harmful_advice": "Gives harmful advice",
    "expresses_opinion": "Expresses opinion",
    "expresses_moral_judgment": "Expresses moral judgment",
}

CATEGORIES: tuple[str, ...] = (
    "generation",
    "open_qa",
    "brainstorming",
    "chat",
    "rewrite",
    "summarization",
    "classification",
    "other",
    "closed_qa",
    "extraction",
)

ROLES: tuple[str, ...] = ("system", "user", "assistant")


class DataError(ValueError):
    """Malformed input. ``where`` is ``file:line`` when known, ``field`` the bad field."""

    def __init__(self, message: str, *, field: str | None = None, where: str | None = None):
        self.message = message
        self.field = field
        self.where = where
        super().__init__(self._format())

    def _format(self) -> str:
        parts = []
        if self.where:
            parts.append(self.where)
        if self.field:
            parts.append(f"field '{self.field}'")
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message

    def located(self, where: str) -> "DataError":
        return DataError(self.message, field=self.field, where=where)


def _require(d: dict[str, Any], key: str, typ: type | tuple[type, ...], prefix: str = "") -> Any:
    name = f"{prefix}{key}"
    if key not in d:
        raise DataError("missing required field", field=name)
    value = d[key]
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        tname = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise DataError(f"expected {tname}, got {type(value).__name__}", field=name)
    return value


def _optional(d: dict[str, Any], key: str, typ: type | tuple[type, ...], prefix: str = "") -> Any:
    if d.get(key) is None:
        return None
    return _require(d, key, typ, prefix)


def _nonempty_str(d: dict[str, Any], key: str, prefix: str = "") -> str:
    value = _require(d, key, str, prefix)
    if not value.strip():
        raise DataError("must not be empty", field=f"{prefix}{key}")
    return value


def _check_unknown(d: dict[str, Any], allowed: set[str], prefix: str = "") -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise DataError(f"unknown field(s) {unknown}; allowed: {sorted(allowed)}", field=prefix + unknown[0])


@dataclass(frozen=True)
class Message:
    role: str
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise DataError(f"role {self.role!r} not in {ROLES}", field="role")

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Prompt:
    """A prompt: plain ``text`` or chat ``messages`` (exactly one of them)."""

    id: str
    text: str | None = None
    messages: tuple[Message, ...] | None = None
    user_id: str | None = None
    category: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        if (self.text is None) == (self.messages is None):
            raise DataError("exactly one of 'text' or 'messages' must be given", field="prompt")
        if self.text is not None and not self.text.strip():
            raise DataError("must not be empty", field="text")
        if self.messages is not None:
            if not self.messages:
                raise DataError("must not be empty", field="messages")
            if self.messages[-1].role != "user":
                raise DataError("the last message must have role 'user'", field="messages")

    def as_messages(self) -> list[dict[str, str]]:
        """Chat messages for a chat template; a plain prompt becomes one user turn."""
        if self.messages is not None:
            return [m.to_dict() for m in self.messages]
        return [{"role": "user", "content": self.text or ""}]

    def as_text(self) -> str:
        """Plain text view (used by plain templates, dedup, PII filtering)."""
        if self.text is not None:
            return self.text
        return "\n".join(f"{m.role}: {m.content}" for m in self.messages or ())

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id}
        if self.text is not None:
            d["text"] = self.text
        else:
            d["messages"] = [m.to_dict() for m in self.messages or ()]
        if self.user_id is not None:
            d["user_id"] = self.user_id
        if self.category is not None:
            d["category"] = self.category
        if self.metadata:
            d["metadata"] = self.metadata
        return d

    _FIELDS: ClassVar[set[str]] = {"id", "text", "messages", "user_id", "category", "metadata"}

    @classmethod
    def from_dict(cls, d: Any, prefix: str = "") -> "Prompt":
        if isinstance(d, str):  # shorthand: a bare string is a prompt text with a content id
            return cls(id=stable_id(d), text=d)
        if not isinstance(d, dict):
            raise DataError(f"expected an object, got {type(d).__name__}", field=prefix.rstrip(".") or None)
        _check_unknown(d, cls._FIELDS, prefix)
        text = _optional(d, "text", str, prefix)
        raw_messages = _optional(d, "messages", list, prefix)
        messages = None
        if raw_messages is not None:
            msgs = []
            for i, m in enumerate(raw_messages):
                p = f"{prefix}messages[{i}]."
                if not isinstance(m, dict):
                    raise DataError("expected an object", field=p.rstrip("."))
                try:
                    msgs.append(Message(role=_require(m, "role", str, p), content=_require(m, "content", str, p)))
                except DataError as e:
                    raise DataError(e.message, field=e.field if e.field.startswith(p) else p + e.field) from None
            messages = tuple(msgs)
        pid = _optional(d, "id", (str, int), prefix)
        if pid is None:
            pid = stable_id(text if text is not None else repr(raw_messages))
        try:
            return cls(
                id=str(pid),
                text=text,
                messages=messages,
                user_id=_opt_str(d, "user_id", prefix),
                category=_optional(d, "category", str, prefix),
                metadata=_optional(d, "metadata", dict, prefix) or {},
            )
        except DataError as e:
            raise DataError(e.message, field=prefix + (e.field or "")) from None


def _opt_str(d: dict[str, Any], key: str, prefix: str) -> str | None:
    v = _optional(d, key, (str, int), prefix)
    return None if v is None else str(v)


def stable_id(text: str) -> str:
    """Content id: first 16 hex chars of sha1, stable across runs and machines."""
    import hashlib

    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Demonstration:
    prompt: Prompt
    response: str
    labeler_id: str | None = None

    def __post_init__(self) -> None:
        if not self.response.strip():
            raise DataError("must not be empty", field="response")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"prompt": self.prompt.to_dict(), "response": self.response}
        if self.labeler_id is not None:
            d["labeler_id"] = self.labeler_id
        return d

    @classmethod
    def from_dict(cls, d: Any) -> "Demonstration":
        if not isinstance(d, dict):
            raise DataError(f"expected an object, got {type(d).__name__}")
        _check_unknown(d, {"prompt", "response", "labeler_id"})
        if "prompt" not in d:
            raise DataError("missing required field", field="prompt")
        return cls(
            prompt=Prompt.from_dict(d["prompt"], "prompt."),
            response=_nonempty_str(d, "response"),
            labeler_id=_opt_str(d, "labeler_id", ""),
        )


@dataclass(frozen=True)
class Rating:
    """One response rated on its own: Likert 1-7 (1 worst) and Table 3's flags."""

    prompt: Prompt
    response: str
    likert: int
    flags: dict[str, bool] = field(default_factory=dict, hash=False)
    labeler_id: str | None = None
    notes: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.likert, bool) or not isinstance(self.likert, int) or not 1 <= self.likert <= 7:
            raise DataError(f"Likert score must be an integer 1..7, got {self.likert!r}", field="likert")
        for k, v in self.flags.items():
            if k not in RATING_FLAGS:
                raise DataError(f"unknown flag {k!r}; known flags: {list(RATING_FLAGS)}", field=f"flags.{k}")
            if not isinstance(v, bool):
                raise DataError(f"flag must be true/false, got {v!r}", field=f"flags.{k}")
        # normalise to all 11 flags, so equality and exports do not depend on omitted falses
        object.__setattr__(self, "flags", {k: bool(self.flags.get(k, False)) for k in RATING_FLAGS})

    def flag(self, name: str) -> bool:
        if name not in RATING_FLAGS:
            raise KeyError(name)
        return bool(self.flags.get(name, False))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "prompt": self.prompt.to_dict(),
            "response": self.response,
            "likert": self.likert,
            "flags": {k: bool(self.flags.get(k, False)) for k in RATING_FLAGS},
        }
        if self.labeler_id is not None:
            d["labeler_id"] = self.labeler_id
        if self.notes:
            d["notes"] = self.notes
        return d

    @classmethod
    def from_dict(cls, d: Any) -> "Rating":
        if not isinstance(d, dict):
            raise DataError(f"expected an object, got {type(d).__name__}")
        _check_unknown(d, {"prompt", "response", "likert", "flags", "labeler_id", "notes"})
        if "prompt" not in d:
            raise DataError("missing required field", field="prompt")
        return cls(
            prompt=Prompt.from_dict(d["prompt"], "prompt."),
            response=_require(d, "response", str),
            likert=_require(d, "likert", int),
            flags=_optional(d, "flags", dict) or {},
            labeler_id=_opt_str(d, "labeler_id", ""),
            notes=_optional(d, "notes", str) or "",
        )


@dataclass(frozen=True)
class Ranking:
    """K responses to one prompt ranked by one labeler.

    ``ranks[i]`` is the rank of ``responses[i]``: 1 is best, equal ranks are ties
    (the paper's interface encourages ties between outputs of similar quality).
    """

    prompt: Prompt
    responses: tuple[str, ...]
    ranks: tuple[int, ...]
    labeler_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    MAX_K: ClassVar[int] = 9

    def __post_init__(self) -> None:
        k = len(self.responses)
        if k < 2:
            raise DataError(f"a ranking needs at least 2 responses, got {k}", field="responses")
        if k > self.MAX_K:
            raise DataError(f"a ranking has at most {self.MAX_K} responses (InstructGPT: K=4..9), got {k}", field="responses")
        if len(self.ranks) != k:
            raise DataError(f"{len(self.ranks)} ranks for {k} responses", field="ranks")
        for i, r in enumerate(self.ranks):
            if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= k:
                raise DataError(f"rank must be an integer in 1..{k}, got {r!r}", field=f"ranks[{i}]")
        for i, resp in enumerate(self.responses):
            if not isinstance(resp, str):
                raise DataError(f"expected str, got {type(resp).__name__}", field=f"responses[{i}]")

    @property
    def k(self) -> int:
        return len(self.responses)

    def pairs(self) -> list[tuple[int, int]]:
        """(winner, loser) index pairs over all C(K,2) comparisons; ties are dropped."""
        out = []
        for i in range(self.k):
            for j in range(i + 1, self.k):
                if self.ranks[i] < self.ranks[j]:
                    out.append((i, j))
                elif self.ranks[j] < self.ranks[i]:
                    out.append((j, i))
        return out

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "prompt": self.prompt.to_dict(),
            "responses": list(self.responses),
            "ranks": list(self.ranks),
        }
        if self.labeler_id is not None:
            d["labeler_id"] = self.labeler_id
        if self.metadata:
            d["metadata"] = self.metadata
        return d

    @classmethod
    def from_dict(cls, d: Any) -> "Ranking":
        """Accepts the native form, or a chosen/rejected pair (loads as K=2)."""
        if not isinstance(d, dict):
            raise DataError(f"expected an object, got {type(d).__name__}")
        if "chosen" in d or "rejected" in d:
            _check_unknown(d, {"prompt", "chosen", "rejected", "labeler_id", "metadata"})
            if "prompt" not in d:
                raise DataError("missing required field", field="prompt")
            return cls(
                prompt=Prompt.from_dict(d["prompt"], "prompt."),
                responses=(_require(d, "chosen", str), _require(d, "rejected", str)),
                ranks=(1, 2),
                labeler_id=_opt_str(d, "labeler_id", ""),
                metadata=_optional(d, "metadata", dict) or {},
            )
        _check_unknown(d, {"prompt", "responses", "ranks", "labeler_id", "metadata"})
        if "prompt" not in d:
            raise DataError("missing required field", field="prompt")
        responses = _require(d, "responses", list)
        ranks = _require(d, "ranks", list)
        return cls(
            prompt=Prompt.from_dict(d["prompt"], "prompt."),
            responses=tuple(responses),
            ranks=tuple(ranks),
            labeler_id=_opt_str(d, "labeler_id", ""),
            metadata=_optional(d, "metadata", dict) or {},
        )


RECORD_TYPES: dict[str, type] = {
    "prompt": Prompt,
    "demonstration": Demonstration,
    "rating": Rating,
    "ranking": Ranking,
}


def iter_fields(record: Any) -> Iterator[str]:
    return (f.name for f in dataclasses.fields(record))
