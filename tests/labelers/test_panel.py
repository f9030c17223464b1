"""Simulated labelers and the panel as a LabelerBackend."""

import pytest

from instructrl.data.schemas import RATING_FLAGS, Prompt, Ranking
from instructrl.labelers import (LabelBatch, LabelerBackend, RankingItem, SimulatedLabeler, SimulatedPanel,
                                 heldout_panel, training_panel)
from instructrl.labelers.panel import rank_with_ties
from instructrl.tasks import demonstrate, generate_prompts, grade, perturb


@pytest.fixture(scope="module")
def prompts():
    return generate_prompts(40, seed=31)


def test_rank_with_ties_by_hand():
    assert rank_with_ties([0.9, 0.5, 0.88, 0.1], 0.05) == [1, 3, 1, 4]
    assert rank_with_ties([0.1, 0.2, 0.3], 0.0) == [3, 2, 1]
    assert rank_with_ties([0.5, 0.5, 0.5], 0.01) == [1, 1, 1]


def test_noiseless_labeler_follows_the_grader(prompts):
    lab = SimulatedLabeler("exact", noise=0.0, tie_margin=0.0, flag_slip=0.0)
    p = prompts[0]
    good = demonstrate(p)
    bad = perturb(p, good, seed=1, kinds=("off_task",))
    r = lab.rate(p, good)
    assert r.likert == 7 and r.labeler_id == "exact" and set(r.flags) == set(RATING_FLAGS)
    assert r.flags == grade(p, good).flags()
    assert lab.rate(p, bad).likert < 7
    ranking = lab.rank(p, [bad, good])
    assert ranking.ranks == (2, 1) and ranking.metadata["likert"][1] == 7


def test_ties_when_close_and_round_trip(prompts):
    lab = SimulatedLabeler("tier", noise=0.0, tie_margin=0.05)
    p = prompts[1]
    good = demonstrate(p)
    ranking = lab.rank(p, [good, demonstrate(p, seed=5), perturb(p, good, seed=2, kinds=("off_task",))])
    assert ranking.ranks[0] == ranking.ranks[1] == 1 and ranking.ranks[2] == 3
    assert ranking.pairs() == [(0, 2), (1, 2)]  # the tie gives no comparison
    back = Ranking.from_dict(ranking.to_dict())
    assert back.ranks == ranking.ranks and back.pairs() == ranking.pairs() and back.metadata == ranking.metadata


def test_quirks_shift_judgement(prompts):
    p = prompts[2]
    demo = demonstrate(p)
    hedged = perturb(p, demo, seed=0, kinds=("hedge",))
    averse = SimulatedLabeler("a", noise=0.0, quirks={"hedging_averse": 0.3})
    humble = SimulatedLabeler("b", noise=0.0, quirks={"humble": 0.3})
    assert averse.latent(p, hedged) < humble.latent(p, hedged)
    with pytest.raises(ValueError, match="unknown quirks \\['grumpy'\\]"):
        SimulatedLabeler("c", quirks={"grumpy": 1.0})


def test_labeler_is_consistent_with_itself(prompts):
    lab = training_panel(seed=0).labelers[0]
    p, r = prompts[3], demonstrate(prompts[3])
    assert lab.rate(p, r) == lab.rate(p, r)


def _ranking_batch(prompts, bid="run/round-1/rankings", overlap=1, pool="train"):
    items = tuple(RankingItem(prompt=p, responses=(demonstrate(p), perturb(p, demonstrate(p), seed=i)),
                              sources=("sft", "ppo")) for i, p in enumerate(prompts))
    return LabelBatch(id=bid, kind="rankings", items=items, overlap=overlap, pool=pool)


def test_panel_is_a_backend_and_idempotent(prompts):
    panel = training_panel(seed=1, n=5)
    assert isinstance(panel, LabelerBackend)
    batch = _ranking_batch(prompts[:10])
    assert panel.submit(batch) == batch.id
    res = panel.results(batch.id)
    assert panel.submit(batch) == batch.id and panel.results(batch.id) is res
    assert panel.status(batch.id).complete and panel.status(batch.id).n_items == 10
    assert len(res.rankings) == 10 and len(res.ratings) == 20
    assert all(r.metadata["sources"] == ["sft", "ppo"] for r in res.rankings)
    assert {r.labeler_id for r in res.rankings} <= {lab.id for lab in panel.labelers}
    with pytest.raises(ValueError, match="already submitted with different content"):
        panel.submit(_ranking_batch(prompts[:9]))
    with pytest.raises(KeyError, match="unknown batch id 'nope'"):
        panel.status("nope")
    # a fresh panel with the same seed gives the same labels
    again = training_panel(seed=1, n=5)
    again.submit(batch)
    assert [r.to_dict() for r in again.results(batch.id).rankings] == [r.to_dict() for r in res.rankings]


def test_run_name_and_rerun_revision_do_not_enter_the_draws(prompts):
    """A loop prefixes batch ids with its run's name (unique ids for a labeling app) and an
    --only rerun adds a revision: neither changes who labels what or which items are audited,
    so runs that differ only in name get the same labels; a run named `default` keeps the
    draws it always had (records made under that name reproduce)."""
    def labels(run, bid):
        panel = SimulatedPanel(training_panel(seed=4, n=6).labelers, seed=4, audit_fraction=0.5, run=run)
        batch = _ranking_batch(prompts, bid=bid)
        panel.submit(batch)
        return [r.to_dict() for r in panel.results(bid).rankings], panel.agreement(bid).n_items

    base = labels(None, "default/round-1/rankings")  # the draws before runs had a name to drop
    assert labels("default", "default/round-1/rankings") == base
    assert labels("exp-a", "exp-a/round-1/rankings") == base == labels("exp-b", "exp-b/round-1/rankings-r2")
    assert labels(None, "exp-a/round-1/rankings") != base  # without `run` the name is part of the id
    assert labels("exp-a", "exp-a/round-2/rankings") != base  # another stage draws anew


def test_overlap_and_agreement_report(prompts):
    panel = training_panel(seed=2, n=4)
    batch = _ranking_batch(prompts[:12], overlap=3)
    panel.submit(batch)
    res = panel.results(batch.id)
    assert len(res.rankings) == 36
    report = panel.agreement(batch.id)
    assert report.n_items == 12 and report.n_pairs > 0 and 0.0 <= report.agreement <= 1.0
    with pytest.raises(ValueError, match="overlap 5 > 4 labelers"):
        panel.submit(_ranking_batch(prompts[:2], bid="big", overlap=5))


def test_pools_are_separate(prompts):
    train, held = training_panel(seed=0), heldout_panel(seed=0)
    assert held.pool == "heldout" and not {lab.id for lab in train.labelers} & {lab.id for lab in held.labelers}
    with pytest.raises(ValueError, match="is for pool 'train', this panel is 'heldout'"):
        held.submit(_ranking_batch(prompts[:2]))
    held.submit(_ranking_batch(prompts[:2], pool="heldout"))


def test_demonstrations_batch(prompts):
    panel = training_panel(seed=0, n=3)
    real = Prompt(id="real", text="Tell me a joke.")
    batch = LabelBatch(id="demos", kind="demonstrations", prompts=tuple(prompts[:20]) + (real,))
    panel.submit(batch)
    res = panel.results("demos")
    assert len(res.demonstrations) == 20 and res.skipped == 1
    assert all(grade(d.prompt, d.response).ok for d in res.demonstrations)
    # labelers write their own variants: not every one is the seed-0 demonstration
    assert any(d.response != demonstrate(d.prompt) for d in res.demonstrations)


def test_audits_measure_agreement_without_adding_training_data(prompts):
    panel = SimulatedPanel(training_panel(seed=3, n=4).labelers, pool="train", seed=3, audit_fraction=0.5)
    batch = _ranking_batch(prompts, bid="audited")
    panel.submit(batch)
    assert len(panel.results("audited").rankings) == len(prompts)  # one labeler per item
    report = panel.agreement("audited")
    assert 0 < report.n_items < len(prompts) and report.agreement is not None
    silent = SimulatedPanel(panel.labelers, seed=3, audit_fraction=0.0)
    silent.submit(batch)
    assert silent.agreement("audited").agreement is None


def test_rankings_and_ratings_round_trip_through_jsonl(prompts, tmp_path):
    from instructrl.data.io import read_jsonl, write_jsonl
    from instructrl.data.schemas import Rating

    lab = SimulatedLabeler("tier", noise=0.0, tie_margin=0.05)
    p = prompts[4]
    good = demonstrate(p)
    ratings, ranking = lab.rate_and_rank(p, [good, demonstrate(p, seed=9), perturb(p, good, seed=1, kinds=("rude",))])
    assert ranking.ranks[:2] == (1, 1)
    write_jsonl(tmp_path / "rankings.jsonl", [ranking])
    write_jsonl(tmp_path / "ratings.jsonl", ratings)
    back = read_jsonl(tmp_path / "rankings.jsonl", Ranking).records[0]
    assert back.ranks == ranking.ranks and back.pairs() == ranking.pairs() == [(0, 2), (1, 2)]
    assert back.prompt.metadata == p.metadata and back.metadata["likert"] == [r.likert for r in ratings]
    ratings_back = read_jsonl(tmp_path / "ratings.jsonl", Rating).records
    assert [r.to_dict() for r in ratings_back] == [r.to_dict() for r in ratings]


def test_demonstration_batch_never_fails_on_unsatisfiable_variants():
    """Regression: labeler train-01's variants of prompt g0-001389 cannot meet all its
    constraints; that used to raise and kill the loop. Now it falls back or skips."""
    from instructrl.labelers import training_panel
    from instructrl.labelers.base import LabelBatch
    from instructrl.labelers.panel import _seed
    from instructrl.tasks import generate_prompts, grade
    from instructrl.tasks.demonstrator import try_demonstrate

    p = next(x for x in generate_prompts(4000, seed=0, n_users=150) if x.id == "g0-001389")
    panel = training_panel(seed=0)
    lab = next(l for l in panel.labelers if l.id == "train-01")
    assert try_demonstrate(p, seed=_seed(panel.seed, lab.id, lab.seed)) is None  # the trigger
    panel._assign = lambda batch, index: [lab]  # force the unlucky labeler
    res = panel.results(panel.submit(LabelBatch(id="regress", kind="demonstrations", prompts=(p,))))
    assert len(res.demonstrations) == 1 and grade(p, res.demonstrations[0].response).ok
