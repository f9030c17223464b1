"""Pairwise agreement, hand-computed."""

import pytest

from instructrl.data.schemas import Prompt, Ranking
from instructrl.labelers.agreement import inter_labeler_agreement, pair_counts, pairwise_agreement

P = Prompt(id="p", text="q")
R = ("a", "b", "c", "d")


def rk(ranks, who, prompt=P):
    return Ranking(prompt=prompt, responses=R, ranks=ranks, labeler_id=who)


def test_pair_counts_by_hand():
    # pairs (a,b) (a,c) (a,d) (b,c) (b,d) (c,d)
    # x: a>b a>c a>d b>c b>d c>d ; y: a>b, a~c (tie: skipped), a>d, c>b (disagree), b>d, c>d
    x, y = rk((1, 2, 3, 4), "x"), rk((1, 3, 1, 4), "y")
    assert pair_counts(x, y) == (4, 5)
    assert pair_counts(x, x) == (6, 6)
    assert pair_counts(x, rk((4, 3, 2, 1), "z")) == (0, 6)
    with pytest.raises(ValueError, match="same responses"):
        pair_counts(x, Ranking(prompt=P, responses=("d", "c", "b", "a"), ranks=(1, 2, 3, 4)))


def test_pairwise_and_inter_labeler_agreement():
    x, y = rk((1, 2, 3, 4), "x"), rk((1, 3, 1, 4), "y")
    rep = pairwise_agreement([x, x], [y, x])
    assert rep.agreement == pytest.approx(10 / 11) and rep.n_pairs == 11 and rep.n_items == 2
    q = Prompt(id="q", text="other")
    report = inter_labeler_agreement([x, y, rk((1, 2, 3, 4), "x", q)])  # item q has one labeler only
    assert (report.agreement, report.n_pairs, report.n_items) == (pytest.approx(0.8), 5, 1)
    assert inter_labeler_agreement([x]).agreement is None
