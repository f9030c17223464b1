"""The prompt generator: determinism, category mix, specs, feasibility, variety, difficulty."""

import random
from collections import Counter

import pytest

from instructrl.data.io import read_jsonl, write_jsonl
from instructrl.data.schemas import CATEGORIES, Prompt
from instructrl.tasks import TABLE1_MIX, Difficulty, demonstrate, generate_prompts, grade
from instructrl.tasks.generator import allocate


@pytest.fixture(scope="module")
def prompts():
    return generate_prompts(600, seed=7)


def test_deterministic_by_seed(prompts):
    random.seed(123)  # the generator must not depend on the global random state
    again = generate_prompts(600, seed=7)
    assert [p.to_dict() for p in again] == [p.to_dict() for p in prompts]
    other = generate_prompts(600, seed=8)
    assert [p.as_text() for p in other] != [p.as_text() for p in prompts]


def test_table1_mix_is_exact_by_largest_remainder(prompts):
    assert set(TABLE1_MIX) == set(CATEGORIES)
    counts = Counter(p.category for p in prompts)
    # 600 * 45.6 / 99.9 = 273.9 -> 274; 600 * 1.9 / 99.9 = 11.4 -> 11
    assert counts["generation"] == 274 and counts["extraction"] == 11
    assert sum(counts.values()) == 600
    assert allocate(10, {"a": 1, "b": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}


def test_custom_mix_and_bad_mix():
    ps = generate_prompts(40, seed=1, mix={"closed_qa": 1, "extraction": 1})
    assert Counter(p.category for p in ps) == {"closed_qa": 20, "extraction": 20}
    with pytest.raises(ValueError, match="unknown categories \\['poetry'\\]"):
        generate_prompts(5, seed=0, mix={"poetry": 1.0})
    with pytest.raises(ValueError, match="non-negative"):
        generate_prompts(5, seed=0, mix={"chat": -1.0})
    with pytest.raises(ValueError, match="unknown difficulty 'brutal'"):
        generate_prompts(5, seed=0, difficulty="brutal")
    with pytest.raises(ValueError, match="summing to 1"):
        Difficulty("mine", (0.5, 0.5, 0.5, 0.0), 0.1, 0.1, 0.0)
    with pytest.raises(ValueError, match="p_pii must be in \\[0, 1\\], got 2"):
        Difficulty("mine", (1.0, 0.0, 0.0, 0.0), 0.1, 0.1, 2)
    custom = Difficulty("mine", (0.0, 0.0, 0.0, 1.0), 1.0, 0.0, 0.0)
    ps = generate_prompts(30, seed=2, mix={"open_qa": 1}, difficulty=custom)
    assert all(p.metadata["spec"]["false_premise"] for p in ps)


def test_every_prompt_has_a_good_demonstration(prompts):
    for p in prompts:
        for seed in (0, 1):
            g = grade(p, demonstrate(p, seed=seed))
            assert g.ok and g.quality == 1.0, (p.as_text(), demonstrate(p, seed=seed), g)


def test_demonstrations_vary_by_seed_and_stay_short(prompts):
    varied = sum(demonstrate(p, 0) != demonstrate(p, 1) for p in prompts)
    assert varied > len(prompts) // 3
    lengths = [len(demonstrate(p).split()) for p in prompts]
    assert max(lengths) <= 50 and sum(lengths) / len(lengths) < 20


def test_prompts_are_short_and_varied(prompts):
    lengths = [len(p.as_text().split()) for p in prompts]
    assert sum(lengths) / len(lengths) < 35 and max(lengths) <= 70
    assert len({p.as_text() for p in prompts}) > 0.9 * len(prompts)


def test_spec_survives_jsonl_round_trip(prompts, tmp_path):
    path = tmp_path / "prompts.jsonl"
    write_jsonl(path, prompts[:50])
    back = read_jsonl(path, Prompt).records
    for a, b in zip(prompts[:50], back):
        assert b.metadata == a.metadata
        d = demonstrate(b)
        assert d == demonstrate(a) and grade(b, d).ok


def test_failure_mode_prompts_exist(prompts):
    specs = [p.metadata["spec"] for p in prompts]
    closed = [s for p, s in zip(prompts, specs) if p.category in ("closed_qa", "summarization", "extraction")]
    assert closed and all(s["passage"] in p.as_text() and s["closed_domain"] for p, s in zip(prompts, specs)
                          if "passage" in s)
    assert any(s["false_premise"] for s in specs)
    assert any(s["task"] == "complete_respectfully" for s in specs)
    assert sum(len(s["constraints"]) >= 2 for s in specs) > 0.2 * len(specs)
    assert any(p.metadata["few_shot"] for p in prompts)
    assert all(p.messages is not None for p in prompts if p.category == "chat")
    assert {p.category for p in prompts} == set(CATEGORIES)


def test_difficulty_changes_constraint_load():
    def mean_constraints(level):
        ps = generate_prompts(200, seed=3, difficulty=level)
        return sum(len(p.metadata["spec"]["constraints"]) for p in ps) / len(ps)

    assert mean_constraints("easy") < mean_constraints("medium") < mean_constraints("hard")


def test_users_are_skewed(prompts):
    counts = Counter(p.user_id for p in prompts).most_common()
    assert counts[0][1] > 5 * counts[len(counts) // 2][1]
    assert len(counts) <= 100
