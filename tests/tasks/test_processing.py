"""The paper's data processing: prefix dedup, per-user cap, user split, PII removal."""

import pytest

from instructrl.data.schemas import Message, Prompt
from instructrl.tasks import generate_prompts
from instructrl.tasks.processing import (cap_per_user, dedup_by_prefix, filter_pii, has_pii, process_prompts,
                                         scrub_pii, split_by_user)


def P(i, text, user=None, **kw):
    return Prompt(id=str(i), text=text, user_id=user, **kw)


def test_dedup_by_prefix_keeps_first_and_normalizes():
    ps = [P(0, "Write a story about a fox in Lumen. Use 10 words."),
          P(1, "write a story  about a FOX in Lumen. Use 20 words."),
          P(2, "Write a poem about a fox."),
          P(3, "Write a story")]
    assert [p.id for p in dedup_by_prefix(ps, prefix_chars=30)] == ["0", "2", "3"]
    assert [p.id for p in dedup_by_prefix(ps, prefix_chars=100)] == ["0", "1", "2", "3"]
    with pytest.raises(ValueError, match="prefix_chars must be >= 1, got 0"):
        dedup_by_prefix(ps, 0)


def test_cap_per_user_keeps_order_and_is_seeded():
    ps = [P(i, f"prompt {i}", "heavy" if i % 4 else "light") for i in range(40)]
    capped = cap_per_user(ps, cap=5, seed=1)
    assert sum(p.user_id == "heavy" for p in capped) == 5
    assert sum(p.user_id == "light" for p in capped) == 5  # exactly 10 light prompts, capped
    assert [int(p.id) for p in capped] == sorted(int(p.id) for p in capped)
    assert capped == cap_per_user(ps, cap=5, seed=1) and capped != cap_per_user(ps, cap=5, seed=2)
    anon = [P(i, f"anon {i}") for i in range(3)]  # no user id: each is its own user
    assert cap_per_user(anon, cap=1) == anon


def test_split_by_user_has_no_overlap():
    ps = generate_prompts(300, seed=5, n_users=40)
    train, valid, test = split_by_user(ps, (0.8, 0.1, 0.1), seed=0)
    users = [{p.user_id for p in s} for s in (train, valid, test)]
    assert not (users[0] & users[1]) and not (users[0] & users[2]) and not (users[1] & users[2])
    assert len(train) + len(valid) + len(test) == len(ps)
    n_users = len(set().union(*users))
    assert len(users[0]) == round(0.8 * n_users) and len(users[1]) == round(0.9 * n_users) - round(0.8 * n_users)
    with pytest.raises(ValueError, match="summing to 1"):
        split_by_user(ps, (0.5, 0.1, 0.1))


def test_scrub_pii():
    text = ("Mail ann.lee@example.co.uk or call +1 555 123 4567, (555) 123-4567 or 555.123.4567; "
            "I live at 12 Oak Lane. In 1930 there were 200 people.")
    assert scrub_pii(text) == ("Mail [EMAIL] or call [PHONE], [PHONE] or [PHONE]; "
                               "I live at [ADDRESS]. In 1930 there were 200 people.")
    assert not has_pii("The fox eats 12 mice at 5 o'clock in 1930.")


def test_filter_pii_scrubs_text_messages_and_metadata_or_drops():
    ps = [P(0, "Email me at a@b.com please.", metadata={"note": "a@b.com"}),
          Prompt(id="1", messages=(Message("user", "Call 555-123-4567"),)),
          P(2, "Nothing personal here.")]
    out = filter_pii(ps)
    assert out[0].text == "Email me at [EMAIL] please." and out[0].metadata == {"note": "[EMAIL]"}
    assert out[1].messages[0].content == "Call [PHONE]"
    assert out[2] is ps[2]
    assert [p.id for p in filter_pii(ps, mode="drop")] == ["2"]


def test_process_prompts_pipeline_on_generated_prompts():
    ps = generate_prompts(400, seed=9, n_users=30)
    assert any(has_pii(p.as_text()) for p in ps)  # the generator plants some PII
    train, valid, test = process_prompts(ps, cap=20, seed=0)
    assert not any(has_pii(p.as_text()) for p in train)
    from collections import Counter
    assert max(Counter(p.user_id for p in train + valid + test).values()) <= 20
    assert not ({p.user_id for p in train} & {p.user_id for p in test})


def test_process_command_on_a_real_prompt_file(tmp_path, capsys):
    """`instructrl process` on a user's JSONL: duplicates by long prefix go, users stay whole
    in one split, PII leaves the training split (scrubbed, or dropped), counts are written."""
    import json

    from instructrl.cli import main
    from instructrl.data import read_jsonl, write_jsonl

    long = "Please write a detailed plan for the garden party we are holding next week in the village hall, with food"
    rows = [P("dup1", long + " and music.", "u0"), P("dup2", long + " and games.", "u1"),
            P("pii", "Email the plan to ann@example.com before Friday.", "u2")]
    rows += [P(f"q{i}", f"Question {i}: what is {i} plus {i}?", f"u{3 + i % 9}") for i in range(30)]
    write_jsonl(tmp_path / "prompts.jsonl", rows)
    out = tmp_path / "out"
    assert main(["process", f"prompts={tmp_path / 'prompts.jsonl'}", f"out_dir={out}", "split=[0.6,0.2,0.2]", "seed=3"]) == 0
    counts = json.loads((out / "processing.json").read_text())
    assert counts["input"] == 33 and counts["after_prefix_dedup"] == 32 and counts["skipped_bad_rows"] == 0
    splits = {n: read_jsonl(out / f"{n}.jsonl", Prompt).records for n in ("train", "valid", "test")}
    assert sum(map(len, splits.values())) == 32 == counts["train"] + counts["valid"] + counts["test"]
    users = {n: {p.user_id for p in ps} for n, ps in splits.items()}
    assert not (users["train"] & users["valid"] or users["train"] & users["test"] or users["valid"] & users["test"])
    assert not any(has_pii(p.as_text()) for p in splits["train"])
    assert "dup2" not in {p.id for ps in splits.values() for p in ps}
    assert "after prefix dedup" in capsys.readouterr().out
    # with pii=drop a training prompt holding PII is left out instead of scrubbed
    seeds_with_pii_in_train = [s for s in range(20) if "u2" in {p.user_id for p in process_prompts(rows, fractions=(0.6, 0.2, 0.2), seed=s)[0]}]
    s = seeds_with_pii_in_train[0]
    assert main(["process", f"prompts={tmp_path / 'prompts.jsonl'}", f"out_dir={out}", "split=[0.6,0.2,0.2]", f"seed={s}", "pii=drop"]) == 0
    assert "pii" not in {p.id for p in read_jsonl(out / "train.jsonl", Prompt).records}
    assert json.loads((out / "processing.json").read_text())["train_with_pii"] == 1


def test_process_command_names_bad_input(tmp_path, capsys):
    from instructrl.cli import main

    assert main(["process"]) != 0
    assert "prompts= is required" in capsys.readouterr().err
    (tmp_path / "p.jsonl").write_text('{"id": "a", "text": "hi", "user_id": "u"}\n{"id": "b"}\n')
    assert main(["process", f"prompts={tmp_path / 'p.jsonl'}", f"out_dir={tmp_path / 'o'}"]) != 0
    assert "p.jsonl:2" in capsys.readouterr().err
    assert main(["process", f"prompts={tmp_path / 'p.jsonl'}", f"out_dir={tmp_path / 'o'}", "skip_bad=true", "split=[1,0,0]"]) == 0
    assert '"skipped_bad_rows": 1' in (tmp_path / "o" / "processing.json").read_text()
    assert main(["process", f"prompts={tmp_path / 'p.jsonl'}", "split=[0.5,0.5]"]) != 0
    assert "split must be 3" in capsys.readouterr().err
