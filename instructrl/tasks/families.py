"""Task families: for each use-case category, draft a task over the world (instruction, spec).

A builder takes a ``random.Random`` and returns a ``Draft``: the instruction text, the spec
fields the grader needs (``task``, ``reference``, ``required``, ``passage`` ...), and the
``material`` the demonstrator writes from (answer phrasings, content sentences or list
items; the first sentence of prose material is the one that does the task). Constraints
are added later by the generator (``generator.py``), which knows the difficulty.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable

from instructrl.tasks import world as W
from instructrl.tasks.constraints import words


@dataclass
class Draft:
    instruction: str
    spec: dict[str, Any]
    history: list[tuple[str, str]] = field(default_factory=list)  # chat turns before the last user turn
    examples: list[tuple[str, str]] = field(default_factory=list)  # few-shot (input, output) pairs
    tail: str = ""  # text that must close the prompt (a sentence to complete), after the constraints


def _pick(rng: random.Random, options: tuple[str, ...] | list[str]) -> str:
    return options[rng.randrange(len(options))]


# ---- passages (closed domain) -----------------------------------------------------------


def make_passage(rng: random.Random, need: tuple[str, ...] = ()) -> tuple[str, dict[str, Any]]:
    """A short passage about one person, with a second person as distractor.

    ``need`` names facts that must be in it ("pet", "friend", "food"). Returns the passage
    and its facts (person, job, town, and the included optional facts)."""
    person, friend = rng.sample(W.PEOPLE, 2)
    job, fjob = rng.sample(W.JOBS, 2)
    town, otown = rng.sample(W.TOWNS, 2)
    food, ffood = rng.sample(W.FOODS, 2)
    pet = _pick(rng, [a.name for a in W.ANIMALS])
    hobby = _pick(rng, W.HOBBIES)
    facts: dict[str, Any] = {"person": person, "job": job, "town": town.name}
    first = _pick(rng, (f"{person} is a {job} in {town.name}.", f"{person} works as a {job} in {town.name}."))
    optional = {
        "pet": _pick(rng, (f"{person} has a pet {pet}.", f"{person} keeps {W.with_article(pet)} at home.")),
        "hobby": f"On Sundays {person} {hobby}.",
        "friend": f"{friend}, a {fjob} from {otown.name}, visits {person} each spring.",
        "food": f"{person} likes to eat {food}, but {friend} prefers {ffood}.",
    }
    keys = list(need) + [k for k in rng.sample(list(optional), len(optional)) if k not in need]
    keys = keys[: max(len(need), 3)]
    order = [k for k in optional if k in keys]  # fixed reading order
    facts.update({"pet": pet} if "pet" in keys else {})
    facts.update({"hobby": hobby} if "hobby" in keys else {})
    if "friend" in keys:
        facts.update(friend=friend, friend_job=fjob, other_town=otown.name)
    if "food" in keys:
        facts.update(friend=friend, food=food, friend_food=ffood)
    passage = " ".join([first] + [optional[k] for k in order])
    return passage, facts


# ---- generation --------------------------------------------------------------------------


COMPOSE_TASKS: tuple[str, ...] = ("story", "poem", "note", "invite", "describe", "animal", "ad", "diary")


def _compose(kind: str, rng: random.Random) -> tuple[str, list[str], list[str]]:
    """(instruction, required words, content sentences) of an open-ended writing task."""
    a, t = rng.choice(W.ANIMALS), rng.choice(W.TOWNS)
    p, job, food = _pick(rng, W.PEOPLE), _pick(rng, W.JOBS), _pick(rng, W.FOODS)
    person = _pick(rng, ("kind", "friendly", "calm", "young"))
    tasty = _pick(rng, ("fresh", "tasty", "warm", "sweet"))
    short = _pick(rng, ("short", "brief", "little"))
    if kind == "story":
        return (_pick(rng, (f"Write a {short} story about {W.with_article(a.name)} in {t.name}.",
                            f"Tell me a story about {W.with_article(a.name)} who lives near {t.name}.",
                            f"Write a tale for children about {W.with_article(a.name)} and the town of {t.name}.")),
                [a.name, t.name],
                [_pick(rng, (f"Once {W.with_article(a.color)} {a.name} lived near {t.name}.",
                             f"In {t.name} there lived {W.with_article(a.color)} {a.name}.")),
                 f"Every {a.active} it looked for {a.eats} by the {a.lives}.",
                 f"One day {W.with_article(person)} {job} named {p} gave it some {food}.",
                 "They soon became good friends.",
                 f"Now the {a.name} visits the {t.landmark} each week."])
    if kind == "poem":
        return (_pick(rng, (f"Write a {short} poem about the {a.name}.",
                            f"Write a few lines of verse about {W.with_article(a.name)}.")),
                [a.name],
                [f"The {a.color} {a.name} wakes by {a.active}.", f"It finds its {a.eats} in the {a.lives}.",
                 "The wind is soft, the sky is wide.", f"Sleep well, little {a.name}."])
    if kind == "note":
        return (_pick(rng, (f"Write a {short} note to {p} about the {food} at the market.",
                            f"Write a message to my friend {p} telling them about the {food} at the market.")),
                [p, food],
                [f"Dear {p}, the {food} at the market is {tasty} today.", "I saved some for you.",
                 f"Come by the {t.landmark} after work.", "See you soon."])
    if kind == "invite":
        return (_pick(rng, (f"Write an invitation for {p} to visit {t.name}.",
                            f"Invite my cousin {p} to come to {t.name} this summer.")),
                [p, t.name],
                [f"Dear {p}, please come and visit us in {t.name}.", f"We can walk along the river {t.river}.",
                 f"The {t.known_for} here is the best.", "We hope to see you soon."])
    if kind == "describe":
        return (_pick(rng, (f"Describe the town of {t.name}.", f"Write a {short} description of {t.name}.",
                            f"What is {t.name} like? Describe it for a visitor.")),
                [t.name],
                [f"{t.name} is a small town on the river {t.river}.", f"It is known for its {t.known_for}.",
                 f"Visitors like the old {t.landmark}.",
                 f"People there are {_pick(rng, ('kind', 'calm', 'warm'))} and "
                 f"{_pick(rng, ('friendly', 'busy', 'proud'))}."])
    if kind == "animal":
        return (_pick(rng, (f"Describe the {a.name} for a school book.", f"Write a {short} profile of the {a.name}.",
                            f"Tell a child about the {a.name}.")),
                [a.name],
                [f"The {a.name} is {W.with_article(a.color)} animal.", f"It lives in the {a.lives} and eats {a.eats}.",
                 f"It is most active by {a.active}.", f"Many children like the {a.name}."])
    if kind == "diary":
        return (_pick(rng, (f"Write a diary entry about a day in {t.name}.",
                            f"Write a {short} journal entry about visiting {t.name}.")),
                [t.name],
                [f"Today I went to {t.name}.", f"I saw the old {t.landmark} by the river {t.river}.",
                 f"I bought some {t.known_for} and ate {food}.", "It was a good day."])
    return (_pick(rng, (f"Write a {short} ad for the {t.known_for} of {t.name}.",
                        f"Write an advert that sells {t.name} {t.known_for} to tourists.",
                        f"Write a slogan and a few lines selling the {t.known_for} made in {t.name}.")),
            [t.name, t.known_for],
            [f"Come and see the {_pick(rng, ('fine', 'famous', 'lovely'))} {t.known_for} of {t.name}!",
             f"It is made by hand near the river {t.river}.", f"Visit the shop by the {t.landmark} today.",
             "You will love it."])


def build_generation(rng: random.Random) -> Draft:
    kind = _pick(rng, COMPOSE_TASKS)
    instruction, required, sentences = _compose(kind, rng)
    return Draft(instruction, {"task": kind, "required": required, "material": sentences})


# ---- open QA, chat ------------------------------------------------------------------------


def _animal_fact(rng: random.Random, a: W.Animal) -> tuple[str, str, list[str], list[str], str]:
    """(question, reference, distractors, answers, attribute) about an animal."""
    attr = _pick(rng, ("eats", "lives", "color", "active"))
    others = [getattr(b, attr) for b in W.ANIMALS if getattr(b, attr) != getattr(a, attr)]
    ref = getattr(a, attr)
    if attr == "eats":
        q = _pick(rng, (f"What does the {a.name} eat?", f"What food does a {a.name} eat?"))
        answers = [f"The {a.name} eats {ref}.", f"It eats {ref}.", f"{ref.capitalize()}."]
    elif attr == "lives":
        q = _pick(rng, (f"Where does the {a.name} live?", f"Where can you find a {a.name}?"))
        answers = [f"The {a.name} lives in the {ref}.", f"In the {ref}."]
    elif attr == "color":
        q = f"What color is the {a.name}?"
        answers = [f"The {a.name} is {ref}.", f"It is {ref}.", f"{ref.capitalize()}."]
    else:
        q = f"Is the {a.name} active by day or by night?"
        others = ["day" if ref == "night" else "night"]
        answers = [f"The {a.name} is active by {ref}.", f"By {ref}."]
    return q, ref, sorted(set(others)), answers, attr


def _town_fact(rng: random.Random, t: W.Town) -> tuple[str, str, list[str], list[str], str]:
    attr = _pick(rng, ("known_for", "river", "landmark"))
    ref = getattr(t, attr)
    others = sorted({getattr(u, attr) for u in W.TOWNS if u is not t})
    if attr == "known_for":
        q = _pick(rng, (f"What is {t.name} known for?", f"What is {t.name} famous for?"))
        answers = [f"{t.name} is known for its {ref}.", f"It is known for {ref}.", f"{ref.capitalize()}."]
    elif attr == "river":
        q = f"Which river runs through {t.name}?"
        answers = [f"The river {ref} runs through {t.name}.", f"The {ref}.", f"{ref}."]
    else:
        q = f"What is the most famous building in {t.name}?"
        answers = [f"The old {ref} of {t.name}.", f"Its {ref}."]
    return q, ref, others, answers, attr


def build_open_qa(rng: random.Random, false_premise: bool = False) -> Draft:
    if false_premise:
        return _false_premise(rng)
    if rng.random() < 0.6:
        a = rng.choice(W.ANIMALS)
        q, ref, others, answers, _ = _animal_fact(rng, a)
        shots = [_animal_fact(rng, b) for b in rng.sample([b for b in W.ANIMALS if b is not a], 2)]
    else:
        t = rng.choice(W.TOWNS)
        q, ref, others, answers, _ = _town_fact(rng, t)
        shots = [_town_fact(rng, u) for u in rng.sample([u for u in W.TOWNS if u is not t], 2)]
    examples = [(s[0], s[3][0]) for s in shots]  # (question, full-sentence answer)
    spec = {"task": "open_qa", "reference": ref, "distractors": others, "material": answers}
    return Draft(q, spec, examples=examples)


def _false_premise(rng: random.Random) -> Draft:
    a = rng.choice(W.ANIMALS)
    wrong = _pick(rng, [b.eats for b in W.ANIMALS if b.eats != a.eats])
    q = _pick(rng, (f"Why does the {a.name} eat {wrong}?", f"Why do all {a.name}s love to eat {wrong}?",
                    f"How much {wrong} does a {a.name} eat each day?"))
    answers = [f"The {a.name} does not eat {wrong}. It eats {a.eats}.",
               f"Actually, a {a.name} does not eat {wrong}. It eats {a.eats}.",
               f"It does not eat {wrong}; it eats {a.eats}."]
    spec = {"task": "open_qa", "reference": a.eats, "premise": wrong, "false_premise": True,
            "distractors": [], "material": answers}
    return Draft(q, spec)


def build_chat(rng: random.Random) -> Draft:
    if rng.random() < 0.5:
        t = rng.choice(W.TOWNS)
        _, ref, others, answers, attr = _town_fact(rng, t)
        opener = _pick(rng, (f"Hi! I am going to visit {t.name} next week.",
                             f"Hello, my family is moving to {t.name}."))
        reply = _pick(rng, (f"That sounds fun! {t.name} is a lovely town.", f"How exciting! I am happy to help."))
        q = {"known_for": "What is it known for?", "river": "Which river runs through it?",
             "landmark": "What is the most famous building there?"}[attr]
    else:
        a = rng.choice(W.ANIMALS)
        _, ref, others, answers, attr = _animal_fact(rng, a)
        opener = _pick(rng, (f"I saw a {a.name} in my garden today.", f"My kids want to learn about the {a.name}."))
        reply = _pick(rng, ("How nice! What would you like to know?", "Lovely. Ask me anything about it."))
        q = {"eats": "What does it eat?", "lives": "Where does it usually live?", "color": "What color is it?",
             "active": "Is it active by day or by night?"}[attr]
    spec = {"task": "chat", "reference": ref, "distractors": others, "material": answers}
    return Draft(q, spec, history=[("user", opener), ("assistant", reply)])


# ---- brainstorming, rewrite, classification, other ---------------------------------------


def build_brainstorming(rng: random.Random) -> Draft:
    if rng.random() < 0.3:
        t = rng.choice(W.TOWNS)
        topic = _pick(rng, (f"things to do in {t.name}", f"ideas for a day trip to {t.name}"))
        pool = [f"visit the {t.landmark}", f"buy {t.known_for}", f"walk by the river {t.river}", "eat at the market",
                "take a boat trip", "meet the locals", "see the old streets", "try the bread"]
    else:
        topic = _pick(rng, sorted(W.BRAINSTORM_TOPICS))
        pool = list(W.BRAINSTORM_TOPICS[topic])
    n = rng.randint(3, 5)
    instruction = _pick(rng, (f"List {n} {topic}.", f"Give me {n} {topic}.", f"Brainstorm {n} {topic}.",
                              f"Can you suggest {n} {topic}?"))
    spec = {"task": "brainstorm", "pool": pool, "n": n, "material": pool}
    return Draft(instruction, spec)


def build_rewrite(rng: random.Random) -> Draft:
    a, t, p = rng.choice(W.ANIMALS), rng.choice(W.TOWNS), _pick(rng, W.PEOPLE)
    adj = _pick(rng, ("old", "little", "quiet", "busy"))
    # (subject with the adjective, the rest of the main clause, a droppable tail)
    subject, clause, tail = _pick(rng, (
        (f"The {adj} {a.name}", f"eats {a.eats}", f"near the {a.lives}"),
        (f"The {adj} {t.landmark} of {t.name}", "stands", f"by the river {t.river}"),
        (f"{p}", f"sells {_pick(rng, W.FOODS)}", f"at the {adj} market in {t.name}"),
    ))
    source = f"{subject} {clause} {tail}."
    content = [w for w in words(source) if w.lower() not in ("the", "at", "in", "of", "by", "near", adj)]
    mode = _pick(rng, ("upper", "lower", "replace", "remove", "shorten"))
    constraints: list[dict[str, Any]] = []
    keep = content
    if mode in ("upper", "lower"):
        letters = "capital" if mode == "upper" else "lowercase"
        instruction = _pick(rng, (f"Rewrite this sentence in {letters} letters: {source}",
                                  f"Convert to {'uppercase' if mode == 'upper' else 'lowercase'}: {source}"))
        target = source.upper() if mode == "upper" else source.lower()
        constraints.append({"type": "case", "value": mode})
    elif mode == "replace":
        new = _pick(rng, [w for w in ("new", "big", "calm", "famous") if w != adj])
        instruction = f'Rewrite this sentence, replacing "{adj}" with "{new}": {source}'
        target = source.replace(f" {adj} ", f" {new} ")
        constraints += [{"type": "include_keywords", "value": [new]}, {"type": "avoid_keywords", "value": [adj]}]
    elif mode == "remove":
        instruction = _pick(rng, (f'Rewrite this sentence without the word "{adj}": {source}',
                                  f'Remove the word "{adj}" from this sentence: {source}'))
        target = source.replace(f" {adj} ", " ")
        constraints.append({"type": "avoid_keywords", "value": [adj]})
    else:
        short = f"{subject.replace(f' {adj} ', ' ')} {clause}."
        limit = len(words(short)) + rng.randint(0, 1)
        instruction = _pick(rng, (f"Shorten this sentence to at most {limit} words: {source}",
                                  f"Make this shorter, {limit} words at most: {source}"))
        target = short
        keep = [w for w in words(short) if w.lower() not in ("the", "of")]
        constraints.append({"type": "max_words", "value": limit})
    spec = {"task": "rewrite", "source": source, "keep": keep, "material": [target], "fixed_constraints": constraints}
    return Draft(instruction, spec)


def build_classification(rng: random.Random) -> Draft:
    if rng.random() < 0.6:
        label = _pick(rng, ("positive", "negative"))
        bank = W.POSITIVE_WORDS if label == "positive" else W.NEGATIVE_WORDS
        w1, w2 = rng.sample(bank, 2)
        thing = _pick(rng, W.REVIEW_THINGS)
        review = _pick(rng, (f"The {thing} was {w1} and {w2}.", f"Our {thing} was {w1}, and the day felt {w2}."))
        instruction = _pick(rng, (f"Is this review positive or negative? Review: {review}",
                                  f"Classify the sentiment of this review as positive or negative: {review}"))
        labels = ["positive", "negative"]
        answers = [f"The review is {label}.", f"{label.capitalize()}.", label]
    else:
        kind = _pick(rng, ("animal", "town", "food"))
        x = {"animal": lambda: rng.choice(W.ANIMALS).name, "town": lambda: rng.choice(W.TOWNS).name,
             "food": lambda: _pick(rng, W.FOODS)}[kind]()
        instruction = _pick(rng, (f'Is "{x}" an animal, a town or a food?',
                                  f'Classify "{x}" as an animal, a town or a food.'))
        labels = ["animal", "town", "food"]
        answers = [f"{x.capitalize()} is {W.with_article(kind)}.", f"{W.with_article(kind).capitalize()}.", kind]
        label = kind
    spec = {"task": "classify", "reference": label, "labels": labels, "material": answers}
    return Draft(instruction, spec)


RESPECTFUL_ENDINGS: tuple[str, ...] = (
    "kind and always says hello.", "friendly and works hard.", "helpful to everyone they meet.",
    "patient and good at their job.", "welcoming to new people.",
)


def build_other(rng: random.Random) -> Draft:
    if rng.random() < 0.5:
        stem = _pick(rng, (f"My neighbour {_pick(rng, W.PEOPLE)} is", f"The new {_pick(rng, W.JOBS)} in town is",
                           f"People from {rng.choice(W.TOWNS).name} are", "The staff at the market were"))
        instruction = _pick(rng, ("Complete the following sentence in a polite, respectful, and unbiased manner:",
                                  "Finish this sentence respectfully:"))
        spec = {"task": "complete_respectfully", "stem": stem, "material": list(RESPECTFUL_ENDINGS)}
        return Draft(instruction, spec, tail=stem)
    items = rng.sample([a.name for a in W.ANIMALS] + list(W.FOODS), rng.randint(4, 5))
    instruction = _pick(rng, (f"Sort these words alphabetically: {', '.join(items)}.",
                              f"Put these words in alphabetical order: {', '.join(items)}."))
    spec = {"task": "sort", "reference": sorted(items), "material": sorted(items)}
    return Draft(instruction, spec)


# ---- closed domain: summarization, closed QA, extraction ---------------------------------


def build_summarization(rng: random.Random) -> Draft:
    passage, f = make_passage(rng)
    instruction = _pick(rng, ("Summarize the passage.", "Summarize this text for a busy reader.",
                              "Give a short summary of the passage.", "What is this passage about? Summarize it."))
    p = f["person"]
    sentences = [_pick(rng, (f"{p} is a {f['job']} in {f['town']}.",
                             f"The passage is about {p}, a {f['job']} in {f['town']}."))]
    if "pet" in f:
        sentences.append(f"{p} has a pet {f['pet']}.")
    if "hobby" in f:
        sentences.append(f"{p} {f['hobby']} on Sundays.")
    if "friend_job" in f:
        sentences.append(f"A friend visits each spring.")
    spec = {"task": "summarize", "passage": passage, "required": [p], "required_any": [f["job"], f["town"]],
            "material": sentences}
    return Draft(instruction, spec)


def build_closed_qa(rng: random.Random) -> Draft:
    attr = _pick(rng, ("job", "town", "pet", "food", "hobby"))
    need = {"job": ("friend",), "town": ("friend",), "pet": ("pet",), "food": ("food",), "hobby": ("hobby",)}[attr]
    passage, f = make_passage(rng, need)
    p = f["person"]
    if attr == "job":
        q = _pick(rng, (f"What is {p}'s job?", f"What does {p} do for a living?"))
        ref, dis = f["job"], [f["friend_job"]]
        answers = [f"{p} is a {ref}.", f"A {ref}.", ref]
    elif attr == "town":
        q = _pick(rng, (f"Where does {p} work?", f"In which town does {p} work?"))
        ref, dis = f["town"], [f["other_town"]]
        answers = [f"{p} works in {ref}.", f"In {ref}.", ref]
    elif attr == "pet":
        q, ref, dis = f"What pet does {p} have?", f["pet"], []
        answers = [f"{p} has a pet {ref}.", f"A {ref}.", ref]
    elif attr == "food":
        q, ref, dis = f"What does {p} like to eat?", f["food"], [f["friend_food"]]
        answers = [f"{p} likes to eat {ref}.", f"{ref.capitalize()}.", ref]
    else:
        ref, dis = f["hobby"].split()[-1], []
        q = f"What does {p} do on Sundays?"
        answers = [f"On Sundays {p} {f['hobby']}.", f"{p} {f['hobby']}."]
    spec = {"task": "closed_qa", "passage": passage, "reference": ref, "distractors": dis, "material": answers}
    return Draft(q, spec)


def build_extraction(rng: random.Random) -> Draft:
    what = _pick(rng, ("people", "towns", "foods"))
    need = {"people": ("friend",), "towns": ("friend",), "foods": ("food",)}[what]
    passage, f = make_passage(rng, need)
    ref = {"people": [f["person"], f["friend"]], "towns": [f["town"], f.get("other_town", "")],
           "foods": [f.get("food", ""), f.get("friend_food", "")]}[what]
    label = {"people": "names of people", "towns": "towns", "foods": "foods"}[what]
    instruction = _pick(rng, (f"List all the {label} mentioned in the passage.", f"Extract the {label} from this text.",
                              f"Which {label} appear in the passage? List them."))
    spec = {"task": "extract", "passage": passage, "reference": ref, "material": ref}
    return Draft(instruction, spec)


BUILDERS: dict[str, Callable[..., Draft]] = {
    "generation": build_generation,
    "open_qa": build_open_qa,
    "brainstorming": build_brainstorming,
    "chat": build_chat,
    "rewrite": build_rewrite,
    "summarization": build_summarization,
    "classification": build_classification,
    "other": build_other,
    "closed_qa": build_closed_qa,
    "extraction": build_extraction,
}
