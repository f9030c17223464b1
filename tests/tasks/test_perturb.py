"""Corruptions lower the gold quality of demonstrations, deterministically."""

import pytest

from instructrl.data.schemas import Prompt
from instructrl.tasks import PERTURBATIONS, demonstrate, generate_prompts, grade, perturb
from instructrl.tasks.perturb import response_mix

PASSAGE = "Mara is a baker in Lumen. Mara has a pet otter. Otto, a pilot from Barrow, visits Mara each spring."


@pytest.fixture(scope="module")
def prompts():
    return generate_prompts(150, seed=21)


def _qa():
    return Prompt(id="qa", text=f"What is Mara's job? Use at most 8 words.\n\nPassage: {PASSAGE}", metadata={"spec": {
        "task": "closed_qa", "passage": PASSAGE, "reference": "baker", "distractors": ["pilot"],
        "constraints": [{"type": "max_words", "value": 8}], "material": ["Mara is a baker."]}})


@pytest.mark.parametrize("kind,failure", [
    ("truncate", "truncated"), ("repeat", "degenerate"), ("unsupported_entity", "hallucination"),
    ("wrong_answer", "not task_done"), ("hedge", "hedged"), ("break_constraint", "not constraints_satisfied"),
    ("rude", "inappropriate"), ("off_task", "not task_done"), ("opinion", "content.opinion"),
])
def test_each_corruption_causes_its_failure(kind, failure):
    p, demo = _qa(), "Mara works as a baker in Lumen."
    assert grade(p, demo).ok
    bad = PERTURBATIONS[kind](p, demo, __import__("random").Random(0))
    g = grade(p, bad)
    if failure.startswith("not "):
        assert not getattr(g, failure[4:]), bad
    elif failure.startswith("content."):
        assert g.content[failure[8:]], bad
    else:
        assert getattr(g, failure), bad
    assert g.quality < 1.0


def test_perturb_is_deterministic_and_mostly_harmful(prompts):
    worse = 0
    for p in prompts:
        demo = demonstrate(p)
        a, b = perturb(p, demo, seed=3), perturb(p, demo, seed=3)
        assert a == b
        worse += grade(p, a).quality < 1.0
    assert worse > 0.85 * len(prompts)


def test_perturb_rejects_unknown_kind(prompts):
    with pytest.raises(ValueError, match="unknown or empty perturbation kinds \\['melt'\\]"):
        perturb(prompts[0], "x", seed=0, kinds=("melt",))


def test_response_mix_has_varying_quality(prompts):
    qualities = [grade(p, r).quality for p in prompts[:60] for r in response_mix(p, 4, seed=1)]
    assert min(qualities) < 0.5 and max(qualities) == 1.0
    assert 0.2 < sum(q == 1.0 for q in qualities) / len(qualities) < 0.5
