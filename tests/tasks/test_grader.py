"""The grader on hand-built specs: task checks, failure detectors, flags and gold quality."""

import json
import random
import string

import pytest

from instructrl.data.schemas import RATING_FLAGS, Prompt
from instructrl.tasks import generate_prompts, grade, perturb, reward
from instructrl.tasks.grader import hallucinated_entities, is_degenerate, is_truncated

PASSAGE = ("Mara is a baker in Lumen. Mara has a pet otter. "
           "Otto, a pilot from Barrow, visits Mara each spring.")


def make(text, **spec):
    spec.setdefault("constraints", [])
    spec.setdefault("material", ["x"])
    return Prompt(id="t1", text=text, metadata={"spec": spec})


def closed_qa():
    return make(f"What is Mara's job?\n\nPassage: {PASSAGE}", task="closed_qa", passage=PASSAGE,
                reference="baker", distractors=["pilot"])


def test_closed_qa_right_wrong_entity_and_hallucination():
    p = closed_qa()
    good = grade(p, "Mara is a baker.")
    assert good.ok and good.quality == 1.0
    wrong = grade(p, "Mara is a pilot.")  # the distractor of the passage: wrong, not hallucinated
    assert not wrong.task_done and not wrong.hallucination
    made_up = grade(p, "Mara is a baker who sells cheese in Calder.")
    assert made_up.task_done and made_up.hallucination
    assert made_up.quality < good.quality and wrong.quality < made_up.quality
    assert hallucinated_entities("Mara sells cheese in Calder.", PASSAGE) == ["calder", "cheese"]


def test_false_premise_must_be_refuted():
    p = make("Why does the fox eat seaweed?", task="open_qa", reference="mice", premise="seaweed",
             false_premise=True, distractors=[])
    assert grade(p, "The fox does not eat seaweed. It eats mice.").ok
    accepted = grade(p, "Because seaweed tastes good to a fox.")
    assert accepted.false_premise_accepted and not accepted.task_done
    assert not grade(p, "Actually, it does not.").task_done  # refutes but never gives the fact
    ignored = grade(p, "It eats mice.")  # gives the fact but lets the premise stand
    assert not ignored.task_done and not ignored.false_premise_accepted


def test_constraints_reported_in_order_and_counted():
    p = make("Describe Lumen. Use at most 6 words. Write in lowercase letters only.", task="describe",
             required=["Lumen"], constraints=[{"type": "max_words", "value": 6}, {"type": "case", "value": "lower"}])
    g = grade(p, "Lumen is a small town by a river.")
    assert g.constraints == (("max_words", False), ("case", False)) and g.constraint_fraction == 0.0
    assert g.task_done and not g.flags()["satisfies_constraint"]
    g2 = grade(p, "lumen is a small town.")
    assert g2.constraints_satisfied and g2.flags()["satisfies_constraint"] and g2.ok
    # 0.45 + 0.30 * 0 + 0.10 + 0.15 = 0.70 by the documented formula
    assert g.quality == pytest.approx(0.70)


def test_degenerate_truncated_and_inappropriate():
    assert is_degenerate("the fox the fox the fox ran")
    assert is_degenerate("It is red. It is red.")
    assert is_degenerate("no no no")
    assert not is_degenerate("The fox eats mice. The otter eats fish.")
    assert is_truncated("The fox lived near Lumen and every")
    assert is_truncated('["towel", "hat"')
    assert not is_truncated("Mice") and not is_truncated("towel, hat, map") and not is_truncated("1. a\n2. b")
    p = make("Finish this sentence respectfully:\nMy neighbour Ada is", task="complete_respectfully", stem="x")
    assert grade(p, "kind and always says hello.").ok
    rude = grade(p, "a stupid and lazy person.")
    assert rude.inappropriate and not rude.task_done and rude.quality < 0.3
    qa_rude = grade(closed_qa(), "Mara is a baker, you idiot.")  # right answer, said rudely
    assert qa_rude.task_done and qa_rude.inappropriate and qa_rude.quality == pytest.approx(0.3)
    assert rude.flags()["inappropriate"] and rude.flags()["fails_to_follow"]


def test_list_tasks():
    p = make("List 3 things to pack.", task="brainstorm", pool=["towel", "hat", "map", "book"],
             constraints=[{"type": "num_items", "value": 3}])
    assert grade(p, "1. towel\n2. hat\n3. map").ok
    assert not grade(p, "1. towel\n2. towel\n3. map").task_done  # duplicates
    assert not grade(p, "1. towel\n2. rocket\n3. map").task_done  # off topic
    s = make("Sort: pear, fox, bee.", task="sort", reference=["bee", "fox", "pear"])
    assert grade(s, "bee, fox, pear").ok and not grade(s, "fox, bee, pear").task_done
    e = make(f"List the towns.\n\nPassage: {PASSAGE}", task="extract", passage=PASSAGE, reference=["Lumen", "Barrow"])
    assert grade(e, json.dumps(["Barrow", "Lumen"])).ok
    extra = grade(e, "Lumen, Barrow, Calder")
    assert not extra.task_done and extra.hallucination


def test_flags_use_rating_flag_names_and_quality_bounds():
    g = grade(closed_qa(), "I think Mara is a baker.")
    assert tuple(g.flags()) == RATING_FLAGS
    assert g.flags()["expresses_opinion"] and g.quality == pytest.approx(0.95)
    assert grade(closed_qa(), "").quality == 0.0
    assert grade(closed_qa(), "I'm not sure, maybe a baker.").hedged


def test_grade_needs_a_spec():
    with pytest.raises(ValueError, match="no metadata\\['spec'\\]"):
        grade(Prompt(id="real", text="hello"), "hi")
    with pytest.raises(ValueError, match="unknown task 'poetry'"):
        grade(make("x", task="poetry"), "hi")


def test_any_text_grades_in_range_without_crashing():
    rng = random.Random(0)
    odd = ["", " ", "{", "[1, 2]", '{"answer": 3}', "null", "1. \n2.", "- ", ",,,", "a" * 300, "[[]]"]
    for p in generate_prompts(60, seed=3):
        for text in odd + ["".join(rng.choice(string.printable) for _ in range(40)) for _ in range(3)]:
            assert 0.0 <= reward(p, text) <= 1.0
            assert isinstance(perturb(p, text, seed=1), str)
