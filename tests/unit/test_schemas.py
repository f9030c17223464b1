import json

import pytest

from instructrl.data import DataError, Demonstration, Prompt, Ranking, Rating, read_jsonl, write_jsonl


def test_roundtrip_all_record_types(tmp_path):
    p = Prompt(id="a", messages=None, text="Say hi", user_id="u1", category="chat", metadata={"spec": {"x": 1}})
    recs = [
        Demonstration(prompt=p, response="hi", labeler_id="L1"),
    ]
    write_jsonl(tmp_path / "d.jsonl", recs)
    assert read_jsonl(tmp_path / "d.jsonl", Demonstration).records == recs
    assert read_jsonl(tmp_path / "d.jsonl", Demonstration).records[0].prompt.metadata == {"spec": {"x": 1}}
    r = Rating(prompt=p, response="hi", likert=6, flags={"hallucination": True}, labeler_id="L2", notes="ok")
    write_jsonl(tmp_path / "r.jsonl", [r])
    back = read_jsonl(tmp_path / "r.jsonl", "rating").records[0]
    assert back == r and back.flag("hallucination") and not back.flag("harmful_advice")
    k = Ranking(prompt=p, responses=("a", "b", "c"), ranks=(2, 1, 2), labeler_id="L3")
    write_jsonl(tmp_path / "k.jsonl", [k])
    assert read_jsonl(tmp_path / "k.jsonl", Ranking).records == [k]


def test_chat_prompt_roundtrip_and_messages():
    p = Prompt.from_dict({"id": 1, "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]})
    assert p.id == "1" and p.as_messages()[-1] == {"role": "user", "content": "hi"}
    assert Prompt.from_dict(p.to_dict()) == p


def test_ranking_pairs_drop_ties():
    k = Ranking(prompt=Prompt(id="x", text="q"), responses=("a", "b", "c", "d"), ranks=(1, 2, 2, 4))
    assert sorted(k.pairs()) == [(0, 1), (0, 2), (0, 3), (1, 3), (2, 3)]  # (1,2) tied: dropped


def test_chosen_rejected_loads_as_k2():
    k = Ranking.from_dict({"prompt": "q", "chosen": "good", "rejected": "bad"})
    assert k.responses == ("good", "bad") and k.pairs() == [(0, 1)]


@pytest.mark.parametrize(
    "row, field, fragment",
    [
        ({"prompt": "q", "responses": ["a", "b"], "ranks": [1, 3]}, "ranks[1]", "1..2"),
        ({"prompt": "q", "responses": ["a"], "ranks": [1]}, "responses", "at least 2"),
        ({"prompt": "q", "responses": ["a", "b"], "ranks": [1]}, "ranks", "1 ranks for 2"),
        ({"responses": ["a", "b"], "ranks": [1, 2]}, "prompt", "missing"),
        ({"prompt": "q", "responses": ["a", "b"], "ranks": [1, 2], "extra": 1}, "extra", "unknown"),
    ],
)
def test_bad_rankings_name_field(row, field, fragment):
    with pytest.raises(DataError) as e:
        Ranking.from_dict(row)
    assert e.value.field == field and fragment in str(e.value)


def test_bad_rating_likert():
    with pytest.raises(DataError, match="likert.*1..7"):
        Rating.from_dict({"prompt": "q", "response": "r", "likert": 9})
    with pytest.raises(DataError, match="unknown flag"):
        Rating.from_dict({"prompt": "q", "response": "r", "likert": 3, "flags": {"toxic": True}})


def test_jsonl_errors_name_file_line_and_field(tmp_path):
    f = tmp_path / "bad.jsonl"
    good = {"prompt": {"id": "1", "text": "q"}, "response": "r"}
    f.write_text(json.dumps(good) + "\n" + "{not json\n" + json.dumps({"prompt": "q", "response": "  "}) + "\n" + json.dumps({"prompt": "q"}) + "\n")
    with pytest.raises(DataError) as e:
        read_jsonl(f, Demonstration)
    assert f"{f}:2" in str(e.value) and "invalid JSON" in str(e.value)
    loaded = read_jsonl(f, Demonstration, skip_bad=True)
    assert len(loaded) == 1 and loaded.n_skipped == 3
    assert any(f"{f}:3: field 'response': must not be empty" in m for m in loaded.errors)
    assert any(f"{f}:4: field 'response': missing" in m for m in loaded.errors)


def test_prompt_needs_text_or_messages():
    with pytest.raises(DataError, match="exactly one"):
        Prompt.from_dict({"id": "1"})
    with pytest.raises(DataError) as e:
        Prompt.from_dict({"id": "1", "messages": [{"role": "robot", "content": "x"}]})
    assert "messages[0]" in str(e.value)
