"""The pretraining corpus: deterministic plain text from the prompts' world."""

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
