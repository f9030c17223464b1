"""Plain-text pretraining documents from the same world as the prompts.

Used to pretrain the tiny base LM of the CPU preset from scratch, and as PPO-ptx's
pretraining data. Documents state the world's facts (animals, towns), tell stories, hold
passages like those of closed-domain prompts, lists and Q/A snippets, so a base model knows
the world and its formats but has never been told to follow instructions.
"""

from __future__ import annotations

import random

from instructrl.tasks import world as W
from instructrl.tasks.families import build_generation, make_passage


def _animal_doc(rng: random.Random) -> str:
    a = rng.choice(W.ANIMALS)
    facts = [f"The {a.name} is a {a.color} animal.", f"The {a.name} eats {a.eats}.",
             f"It lives in the {a.lives}.", f"The {a.name} is active by {a.active}."]
    rest = facts[1:]
    rng.shuffle(rest)
    return " ".join([facts[0]] + rest[: rng.randint(1, 3)])


def _town_doc(rng: random.Random) -> str:
    t = rng.choice(W.TOWNS)
    facts = [f"{t.name} is a town on the river {t.river}.", f"{t.name} is known for its {t.known_for}.",
             f"The old {t.landmark} of {t.name} is famous.", f"Many people in {t.name} work as {rng.choice(W.JOBS)}s."]
    return " ".join(facts[: rng.randint(2, 4)])


def _qa_doc(rng: random.Random) -> str:
    a, t = rng.choice(W.ANIMALS), rng.choice(W.TOWNS)
    return rng.choice((f"Q: What does the {a.name} eat?\nA: The {a.name} eats {a.eats}.",
                       f"Q: Where does the {a.name} live?\nA: In the {a.lives}.",
                       f"Q: What is {t.name} known for?\nA: Its {t.known_for}."))


def _list_doc(rng: random.Random) -> str:
    topic = rng.choice(sorted(W.BRAINSTORM_TOPICS))
    items = rng.sample(W.BRAINSTORM_TOPICS[topic], rng.randint(3, 5))
    if rng.random() < 0.5:
        return f"{topic.capitalize()}: {', '.join(items)}."
    return f"{topic.capitalize()}:\n" + "\n".join(f"{i}. {x}" for i, x in enumerate(items, 1))


def _story_doc(rng: random.Random) -> str:
    return " ".join(build_generation(rng).spec["material"])


def _passage_doc(rng: random.Random) -> str:
    return make_passage(rng)[0]


_DOC_KINDS = (_animal_doc, _town_doc, _qa_doc, _list_doc, _story_doc, _passage_doc)


def generate_pretraining_corpus(n_docs: int, seed: int) -> list[str]:
    """``n_docs`` plain-text documents (1-3 paragraphs each), deterministic in ``seed``."""
    if n_docs < 0:
        raise ValueError(f"n_docs must be >= 0, got {n_docs}")
    rng = random.Random(f"pretraining_corpus:{seed}")
    docs = []
    for _ in range(n_docs):
        parts = [rng.choice(_DOC_KINDS)(rng) for _ in range(rng.randint(1, 3))]
        docs.append("\n\n".join(parts))
    return docs
