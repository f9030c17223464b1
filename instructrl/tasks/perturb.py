"""Corruptions of a response, for responses of realistic, varying quality.

The labeler calibration, the tests and the loop's fake policies start from a demonstration
and corrupt it the ways language models fail: break a constraint, truncate, repeat, insert
an entity the passage lacks, answer wrongly, hedge, pad, cut short, go off task, be rude,
accept a false premise, or voice an opinion. Each corruption is a pure function of
(prompt, response, rng); ``perturb`` picks one or more by seed.
"""

from __future__ import annotations

import json
import random
import re
from typing import Callable

from instructrl.data.schemas import Prompt
from instructrl.tasks import world as W
from instructrl.tasks.constraints import LIST_FORMATS, list_format, list_items, parse_json, words
from instructrl.tasks.grader import spec_of

Corruption = Callable[[Prompt, str, random.Random], str]


def _render(items: list[str], fmt: str) -> str:
    from instructrl.tasks.demonstrator import render_list  # late: demonstrator imports the grader too

    return render_list(items, fmt)


def truncate(prompt: Prompt, response: str, rng: random.Random) -> str:
    """Cut mid-way, at a word, without end punctuation."""
    toks = response.split()
    if len(toks) < 4:  # too short to look cut: drop the last word and the end mark
        return " ".join(toks[:-1]) or response.rstrip(".!?\"}]") or response
    cut = rng.randint(max(3, len(toks) // 3), len(toks) - 1)
    return " ".join(toks[:cut]).rstrip(".,;:!?")


def repeat(prompt: Prompt, response: str, rng: random.Random) -> str:
    """Degenerate repetition of a phrase or a sentence."""
    toks = response.split()
    if rng.random() < 0.5 and len(toks) >= 3:
        i = rng.randrange(len(toks) - 2)
        loop = " ".join(toks[i:i + 3]).rstrip(".!?")
        return " ".join(toks[: i + 3]).rstrip(".!?") + (" " + loop) * rng.randint(2, 4)
    sents = re.split(r"(?<=[.!?])\s+", response.strip())
    s = rng.choice(sents)
    return response.strip() + (" " + s) * rng.randint(2, 3)


def _unseen(prompt: Prompt, pool: list[str]) -> list[str]:
    context = {w.lower() for w in words(prompt.as_text() + " " + spec_of(prompt).get("passage", ""))}
    return [x for x in pool if x.lower() not in context]


def unsupported_entity(prompt: Prompt, response: str, rng: random.Random) -> str:
    """Add a claim naming a person/town/food that the prompt and passage never mention."""
    people = _unseen(prompt, list(W.PEOPLE)) or list(W.PEOPLE)
    towns = _unseen(prompt, [t.name for t in W.TOWNS]) or [t.name for t in W.TOWNS]
    foods = _unseen(prompt, list(W.FOODS)) or list(W.FOODS)
    claim = rng.choice((f"{rng.choice(people)} lives in {rng.choice(towns)} too.",
                        f"It also likes {rng.choice(foods)}.", f"This happened in {rng.choice(towns)}."))
    items = list_items(response)
    fmt = list_format(response)
    if fmt is not None and spec_of(prompt)["task"] in ("extract", "brainstorm", "sort"):
        return _render(items + [rng.choice(people + towns)], fmt)
    return f"{response.strip()} {claim}"


def wrong_answer(prompt: Prompt, response: str, rng: random.Random) -> str:
    """Swap the reference for a distractor (the wrong entity of the passage, a wrong fact)."""
    spec = spec_of(prompt)
    ref, distractors = spec.get("reference"), spec.get("distractors") or []
    if isinstance(ref, str) and distractors:
        new = re.sub(rf"\b{re.escape(ref)}\b", rng.choice(distractors), response, flags=re.IGNORECASE)
        if new != response:
            return new
    required = spec.get("required") or spec.get("keep") or []
    if required:
        w = rng.choice(required)
        return re.sub(rf"\b{re.escape(w)}\b", rng.choice(W.JOBS), response, flags=re.IGNORECASE)
    return off_task(prompt, response, rng)


def hedge(prompt: Prompt, response: str, rng: random.Random) -> str:
    text = response.strip()
    if rng.random() < 0.5 and text:
        return f"I'm not sure, but {text[0].lower()}{text[1:]}"
    return f"{text} But it is hard to say."


def pad(prompt: Prompt, response: str, rng: random.Random) -> str:
    """Make it longer with content-free filler."""
    fillers = ("There is much more to say about this.", "Many people ask about this.",
               "I hope this helps you today.", "It is a good thing to know.")
    return response.strip() + " " + " ".join(rng.sample(fillers, rng.randint(1, 3)))


def cut_short(prompt: Prompt, response: str, rng: random.Random) -> str:
    """Keep only the beginning: the first sentence or the first few words."""
    sents = re.split(r"(?<=[.!?])\s+", response.strip())
    if len(sents) > 1:
        return sents[0]
    toks = response.split()
    return " ".join(toks[: max(1, len(toks) // 2)]) + "."


def off_task(prompt: Prompt, response: str, rng: random.Random) -> str:
    return rng.choice(("I can help with that. Let me know what you need.", "That is a good question.",
                       "Here is some text about the weather. It is sunny.", "Sorry, I do not know."))


def rude(prompt: Prompt, response: str, rng: random.Random) -> str:
    return response.strip() + " " + rng.choice(("That is a stupid question.", "Only an idiot would ask this.",
                                                 "You are lazy for asking."))


def accept_premise(prompt: Prompt, response: str, rng: random.Random) -> str:
    """Go along with the prompt's claim (false premise) instead of correcting it."""
    spec = spec_of(prompt)
    if spec.get("false_premise"):
        return rng.choice((f"Because {spec['premise']} taste good and keep it strong.",
                           f"It loves {spec['premise']} because they are easy to find."))
    return opinion(prompt, response, rng)


def opinion(prompt: Prompt, response: str, rng: random.Random) -> str:
    text = response.strip()
    return f"{rng.choice(('I think', 'In my opinion,', 'Personally I believe'))} {text[:1].lower()}{text[1:]}"


def break_constraint(prompt: Prompt, response: str, rng: random.Random) -> str:
    """Violate one of the prompt's explicit constraints (the paper's known weakness)."""
    constraints = spec_of(prompt).get("constraints", [])
    if not constraints:
        return pad(prompt, response, rng)
    c = rng.choice(constraints)
    t, v = c["type"], c["value"]
    text = response.strip()
    if t == "case":
        return text.capitalize() if v == "upper" else text.upper()
    if t in ("max_words", "max_sentences", "num_sentences"):
        return pad(prompt, text, rng)
    if t == "min_words":
        return cut_short(prompt, text, rng)
    if t == "start_with":
        return re.sub(rf"^{re.escape(v)}[.:!]?\s*", "", text, flags=re.IGNORECASE) or text
    if t == "end_with":
        return re.sub(rf"\s*{re.escape(v.rstrip('.'))}[.!]?$", "", text, flags=re.IGNORECASE) or text
    if t == "json_object":
        obj = parse_json(text)
        return obj.get(v, text) if isinstance(obj, dict) and isinstance(obj.get(v), str) else text + " }"
    if t == "format":
        others = [f for f in LIST_FORMATS if f != v]
        return _render(list_items(text), rng.choice(others))
    if t == "num_items":
        items = list_items(text) or ["something"]
        fmt = list_format(text) or "numbered_list"
        return _render(items[:-1] if len(items) > 1 and rng.random() < 0.5 else items + [items[0] + " again"], fmt)
    if t == "include_keywords":
        return re.sub(rf"\b{re.escape(v[0])}\b", "thing", text, flags=re.IGNORECASE)
    if t == "avoid_keywords":
        return f"{text} I like the {v[0]}."
    if t == "no_commas":
        return f"Well, {text}"
    return pad(prompt, text, rng)


PERTURBATIONS: dict[str, Corruption] = {
    "break_constraint": break_constraint, "truncate": truncate, "repeat": repeat,
    "unsupported_entity": unsupported_entity, "wrong_answer": wrong_answer, "hedge": hedge,
    "pad": pad, "cut_short": cut_short, "off_task": off_task, "rude": rude,
    "accept_premise": accept_premise, "opinion": opinion,
}
# How often perturb() picks each corruption: frequent failures of small models first.
DEFAULT_WEIGHTS: dict[str, float] = {
    "break_constraint": 3.0, "truncate": 1.5, "repeat": 1.5, "unsupported_entity": 1.5, "wrong_answer": 2.0,
    "hedge": 1.0, "pad": 1.5, "cut_short": 1.0, "off_task": 0.7, "rude": 0.3, "accept_premise": 0.5,
    "opinion": 0.5,
}


def perturb(prompt: Prompt, response: str, seed: int, kinds: tuple[str, ...] | None = None,
            max_kinds: int = 2) -> str:
    """Corrupt ``response`` with 1..max_kinds corruptions chosen by ``seed`` (from ``kinds``,
    default all, weighted by DEFAULT_WEIGHTS). Deterministic in (prompt.id, response, seed)."""
    names = list(kinds) if kinds is not None else list(PERTURBATIONS)
    unknown = [k for k in names if k not in PERTURBATIONS]
    if unknown or not names:
        raise ValueError(f"unknown or empty perturbation kinds {unknown or names}; known: {list(PERTURBATIONS)}")
    rng = random.Random(f"perturb:{prompt.id}:{seed}:{response}")
    n = rng.randint(1, max(1, max_kinds))
    out = response
    for kind in rng.choices(names, weights=[DEFAULT_WEIGHTS[k] for k in names], k=n):
        out = PERTURBATIONS[kind](prompt, out, rng)
    return out or response


def response_mix(prompt: Prompt, k: int, seed: int, p_clean: float = 0.25) -> list[str]:
    """``k`` responses of varying quality to a generated prompt: each is a demonstration
    (with probability ``p_clean``) or a corrupted one. The stand-in for K policy samples."""
    from instructrl.tasks.demonstrator import demonstrate  # late: demonstrator imports the grader too

    rng = random.Random(f"response_mix:{prompt.id}:{seed}")
    out = []
    for j in range(k):
        demo = demonstrate(prompt, seed=rng.randrange(1 << 30))
        out.append(demo if rng.random() < p_clean else perturb(prompt, demo, seed=rng.randrange(1 << 30)))
    return out
