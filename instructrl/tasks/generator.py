"""The prompt dataset: ``generate_prompts(n, seed, mix, n_users, difficulty)``.

Each prompt is a ``Prompt`` whose ``metadata["spec"]`` holds what the grader needs (task,
explicit constraints, passage, reference, ...). Categories follow the paper's Table 1 mix by
default. A prompt's constraints are sampled per task from those that make sense for it, with
conflicting pairs excluded, and kept only if the demonstrator can meet them all, so every
prompt has a good answer. Users follow a Zipf-like law so the per-user cap matters.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any, Callable

from instructrl.data.schemas import CATEGORIES, Message, Prompt
from instructrl.tasks import world as W
from instructrl.tasks.constraints import LIST_FORMATS, describe, words
from instructrl.tasks.demonstrator import try_demonstrate
from instructrl.tasks.families import BUILDERS, COMPOSE_TASKS, Draft

# Table 1 of the paper (RM training prompts), in percent; relative weights.
TABLE1_MIX: dict[str, float] = {
    "generation": 45.6, "open_qa": 12.4, "brainstorming": 11.2, "chat": 8.4, "rewrite": 6.6,
    "summarization": 4.2, "classification": 3.5, "other": 3.5, "closed_qa": 2.6, "extraction": 1.9,
}


@dataclass(frozen=True)
class Difficulty:
    """How hard the prompt set is. ``n_constraints`` are the probabilities of 0, 1, 2, 3
    extra explicit constraints per prompt (on top of those the task itself implies)."""

    name: str
    n_constraints: tuple[float, float, float, float]
    p_false_premise: float  # share of open-QA prompts with a false premise
    p_few_shot: float  # share of unconstrained QA prompts written few-shot
    p_pii: float  # share of open-domain prompts carrying an email/phone/address

    def __post_init__(self) -> None:
        probs = self.n_constraints
        if len(probs) != 4 or any(p < 0 for p in probs) or abs(sum(probs) - 1) > 1e-6:
            raise ValueError(f"Difficulty.n_constraints must be 4 probabilities summing to 1, got {self.n_constraints}")
        for name in ("p_false_premise", "p_few_shot", "p_pii"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"Difficulty.{name} must be in [0, 1], got {getattr(self, name)}")


DIFFICULTIES: dict[str, Difficulty] = {
    "easy": Difficulty("easy", (0.6, 0.4, 0.0, 0.0), 0.05, 0.2, 0.03),
    "medium": Difficulty("medium", (0.3, 0.4, 0.25, 0.05), 0.10, 0.15, 0.03),
    "hard": Difficulty("hard", (0.05, 0.35, 0.4, 0.2), 0.20, 0.10, 0.03),
}

# ---- constraint sampling --------------------------------------------------------------------

_GENERIC = frozenset({"there", "their", "every", "which", "about", "after", "some", "visits", "works"})


def _spare_word(draft: Draft, rng: random.Random) -> str | None:
    """A content word of the optional material (not the task-carrying first sentence)."""
    spec = draft.spec
    protected = {w.lower() for w in spec.get("required", []) + spec.get("required_any", [])}
    pool = sorted({w.lower() for s in spec["material"][1:] for w in words(s)
                   if len(w) >= 4 and w.lower() not in protected and w.lower() not in _GENERIC})
    return rng.choice(pool) if pool else None


_LONG = frozenset(COMPOSE_TASKS) | {"summarize"}


def _avoidable_word(draft: Draft, rng: random.Random) -> str | None:
    """A word the response can do without: a pool item (brainstorm) or a spare word."""
    if draft.spec["task"] == "brainstorm":  # a word of one pool item, which then cannot be listed
        return rng.choice([w.lower() for w in words(rng.choice(draft.spec["pool"])) if len(w) >= 4] or [None])
    return _spare_word(draft, rng)


def _c(ctype: str, value: Any) -> dict[str, Any]:
    return {"type": ctype, "value": value}


SAMPLERS: dict[str, Callable[[Draft, random.Random], dict[str, Any] | None]] = {
    "max_words": lambda d, r: _c("max_words", r.choice((10, 12, 15, 20, 25, 30) if d.spec["task"] in _LONG
                                                       else (3, 5, 8, 12))),
    "min_words": lambda d, r: _c("min_words", r.choice((15, 20, 25))),
    "num_sentences": lambda d, r: _c("num_sentences", r.choice((1, 2, 3) if len(d.spec["material"]) > 2 else (1,))),
    "max_sentences": lambda d, r: _c("max_sentences", r.choice((1, 2))),
    "include_keywords": lambda d, r: (_c("include_keywords", [w]) if (w := _spare_word(d, r)) else None),
    "avoid_keywords": lambda d, r: (_c("avoid_keywords", [w]) if (w := _avoidable_word(d, r)) else None),
    "case": lambda d, r: _c("case", r.choice(("lower", "upper"))),
    "start_with": lambda d, r: _c("start_with", r.choice(("Sure", "Here it is:", "Well") + (
        ("Answer:",) if d.spec["task"] in ("open_qa", "closed_qa", "chat") else ()))),
    "end_with": lambda d, r: _c("end_with", r.choice(("Thank you", "That is all") + (
        ("The end",) if d.spec["task"] == "story" else ()))),
    "no_commas": lambda d, r: _c("no_commas", True),
    "json_object": lambda d, r: _c("json_object", "label" if d.spec["task"] == "classify" else "answer"),
    "format": lambda d, r: _c("format", r.choice(LIST_FORMATS)),
}

_PROSE = ("max_words", "min_words", "num_sentences", "max_sentences", "include_keywords", "avoid_keywords",
          "case", "start_with", "end_with", "no_commas")
_QA = ("max_words", "json_object", "case", "start_with", "end_with", "num_sentences")
ELIGIBLE: dict[str, tuple[str, ...]] = {
    **{task: _PROSE for task in COMPOSE_TASKS},
    "summarize": ("max_words", "num_sentences", "max_sentences", "include_keywords", "case", "start_with", "no_commas"),
    "open_qa": _QA, "chat": _QA, "closed_qa": _QA,
    "classify": ("json_object", "case", "max_words"),
    "brainstorm": ("format", "case", "avoid_keywords"),
    "extract": ("format", "case"),
    "sort": ("format", "case"),
    "complete_respectfully": ("max_words", "case", "no_commas"),
    "rewrite": (),
}

_CONFLICT_PAIRS = (
    ("json_object", "case"), ("json_object", "start_with"), ("json_object", "end_with"),
    ("json_object", "num_sentences"), ("json_object", "max_sentences"),
    ("start_with", "num_sentences"), ("start_with", "max_sentences"), ("end_with", "num_sentences"),
    ("end_with", "max_sentences"), ("num_sentences", "max_sentences"), ("min_words", "max_words"),
)
CONFLICTS: dict[str, set[str]] = {}
for _a, _b in _CONFLICT_PAIRS:
    CONFLICTS.setdefault(_a, set()).add(_b)
    CONFLICTS.setdefault(_b, set()).add(_a)


def sample_constraints(draft: Draft, k: int, rng: random.Random) -> list[dict[str, Any]]:
    """Up to ``k`` compatible extra constraints for the draft's task."""
    chosen: list[dict[str, Any]] = []
    types = list(ELIGIBLE[draft.spec["task"]])
    rng.shuffle(types)
    for t in types:
        if len(chosen) >= k:
            break
        if any(t in CONFLICTS.get(c["type"], ()) for c in chosen):
            continue
        c = SAMPLERS[t](draft, rng)
        if c is not None:
            chosen.append(c)
    return chosen


# ---- assembling prompts ---------------------------------------------------------------------

_STREETS = ("Mill Road", "Harbor Street", "Oak Lane", "Bridge Road")


def _pii_sentence(rng: random.Random) -> str:
    name = rng.choice(W.PEOPLE).lower()
    return rng.choice((f" You can email me at {name}.{rng.randint(1, 99)}@example.com.",
                       f" Call me at 555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)} if needed.",
                       f" I live at {rng.randint(2, 250)} {rng.choice(_STREETS)}."))


def _text(draft: Draft, extra: list[dict[str, Any]], rng: random.Random, few_shot: bool) -> str:
    ctext = " ".join(describe(c, rng.randrange(3)) for c in extra)
    head = f"{draft.instruction} {ctext}".strip()
    if draft.tail:  # constraints first, so the prompt ends with the text to continue
        return f"{ctext} {draft.instruction}".strip() + f"\n{draft.tail}"
    passage = draft.spec.get("passage")
    if passage:
        layout = rng.randrange(3)
        if layout == 0:
            return f"{head}\n\nPassage: {passage}"
        if layout == 1:
            return f"Read the text below.\n{passage}\n\n{head}"
        return f"{passage}\n\n{head}"
    if few_shot:
        shots = "\n\n".join(f"Q: {q}\nA: {a}" for q, a in draft.examples)
        return f"Answer each question.\n\n{shots}\n\nQ: {draft.instruction}\nA:"
    return head


def _finish(draft: Draft, extra: list[dict[str, Any]], rng: random.Random, pid: str, user: str,
            category: str, difficulty: Difficulty) -> Prompt:
    spec = dict(draft.spec)
    spec["constraints"] = list(spec.pop("fixed_constraints", [])) + extra
    spec.setdefault("false_premise", False)
    spec["closed_domain"] = "passage" in spec  # Table 7's tag; hallucination is judged on these
    if spec["task"] == "brainstorm":
        spec["constraints"].insert(0, _c("num_items", spec.pop("n")))
    few_shot = bool(draft.examples) and not extra and rng.random() < difficulty.p_few_shot
    text = _text(draft, extra, rng, few_shot)
    if "passage" not in spec and category != "other" and rng.random() < difficulty.p_pii:
        text += _pii_sentence(rng)
    meta = {"spec": spec, "difficulty": difficulty.name, "few_shot": few_shot, "source": "generated"}
    if draft.history:
        msgs = tuple(Message(role, content) for role, content in draft.history) + (Message("user", text),)
        return Prompt(id=pid, messages=msgs, user_id=user, category=category, metadata=meta)
    return Prompt(id=pid, text=text, user_id=user, category=category, metadata=meta)


def make_prompt(category: str, rng: random.Random, pid: str, user: str, difficulty: Difficulty) -> Prompt:
    """One prompt of ``category`` whose constraints the demonstrator can all meet."""
    k = rng.choices(range(4), weights=difficulty.n_constraints)[0]
    for attempt in range(30):
        if category == "open_qa":
            draft = BUILDERS[category](rng, false_premise=rng.random() < difficulty.p_false_premise)
        else:
            draft = BUILDERS[category](rng)
        # after repeated failures, ask for fewer constraints: some drafts admit few
        extra = sample_constraints(draft, max(0, k - attempt // 10), rng)
        prompt = _finish(draft, extra, rng, pid, user, category, difficulty)
        if try_demonstrate(prompt) is not None:
            return prompt
    raise RuntimeError(f"could not build a feasible {category!r} prompt (id {pid}); this is a generator bug")


def allocate(n: int, mix: dict[str, float]) -> dict[str, int]:
    """Exact category counts for ``n`` prompts by largest remainder, so the mix holds at any n."""
    total = sum(mix.values())
    raw = {c: n * w / total for c, w in mix.items()}
    counts = {c: int(v) for c, v in raw.items()}
    by_remainder = sorted(mix, key=lambda c: (-(raw[c] - counts[c]), list(mix).index(c)))
    for c in by_remainder[: n - sum(counts.values())]:
        counts[c] += 1
    return counts


def check_mix(mix: dict[str, float]) -> None:
    unknown = sorted(set(mix) - set(CATEGORIES))
    if unknown:
        raise ValueError(f"unknown categories {unknown} in mix; known: {list(CATEGORIES)}")
    bad = {c: w for c, w in mix.items() if not isinstance(w, (int, float)) or w < 0}
    if bad:
        raise ValueError(f"mix weights must be non-negative numbers, got {bad}")
    if sum(mix.values()) <= 0:
        raise ValueError(f"mix weights must not all be zero, got {mix}")


def generate_prompts(n: int, seed: int, mix: dict[str, float] | None = None, n_users: int = 100,
                     difficulty: str | Difficulty = "medium") -> list[Prompt]:
    """``n`` prompts over the use-case categories, deterministic in all arguments.

    ``mix`` holds relative category weights (default: the paper's Table 1); ``n_users``
    simulated users send them with Zipf-like frequencies (user ids ``user-0000`` ...).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n_users < 1:
        raise ValueError(f"n_users must be >= 1, got {n_users}")
    if isinstance(difficulty, str):
        if difficulty not in DIFFICULTIES:
            raise ValueError(f"unknown difficulty {difficulty!r}; known: {list(DIFFICULTIES)}")
        difficulty = DIFFICULTIES[difficulty]
    mix = dict(TABLE1_MIX if mix is None else mix)
    check_mix(mix)
    rng = random.Random(f"generate_prompts:{seed}")
    order = [c for c, k in allocate(n, mix).items() for _ in range(k)]
    rng.shuffle(order)
    users = range(n_users)
    cum_weights = list(itertools.accumulate(1.0 / (u + 1) for u in users))  # Zipf, exponent 1
    prompts = []
    for i, category in enumerate(order):
        user = f"user-{rng.choices(users, cum_weights=cum_weights)[0]:04d}"
        prompt_rng = random.Random(f"prompt:{seed}:{i}")  # one stream per prompt: stable under edits elsewhere
        prompts.append(make_prompt(category, prompt_rng, f"g{seed}-{i:06d}", user, difficulty))
    return prompts
