"""Ranking loading: malformed rankings, duplicate labelers, HH-RLHF pairs, the fixed split."""

import gzip
import json
from pathlib import Path

import pytest

from instructrl.data.schemas import DataError, Prompt, Ranking
from instructrl.models.loader import tiny_tokenizer
from instructrl.reward.data import hh_ranking, load_rankings, prompt_bucket, split_by_prompt, tokenize_ranking

from .conftest import write_rankings

HH = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "hh-rlhf" / "helpful-base" / "test.jsonl.gz"


def _row(i, responses, ranks, labeler="L1"):
    return json.dumps({"prompt": {"id": f"p{i}", "text": f"prompt {i}"}, "responses": responses, "ranks": ranks, "labeler_id": labeler})


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_loads_rankings_with_variable_k_and_pairs(tmp_path):
    f = _write(tmp_path / "r.jsonl", [
        _row(0, ["a", "b", "c"], [1, 1, 2]),
        json.dumps({"prompt": "plain prompt", "chosen": "good", "rejected": "bad"}),
    ])
    got = load_rankings(str(f))
    assert [r.k for r in got.records] == [3, 2]
    assert got.records[1].ranks == (1, 2) and got.records[1].responses == ("good", "bad")
    assert got.sources == [f"{f}:1", f"{f}:2"]


@pytest.mark.parametrize(
    "responses, ranks, message",
    [
        (["a", "b", "c"], [1, 4, 2], "r.jsonl:2: field 'ranks[1]': rank must be an integer in 1..3, got 4"),
        (["a", "b"], [0, 1], "r.jsonl:2: field 'ranks[0]': rank must be an integer in 1..2, got 0"),
        (["a"], [1], "r.jsonl:2: field 'responses': a ranking needs at least 2 responses, got 1"),
        (["a", "b", "c"], [1, 2], "r.jsonl:2: field 'ranks': 2 ranks for 3 responses"),
    ],
)
def test_malformed_rankings_name_file_line_and_field(tmp_path, responses, ranks, message):
    f = _write(tmp_path / "r.jsonl", [_row(0, ["x", "y"], [1, 2]), _row(1, responses, ranks)])
    with pytest.raises(DataError) as e:
        load_rankings(str(f))
    assert str(e.value).endswith(message)
    assert load_rankings(str(f), skip_bad=True).n_skipped == 1


def test_duplicate_labeler_entry_names_both_locations(tmp_path):
    f = _write(tmp_path / "r.jsonl", [_row(0, ["a", "b"], [1, 2]), _row(1, ["a", "b"], [1, 2]), _row(0, ["c", "d"], [2, 1])])
    with pytest.raises(DataError) as e:
        load_rankings(str(f))
    msg = str(e.value)
    assert msg.startswith(f"{f}:3: field 'labeler_id'") and f"first at {f}:1" in msg and "'L1' ranked prompt 'p0' twice" in msg
    # the same prompt ranked by two different labelers is fine
    ok = _write(tmp_path / "ok.jsonl", [_row(0, ["a", "b"], [1, 2]), _row(0, ["c", "d"], [2, 1], labeler="L2")])
    assert len(load_rankings(str(ok))) == 2


def test_hh_rlhf_rows_load_as_k2_with_a_shared_prompt(tmp_path):
    with gzip.open(HH, "rt") as src:
        lines = [next(src) for _ in range(5)]
    f = _write(tmp_path / "hh.jsonl", [l.rstrip("\n") for l in lines])
    got = load_rankings(str(f)).records
    assert len(got) == 5
    for line, r in zip(lines, got):
        row = json.loads(line)
        assert r.ranks == (1, 2) and r.prompt.messages[-1].role == "user"
        assert row["chosen"].endswith(r.responses[0]) and row["rejected"].endswith(r.responses[1])
        assert r.prompt.messages[0].content in row["chosen"]
    r = hh_ranking({"chosen": "\n\nHuman: hi\n\nAssistant: yo\n\nHuman: how?\n\nAssistant: well", "rejected": "\n\nHuman: hi\n\nAssistant: yo\n\nHuman: how?\n\nAssistant: no"})
    assert [(m.role, m.content) for m in r.prompt.messages] == [("user", "hi"), ("assistant", "yo"), ("user", "how?")]
    assert r.responses == ("well", "no")
    with pytest.raises(DataError, match="differ before their last Assistant turn"):
        hh_ranking({"chosen": "\n\nHuman: hi\n\nAssistant: a", "rejected": "\n\nHuman: other\n\nAssistant: b"})
    bad = _write(tmp_path / "bad.jsonl", [lines[0].rstrip("\n"), json.dumps({"chosen": "no turns here", "rejected": "x"})])
    with pytest.raises(DataError, match=r"bad.jsonl:2: field 'chosen': text before the first turn"):
        load_rankings(str(bad))


def test_split_by_prompt_is_fixed_and_keeps_a_prompt_on_one_side(tmp_path):
    rankings = load_rankings(str(write_rankings(tmp_path / "r.jsonl", n=200))).records
    train, valid = split_by_prompt(rankings, 0.2)
    assert 20 <= len(valid) <= 60 and len(train) + len(valid) == 200
    t2, v2 = split_by_prompt(list(reversed(rankings)), 0.2)  # order does not matter
    assert {r.prompt.id for r in v2} == {r.prompt.id for r in valid}
    same = Ranking(prompt=Prompt(id="other-id", text=valid[0].prompt.text), responses=("a", "b"), ranks=(1, 2))
    assert split_by_prompt([same], 0.2)[1] == [same]  # by prompt text, not id or position
    assert prompt_bucket(valid[0].prompt) < 0.2 <= prompt_bucket(train[0].prompt)
    _, v3 = split_by_prompt(rankings, 0.2, salt="other")
    assert {r.prompt.id for r in v3} != {r.prompt.id for r in valid}


def test_tokenize_ranking_shares_the_prompt_and_ends_responses_with_eos():
    tok = tiny_tokenizer()
    r = Ranking(prompt=Prompt(id="p", text="Say hi."), responses=("hi", "hello there"), ranks=(1, 2))
    t = tokenize_ranking(tok, r, max_seq_len=64)
    assert all(x[-1] == tok.eos_token_id for x in t.response_ids)
    assert t.n_tokens == len(t.prompt_ids) + sum(len(x) for x in t.response_ids)
    with pytest.raises(DataError, match="over max_seq_len=8"):
        tokenize_ranking(tok, r, max_seq_len=8)
