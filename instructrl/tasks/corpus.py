"""Plain-text pretraining documents from the same world as the prompts.

Used to pretrain the tiny base LM of the CPU preset from scratch, and as PPO-ptx's
pretraining data. Documents state the world's facts (animals, towns), tell stories, hold
passages like those of closed-domain prompts, lists and Q/A snippets, so a base model knows
the world and its formats but has never been told to follow instructions.

Two optional kinds make the base more like a web-pretrained LM (both off by default, so a
corpus from the same seed is unchanged; ``docs/tasks-and-labelers.md``):

- *reading* documents: a passage followed by text that refers back to it (a restatement,
  Q/A about it, the people in it), as in reading-comprehension pages. A model that has never
  seen later text repeat a name from earlier text cannot copy from a passage, and then every
  closed-domain answer it writes is a hallucination no amount of RL can fix.
- *case* variants: whole documents in capitals or in lower case, so words spelled that way
  are not foreign to the model when a prompt asks for them.
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


def _reading_doc(rng: random.Random) -> str:
    """A passage, then text that refers back to it: facts restated, Q/A, the people in it."""
    passage, f = make_passage(rng)
    person = f["person"]
    qa = [(f"What does {person} do?", f"{person} is {W.with_article(f['job'])}."), (f"Where does {person} live?", f"In {f['town']}.")]
    said = [f"{person} is {W.with_article(f['job'])} in {f['town']}."]
    if "pet" in f:
        qa.append((f"What pet does {person} have?", f"{W.with_article(f['pet']).capitalize()}."))
        said.append(f"{person} has a pet {f['pet']}.")
    if "hobby" in f:
        qa.append((f"What does {person} do on Sundays?", f"{person} {f['hobby']}."))
        said.append(f"On Sundays {person} {f['hobby']}.")
    if "friend_job" in f:
        qa.append((f"Who visits {person} each spring?", f"{f['friend']}, {W.with_article(f['friend_job'])} from {f['other_town']}."))
    if "food" in f:
        qa.append((f"What does {person} like to eat?", f"{f['food'].capitalize()}."))
    people = [person] + ([f["friend"]] if "friend" in f else [])
    head = rng.choice(("", "Passage: ", "Text: "))
    kind = rng.randrange(3)
    if kind == 0:
        rng.shuffle(qa)
        tail = "\n".join(f"Q: {q}\nA: {a}" for q, a in qa[: rng.randint(1, 3)])
    elif kind == 1:
        tail = rng.choice(("In short: ", "Summary: ", "")) + " ".join(said[: rng.randint(1, len(said))])
    else:
        tail = rng.choice(("People in this text: ", "Names: ")) + ", ".join(people) + "."
    return f"{head}{passage}\n\n{tail}"


def _recase(doc: str, rng: random.Random) -> str:
    return doc.upper() if rng.random() < 0.5 else doc.lower()


_DOC_KINDS = (_animal_doc, _town_doc, _qa_doc, _list_doc, _story_doc, _passage_doc)


def generate_pretraining_corpus(n_docs: int, seed: int, *, reading: float = 0.0, case: float = 0.0) -> list[str]:
    """``n_docs`` plain-text documents (1-3 paragraphs each), deterministic in ``seed``.

    ``reading``: the share of paragraphs that are reading documents (a passage and text
    referring back to it); ``case``: the share of documents written all in capitals or all in
    lower case (half each). At 0 (the default) neither draws from the random stream, so the
    corpus is the one earlier versions generated for the same seed."""
    if n_docs < 0:
        raise ValueError(f"n_docs must be >= 0, got {n_docs}")
    for name, v in (("reading", reading), ("case", case)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must be a fraction in [0, 1], got {v}")
    rng = random.Random(f"pretraining_corpus:{seed}")
    docs = []
    for _ in range(n_docs):
        parts = []
        for _ in range(rng.randint(1, 3)):
            kind = _reading_doc if reading and rng.random() < reading else rng.choice(_DOC_KINDS)
            parts.append(kind(rng))
        doc = "\n\n".join(parts)
        docs.append(_recase(doc, rng) if case and rng.random() < case else doc)
    return docs
