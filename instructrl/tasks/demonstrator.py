"""The demonstrator: a good, constraint-satisfying, passage-faithful response for SFT.

It writes candidates from the spec's ``material`` (answer phrasings, content sentences or
list items), dresses each for the explicit constraints (start/end phrase, case, JSON, list
format), and returns the first candidate, in a seed-dependent order, that the grader finds
fully good. Different seeds give different (all good) demonstrations, which is how the
simulated labelers vary.
"""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

from instructrl.data.schemas import Prompt
from instructrl.tasks.constraints import LIST_FORMATS
from instructrl.tasks.families import COMPOSE_TASKS
from instructrl.tasks.grader import grade, spec_of

PROSE_TASKS = frozenset(COMPOSE_TASKS) | {"summarize"}
LIST_TASKS = frozenset({"brainstorm", "extract", "sort"})


def render_list(items: list[str], fmt: str) -> str:
    """``items`` written in one of LIST_FORMATS."""
    if fmt == "numbered_list":
        return "\n".join(f"{i}. {x}" for i, x in enumerate(items, 1))
    if fmt == "bullet_list":
        return "\n".join(f"- {x}" for x in items)
    if fmt == "json_list":
        return json.dumps(items)
    if fmt == "comma_list":
        return ", ".join(items)
    raise ValueError(f"unknown list format {fmt!r}; known: {list(LIST_FORMATS)}")


def _constraint(spec: dict[str, Any], ctype: str) -> Any:
    for c in spec.get("constraints", []):
        if c["type"] == ctype:
            return c["value"]
    return None


def _dress(spec: dict[str, Any], text: str) -> str:
    """Apply start/end phrases, case and JSON wrapping required by the constraints."""
    start, end = _constraint(spec, "start_with"), _constraint(spec, "end_with")
    if start:
        text = f"{start}{'' if start[-1] in '.:!' else '.'} {text}"
    if end:
        text = f"{text} {end}."
    case = _constraint(spec, "case")
    if case == "lower":
        text = text.lower()
    elif case == "upper":
        text = text.upper()
    key = _constraint(spec, "json_object")
    if key:
        text = json.dumps({key: text})
    return text


def _bases(spec: dict[str, Any], rng: random.Random) -> list[str]:
    """Undressed candidate responses, in a seed-dependent order."""
    material = spec["material"]
    task = spec["task"]
    if task in PROSE_TASKS:
        rest = list(range(1, len(material)))
        subsets = [(0, *c) for r in range(len(rest) + 1) for c in itertools.combinations(rest, r)]
        rng.shuffle(subsets)
        return [" ".join(material[i] for i in s) for s in subsets]
    if task in LIST_TASKS:
        fmt = _constraint(spec, "format")
        formats = [fmt] if fmt else rng.sample(LIST_FORMATS, len(LIST_FORMATS))
        if task == "brainstorm":
            n = _constraint(spec, "num_items") or 3
            lists = [rng.sample(material, n) for _ in range(8)]
        elif task == "extract":
            lists = [list(material), list(reversed(material))]
            rng.shuffle(lists)
        else:
            lists = [list(material)]
        return [render_list(items, f) for items in lists for f in formats]
    options = list(material)
    rng.shuffle(options)
    return options


def candidates(prompt: Prompt, seed: int = 0) -> list[str]:
    """All dressed candidate demonstrations for ``prompt``, seed-ordered (not yet graded)."""
    spec = spec_of(prompt)
    rng = random.Random(f"demonstrate:{prompt.id}:{seed}")
    return [_dress(spec, base) for base in _bases(spec, rng)]


def try_demonstrate(prompt: Prompt, seed: int = 0) -> str | None:
    """The first fully good candidate, or None when the spec's constraints cannot all be met."""
    for text in candidates(prompt, seed):
        g = grade(prompt, text)
        if g.ok and not g.hedged:
            return text
    return None


def demonstrate(prompt: Prompt, seed: int = 0) -> str:
    """A good response to a generated prompt: does the task, meets every constraint, stays
    within the passage. Deterministic in (prompt.id, seed)."""
    text = try_demonstrate(prompt, seed)
    if text is None and seed != 0:
        text = try_demonstrate(prompt, 0)  # the canonical variant (the generator checks it exists)
    if text is None:
        raise ValueError(f"prompt {prompt.id!r}: no demonstration satisfies its spec {spec_of(prompt)['constraints']}")
    return text
