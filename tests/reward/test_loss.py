"""Eq. 1 by hand: K = 2 equals the pairwise loss, a K = 3 tie, equal prompt weights."""

import math

import pytest
import torch

from instructrl.reward.loss import pairwise_loss, ranking_loss, ranking_pairs


def nll(d: float) -> float:
    return math.log1p(math.exp(-d))  # -log σ(d)


def test_k2_equals_pairwise_loss():
    rewards = torch.tensor([0.3, -0.2, 1.0, 2.5, -1.0, -0.5])  # three K=2 prompts
    ranks = [(1, 2), (2, 1), (1, 2)]
    got = ranking_loss(rewards, ranking_pairs(ranks)).loss
    want = pairwise_loss(torch.tensor([0.3, 2.5, -1.0]), torch.tensor([-0.2, 1.0, -0.5]))
    torch.testing.assert_close(got, want)
    assert got.item() == pytest.approx((nll(0.5) + nll(1.5) + nll(-0.5)) / 3, rel=1e-6)


def test_k3_with_tie_by_hand():
    # ranks (1, 1, 2): responses 0 and 1 tie, both beat 2 -> pairs (0,2), (1,2) only
    pairs = ranking_pairs([(1, 1, 2)])
    assert list(zip(pairs.winner.tolist(), pairs.loser.tolist())) == [(0, 2), (1, 2)]
    out = ranking_loss(torch.tensor([1.0, 0.5, -1.0]), pairs)
    assert out.loss.item() == pytest.approx((math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.5))) / 2, rel=1e-6)
    assert out.loss.item() == pytest.approx(0.1641705, abs=1e-6)
    assert out.correct.tolist() == [1.0, 1.0] and out.margin.tolist() == [2.0, 1.5]


def test_tied_pairs_are_dropped():
    pairs = ranking_pairs([(2, 1, 2, 1)])  # ties: (0,2) and (1,3)
    assert sorted(zip(pairs.winner.tolist(), pairs.loser.tolist())) == [(1, 0), (1, 2), (3, 0), (3, 2)]
    a = ranking_loss(torch.tensor([0.0, 1.0, 0.0, 1.0]), pairs).loss
    # all four untied pairs have margin 1; a tied pair counted as a comparison (margin 0)
    # would pull the mean towards log 2
    assert a.item() == pytest.approx(nll(1.0), rel=1e-6)
    # an all-tied prompt has no pairs and does not count in the mean over prompts
    both = ranking_loss(torch.tensor([0.0, 1.0, 0.0, 1.0, 5.0, -5.0]), ranking_pairs([(2, 1, 2, 1), (1, 1)]))
    assert both.has_pairs.tolist() == [True, False]
    torch.testing.assert_close(both.loss, a)


def test_k9_prompt_weighs_the_same_as_k4():
    g = torch.Generator().manual_seed(0)
    r9, r4 = torch.randn(9, generator=g), torch.randn(4, generator=g)
    ranks9, ranks4 = (3, 1, 4, 1, 5, 9, 2, 6, 5), (2, 4, 1, 3)
    l9 = ranking_loss(r9, ranking_pairs([ranks9])).loss
    l4 = ranking_loss(r4, ranking_pairs([ranks4])).loss
    both = ranking_loss(torch.cat([r9, r4]), ranking_pairs([ranks9, ranks4]))
    torch.testing.assert_close(both.loss, (l9 + l4) / 2)
    n9, n4 = len(ranking_pairs([ranks9]).winner), len(ranking_pairs([ranks4]).winner)
    pair_weighted = (l9 * n9 + l4 * n4) / (n9 + n4)  # what shuffled pairs would give
    assert n9 > 3 * n4 and abs(both.loss.item() - pair_weighted.item()) > 1e-3


def test_vectorised_matches_loop_reference():
    g = torch.Generator().manual_seed(1)
    ranks = [tuple(torch.randint(1, k + 1, (k,), generator=g).tolist()) for k in (2, 3, 5, 9, 4)]
    rewards = torch.randn(sum(len(r) for r in ranks), generator=g)
    ref, off, used = 0.0, 0, 0
    for rk in ranks:
        terms = [nll(float(rewards[off + i] - rewards[off + j])) for i in range(len(rk)) for j in range(len(rk)) if rk[i] < rk[j]]
        if terms:
            ref += sum(terms) / len(terms)
            used += 1
        off += len(rk)
    assert ranking_loss(rewards, ranking_pairs(ranks)).loss.item() == pytest.approx(ref / used, rel=1e-5)
