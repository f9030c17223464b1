"""Pure PPO math against hand-computed values and plain-loop references."""

import math

import pytest
import torch

from instructrl.ppo.advantages import gae, rloo
from instructrl.ppo.kl import AdaptiveKL, FixedKL, kl_penalty_rewards
from instructrl.ppo.losses import clipped_policy_loss, clipped_value_loss, explained_variance, ptx_loss


def gae_loop(rewards, values, lengths, gamma, lam):
    """Textbook GAE, one episode at a time, in plain Python."""
    adv = [[0.0] * len(rewards[0]) for _ in rewards]
    for b, n in enumerate(lengths):
        last = 0.0
        for t in reversed(range(n)):
            next_v = values[b][t + 1] if t + 1 < n else 0.0
            delta = rewards[b][t] + gamma * next_v - values[b][t]
            last = delta + gamma * lam * last
            adv[b][t] = last
    return adv


@pytest.mark.parametrize("gamma,lam", [(1.0, 0.95), (0.9, 0.8), (1.0, 1.0)])
def test_gae_matches_plain_loop_with_ragged_lengths(gamma, lam):
    g = torch.Generator().manual_seed(0)
    r, v = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)
    lengths = [5, 3, 1]
    mask = torch.tensor([[t < n for t in range(5)] for n in lengths])
    adv, ret = gae(r, v, mask, gamma, lam)
    ref = torch.tensor(gae_loop(r.tolist(), v.tolist(), lengths, gamma, lam))
    torch.testing.assert_close(adv, ref)
    torch.testing.assert_close(ret, (ref + v) * mask)
    assert adv[1, 3:].abs().sum() == 0 and adv[2, 1:].abs().sum() == 0  # padding stays 0
    # garbage in padded positions must not leak into real ones
    r2, v2 = r.clone(), v.clone()
    r2[~mask], v2[~mask] = 100.0, -50.0
    torch.testing.assert_close(gae(r2, v2, mask, gamma, lam)[0], adv)


def test_gae_with_gamma_lambda_one_and_zero_values_is_reward_to_go():
    r = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    adv, ret = gae(r, torch.zeros_like(r), mask, 1.0, 1.0)
    expected = torch.tensor([[10.0, 9.0, 7.0, 4.0], [-0.5, -1.0, 0.0, 0.0]])
    torch.testing.assert_close(adv, expected)
    torch.testing.assert_close(ret, expected)


def test_gae_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="must match"):
        gae(torch.zeros(2, 3), torch.zeros(2, 4), torch.ones(2, 3))


def test_rloo_is_each_return_minus_the_mean_of_the_others_in_its_group():
    g = torch.tensor([1.0, 2.0, 3.0, 6.0, 5.0, 5.0, -1.0, 1.0])
    adv = rloo(g, 4)
    expected = [1 - 11 / 3, 2 - 10 / 3, 3 - 9 / 3, 6 - 6 / 3, 5 - 5 / 3, 5 - 5 / 3, -1 - 11 / 3, 1 - 9 / 3]
    assert adv.tolist() == pytest.approx(expected)
    # pairs: the two responses' returns minus each other
    assert rloo(torch.tensor([0.5, -0.5]), 2).tolist() == pytest.approx([1.0, -1.0])
    # within a group the advantages sum to 0, and equal returns give 0
    assert rloo(g, 4).view(2, 4).sum(1).tolist() == pytest.approx([0.0, 0.0])
    assert rloo(torch.full((6,), 0.7), 3).abs().max() < 1e-6


@pytest.mark.parametrize("shape,k", [((6,), 4), ((4,), 1), ((2, 2), 2)])
def test_rloo_rejects_partial_groups(shape, k):
    with pytest.raises(ValueError, match="whole groups"):
        rloo(torch.zeros(shape), k)


def test_clipped_policy_loss_hand_computed():
    # ratios e^0.5 = 1.6487 (clipped to 1.2 for A>0), e^-0.5 = 0.6065 (clipped to 0.8 for A<0... max picks unclipped)
    lp = torch.tensor([[0.5, -0.5, 0.0, 9.0]])
    old = torch.zeros(1, 4)
    adv = torch.tensor([[2.0, -1.0, 3.0, 5.0]])
    mask = torch.tensor([[1, 1, 1, 0]], dtype=torch.bool)
    out = clipped_policy_loss(lp, old, adv, mask, clip=0.2)
    # token 0: max(-2*1.6487, -2*1.2) = -2.4 (clipped); token 1: max(0.6065, 0.8) = 0.8 (clipped);
    # token 2: ratio 1 -> -3; token 3 masked.
    assert out.loss.item() == pytest.approx((-2.4 + 0.8 - 3.0) / 3, rel=1e-6)
    assert out.clipfrac.item() == pytest.approx(2 / 3)
    assert out.approx_kl.item() == pytest.approx(0.5 * (0.25 + 0.25 + 0) / 3)
    # inside the trust region nothing clips and the loss is -mean(A * ratio)
    small = clipped_policy_loss(torch.tensor([[0.1, -0.1]]), torch.zeros(1, 2), torch.tensor([[1.0, 1.0]]), torch.ones(1, 2), 0.2)
    assert small.loss.item() == pytest.approx(-(math.exp(0.1) + math.exp(-0.1)) / 2)
    assert small.clipfrac.item() == 0.0


def test_clipped_policy_loss_gradient_is_zero_where_clipped():
    lp = torch.tensor([[0.5, 0.1]], requires_grad=True)
    out = clipped_policy_loss(lp, torch.zeros(1, 2), torch.tensor([[1.0, 1.0]]), torch.ones(1, 2), 0.2)
    out.loss.backward()
    assert lp.grad[0, 0] == 0.0  # clipped branch: constant
    assert lp.grad[0, 1].item() == pytest.approx(-math.exp(0.1) / 2)


def test_clipped_value_loss_hand_computed():
    v = torch.tensor([[1.0, 0.0, 2.0]])
    v_old = torch.tensor([[0.5, 0.0, 0.0]])
    ret = torch.tensor([[0.0, 1.0, 0.0]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    out = clipped_value_loss(v, v_old, ret, mask, clip=0.2)
    # token 0: unclipped (1-0)^2 = 1, clipped 0.7^2 = .49 -> 1; token 1: 1, 1 -> 1;
    # token 2: unclipped 4, clipped 0.2^2 = .04 -> 4
    assert out.loss.item() == pytest.approx(0.5 * (1 + 1 + 4) / 3)
    assert out.clipfrac.item() == 0.0
    # a case where the clipped branch is the larger one
    out2 = clipped_value_loss(torch.tensor([[1.0]]), torch.tensor([[0.0]]), torch.tensor([[1.1]]), torch.ones(1, 1), 0.2)
    assert out2.loss.item() == pytest.approx(0.5 * 0.9**2)
    assert out2.clipfrac.item() == 1.0


def test_ptx_loss_is_per_token_mean_and_rejects_empty():
    assert ptx_loss(torch.tensor(12.0), 4).item() == 3.0
    with pytest.raises(ValueError, match="at least one token"):
        ptx_loss(torch.tensor(1.0), 0)


def test_explained_variance():
    ret = torch.tensor([[1.0, 2.0, 3.0, 99.0]])
    mask = torch.tensor([[1, 1, 1, 0]], dtype=torch.bool)
    assert explained_variance(ret.clone(), ret, mask).item() == pytest.approx(1.0)
    assert explained_variance(torch.full_like(ret, 2.0), ret, mask).item() == pytest.approx(0.0, abs=1e-6)


def test_kl_reward_hand_built():
    lp = torch.tensor([[-1.0, -2.0, -0.5], [-1.0, -3.0, 0.0]])
    ref = torch.tensor([[-1.5, -1.0, -0.5], [-2.0, 7.0, 7.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]], dtype=torch.bool)
    scores = torch.tensor([2.0, -1.0])
    rewards, kl = kl_penalty_rewards(lp, ref, scores, mask, beta=0.1)
    torch.testing.assert_close(kl, torch.tensor([[0.5, -1.0, 0.0], [1.0, 0.0, 0.0]]))
    # score lands on the last real token: index 2 for row 0, index 0 for row 1
    torch.testing.assert_close(rewards, torch.tensor([[-0.05, 0.1, 2.0], [-0.1 - 1.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="at least one response token"):
        kl_penalty_rewards(lp, ref, scores, torch.zeros_like(mask), 0.1)


def test_kl_controllers():
    fixed = FixedKL(0.02)
    fixed.update(100.0, 512)
    assert fixed.value == 0.02
    ctl = AdaptiveKL(0.15, target=6.0, horizon=10_000)
    ctl.update(current_kl=9.0, n_episodes=512)  # error clipped to +0.2
    assert ctl.value == pytest.approx(0.15 * (1 + 0.2 * 512 / 10_000))
    ctl = AdaptiveKL(0.15, target=6.0, horizon=10_000)
    ctl.update(current_kl=5.4, n_episodes=100)  # error -0.1
    assert ctl.value == pytest.approx(0.15 * (1 - 0.1 * 100 / 10_000))
    restored = AdaptiveKL(1.0, 6.0, 10_000)
    restored.load_state_dict(ctl.state_dict())
    assert restored.value == ctl.value


def test_lr_warmup_from_a_tenth_then_constant_or_linear():
    from instructrl.ppo.train import lr_multiplier

    assert [round(lr_multiplier(i, 100, 10, 0.1, "constant"), 6) for i in (0, 5, 10, 99)] == [0.1, 0.55, 1.0, 1.0]
    assert lr_multiplier(10, 110, 10, 0.1, "linear") == 1.0
    assert lr_multiplier(60, 110, 10, 0.1, "linear") == pytest.approx(0.5)
    assert lr_multiplier(3, 10, 0, 0.1, "constant") == 1.0


def test_tf_style_eps_reproduces_tf_adam():
    from instructrl.ppo.train import set_tf_eps

    b1, b2, eps, lr = 0.9, 0.95, 1e-3, 0.1  # a large eps makes the placement matter
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    opt = torch.optim.AdamW([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=0.0, fused=True)
    ref, m, v = p.detach().clone(), torch.zeros(3), torch.zeros(3)
    for t in range(1, 5):
        g = torch.tensor([0.01, -0.002, 0.3]) * t
        p.grad = g.clone()
        set_tf_eps(opt, eps)
        opt.step()
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g  # TF's Adam, by hand
        lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        ref = ref - lr_t * m / (v.sqrt() + eps)
        torch.testing.assert_close(p.detach(), ref, rtol=1e-5, atol=1e-6)
    plain = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    o2 = torch.optim.AdamW([plain], lr=lr, betas=(b1, b2), eps=eps, weight_decay=0.0)
    plain.grad = torch.tensor([0.01, -0.002, 0.3])
    o2.step()  # torch's placement differs on the first step: the test can tell them apart
    first = torch.tensor([1.0, -2.0, 0.5]) - lr * math.sqrt(1 - b2) / (1 - b1) * (0.1 * plain.grad) / ((0.05 * plain.grad**2).sqrt() + eps)
    assert (plain.detach() - first).abs().max() > 1e-4


def test_warmup_warning_only_when_warmup_is_half_the_run():
    from instructrl.ppo.train import warmup_warning

    assert warmup_warning(500, 10, 0.1) is None and warmup_warning(24, 3, 0.1) is None and warmup_warning(16, 0, 0.1) is None
    w = warmup_warning(16, 10, 0.1)  # the smollm2 preset's PPO: 10 of its 16 iterations warm up
    assert "covers 10 of 16 iterations" in w and "mean lr 0.69x" in w
    assert "covers 4 of 4" in warmup_warning(4, 10, 0.1)
