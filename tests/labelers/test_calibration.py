"""Training labelers agree on ~73% of comparisons, held-out ones on ~77% (method doc §6)."""

import pytest

from instructrl.labelers import heldout_panel, pairwise_agreement, training_panel
from instructrl.tasks import generate_prompts
from instructrl.tasks.perturb import response_mix


def mean_agreement(panel, items):
    labs = panel.labelers
    rankings = [[lab.rank(p, rs) for p, rs in items] for lab in labs]
    vals = [pairwise_agreement(rankings[a], rankings[b]).agreement
            for a in range(len(labs)) for b in range(a + 1, len(labs))]
    return sum(vals) / len(vals)


@pytest.fixture(scope="module")
def items():
    prompts = generate_prompts(300, seed=1234)
    return [(p, response_mix(p, 4, seed=0)) for p in prompts]


def test_training_labelers_agree_about_73_percent(items):
    agreement = mean_agreement(training_panel(seed=5, n=4), items)
    assert 0.69 <= agreement <= 0.77, agreement


def test_heldout_labelers_agree_more(items):
    train = mean_agreement(training_panel(seed=6, n=4), items)
    held = mean_agreement(heldout_panel(seed=6, n=4), items)
    assert held > train and 0.73 <= held <= 0.81, (train, held)
