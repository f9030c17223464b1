"""Reward-model accuracy on chosen/rejected pairs and K-way rankings."""

from __future__ import annotations

import gzip
import json

import pytest

from evalfakes import SHARED
from instructrl.data.schemas import Prompt, Ranking
from instructrl.evals.rm_accuracy import load_preferences, ranking_accuracy


def length_rm(prompts, responses):
    return [float(len(r)) for r in responses]


def test_accuracy_and_margin_by_hand():
    pr = Prompt(id="p", text="q")
    rankings = [
        Ranking(prompt=pr, responses=("long", "s"), ranks=(1, 2)),  # right, margin 3
        Ranking(prompt=pr, responses=("s", "long"), ranks=(1, 2)),  # wrong, margin -3
        Ranking(prompt=pr, responses=("ab", "cd"), ranks=(1, 2)),  # equal scores: half, margin 0
        # K=3 with a tie between the last two: pairs (0,1) and (0,2) only, both right (4-1, 4-2)
        Ranking(prompt=pr, responses=("abcd", "a", "ab"), ranks=(1, 2, 2)),
    ]
    m, recs = ranking_accuracy(length_rm, rankings)
    assert m["n_pairs"] == 5
    assert m["accuracy"] == pytest.approx((1 + 0 + 0.5 + 1 + 1) / 5)
    assert m["margin"] == pytest.approx((3 - 3 + 0 + 3 + 2) / 5)
    assert recs[3]["pair_accuracy"] == [1.0, 1.0]


def test_load_hh_and_ranking_files(tmp_path):
    p = tmp_path / "test.jsonl.gz"
    with gzip.open(p, "wt") as f:
        f.write(json.dumps({"chosen": "\n\nHuman: Hi\n\nAssistant: Hello there", "rejected": "\n\nHuman: Hi\n\nAssistant: Go away"}) + "\n")
    rs, skipped = load_preferences(str(p))
    r = rs[0]
    assert skipped == 0
    assert r.responses == ("Hello there", "Go away") and r.ranks == (1, 2)
    assert [(m.role, m.content) for m in r.prompt.messages] == [("user", "Hi")]
    q = tmp_path / "r.jsonl"
    q.write_text(json.dumps({"prompt": "x", "responses": ["a", "b", "c"], "ranks": [2, 1, 3]}) + "\n")
    assert load_preferences(str(q))[0][0].k == 3


@pytest.mark.skipif(not (SHARED / "hh-rlhf").exists(), reason="shared datasets not present")
def test_reads_the_shipped_hh_test_split():
    rs, skipped = load_preferences(str(SHARED / "hh-rlhf" / "helpful-base" / "test.jsonl.gz"), limit=20)
    assert len(rs) == 20 and skipped >= 1  # row 169 is malformed upstream and all(r.prompt.messages[-1].role == "user" for r in rs)
