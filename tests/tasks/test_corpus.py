"""The pretraining corpus: deterministic plain text from the prompts' world."""

import hashlib

import pytest

from instructrl.tasks import generate_pretraining_corpus
from instructrl.tasks import world as W
from instructrl.tasks.constraints import words


def test_corpus_is_deterministic_and_from_the_world():
    docs = generate_pretraining_corpus(300, seed=4)
    assert docs == generate_pretraining_corpus(300, seed=4) and docs != generate_pretraining_corpus(300, seed=5)
    assert len(docs) == 300 and all(d.strip() for d in docs)
    vocab = {w.lower() for d in docs for w in words(d)}
    assert {"fox", "mice", "lumen", "glass"} <= vocab  # facts of the world are stated
    assert len(vocab) < 600  # a moderate vocabulary for a tiny LM
    assert sum(len(words(d)) for d in docs) / len(docs) < 80
    # facts are consistent with the world: the fox always eats mice
    assert all("The fox eats mice" in d for d in docs if "The fox eats" in d)
    assert W.ENTITY_WORDS & vocab


def test_dataset_command_writes_splits_demos_and_corpus(tmp_path):
    from instructrl.data.io import read_jsonl
    from instructrl.data.schemas import Demonstration, Prompt
    from instructrl.tasks import grade
    from instructrl.tasks.__main__ import main

    assert main([f"out_dir={tmp_path}", "n=80", "n_users=10", "n_pretraining_docs=5", "per_user_cap=15"]) == 0
    splits = {name: read_jsonl(tmp_path / f"{name}.jsonl", Prompt).records for name in ("train", "valid", "test")}
    assert 0 < sum(map(len, splits.values())) <= 80
    demos = read_jsonl(tmp_path / "demonstrations.jsonl", Demonstration).records
    assert len(demos) == len(splits["train"]) and all(grade(d.prompt, d.response).ok for d in demos)
    assert (tmp_path / "pretraining.txt").read_text().count("\n---\n") == 4


def test_default_corpus_is_pinned():
    """Records and presets name a corpus by its seed: the default mix must not drift."""
    docs = generate_pretraining_corpus(50, seed=0)
    assert hashlib.sha256("\x00".join(docs).encode()).hexdigest()[:16] == "143ea4e960d8e1af"


def test_reading_documents_refer_back_to_their_passage():
    docs = generate_pretraining_corpus(200, seed=1, reading=1.0)
    tails = 0
    for doc in docs:
        paras = doc.split("\n\n")
        assert len(paras) % 2 == 0  # every paragraph a reading document: passage + what follows
        for passage, tail in zip(paras[::2], paras[1::2]):
            named = {w for w in words(tail) if w in W.PEOPLE or w in {t.name for t in W.TOWNS}}
            assert named and named <= set(words(passage)), (passage, tail)  # copied, never made up
            tails += 1
    assert tails > 300
    kinds = [("Q: " in d, "Names: " in d or "People in this text: " in d) for d in docs]
    assert any(q for q, _ in kinds) and any(n for _, n in kinds) and any(not q and not n for q, n in kinds)
    # a share, not all: about half the paragraphs at 0.5
    mixed = generate_pretraining_corpus(400, seed=1, reading=0.5)
    share = sum(p.startswith(("Passage: ", "Text: ")) or "\nA: " in p or p.startswith(("Names", "People", "Summary", "In short"))
                for d in mixed for p in d.split("\n\n")) / sum(len(d.split("\n\n")) for d in mixed)
    assert 0.2 < share < 0.8


def test_case_variants():
    docs = generate_pretraining_corpus(400, seed=2, case=0.5)
    upper = [d for d in docs if d == d.upper()]
    lower = [d for d in docs if d == d.lower()]
    assert 60 < len(upper) < 140 and 60 < len(lower) < 140
    assert all(d == d.upper() or d == d.lower() for d in generate_pretraining_corpus(50, seed=2, case=1.0))


def test_corpus_fractions_are_validated():
    for kw in ({"reading": 1.5}, {"case": -0.1}):
        with pytest.raises(ValueError, match=next(iter(kw))):
            generate_pretraining_corpus(3, seed=0, **kw)
