"""Rollout mechanics on `tiny`: EOS truncation, the missing-EOS penalty, padding, exact log-probs."""

import pytest
import torch

from instructrl.data.schemas import Prompt
from instructrl.models import HFGenerator, load_causal_lm, token_logprobs
from instructrl.models.generation import Generation
from instructrl.ppo.config import PPOConfig
from instructrl.config import load_config
from instructrl.ppo.rollout import PolicyWithValue, Rollout, pad_episodes, response_values
from instructrl.ppo.scorers import CallableScorer
from instructrl.ppo.train import Models, apply_missing_eos_penalty, compute_advantages, ppo_minibatch_loss, sample, score_rollout


def test_pad_episodes_layout_and_select_trims_padding():
    ids, mask, P, rmask = pad_episodes([[5, 6, 7], [8]], [[1], [2, 3, 4]], pad_id=0)
    assert P == 3
    assert ids.tolist() == [[5, 6, 7, 1, 0, 0], [0, 0, 8, 2, 3, 4]]
    assert mask.tolist() == [[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1]]
    assert rmask.tolist() == [[True, False, False], [True, True, True]]
    ro = Rollout(prompts=[Prompt(id="a", text="a"), Prompt(id="b", text="b")], input_ids=ids, attention_mask=mask, prompt_width=P,
                 response_mask=rmask, finished=torch.tensor([True, False]), logprobs=torch.randn(2, 3))
    assert ro.last_index.tolist() == [3, 5]
    one = ro.select(torch.tensor([1]))  # the short-prompt, long-response row: 2 left pads go
    assert one.input_ids.tolist() == [[8, 2, 3, 4]] and one.prompt_width == 1 and one.response_mask.shape == (1, 3)
    zero = ro.select(torch.tensor([0]))  # the long-prompt, short-response row: 2 right pads go
    assert zero.input_ids.tolist() == [[5, 6, 7, 1]] and zero.prompt_width == 3 and zero.logprobs.shape == (1, 1)
    assert zero.prompts[0].id == "a"
    with pytest.raises(ValueError, match="episode 1 has an empty response"):
        pad_episodes([[1], [2]], [[3], []], 0)


def test_generation_truncates_at_first_eos():
    model, tok = load_causal_lm("tiny")
    eos = list(range(0, len(tok), 3))  # a third of the vocabulary ends a response: most stop early
    g = HFGenerator(model, eos, tok.pad_token_id).generate([[5, 6, 7], [9]] * 4, max_new_tokens=12, temperature=1.0, seed=3)
    eos_set = set(eos)
    assert any(g.finished) and any(len(r) > 1 for r in g.response_ids)
    for r, lp, fin in zip(g.response_ids, g.logprobs, g.finished):
        assert len(r) == len(lp)
        assert not any(t in eos_set for t in r[:-1])  # nothing past the first EOS
        assert fin == (r[-1] in eos_set)
        if not fin:
            assert len(r) == 12


class FixedGenerator:
    """A fake backend: returns scripted responses (already truncated)."""

    def __init__(self, responses, finished):
        self.responses, self.finished = responses, finished

    def generate(self, prompt_ids, **kw):
        n = len(prompt_ids)
        return Generation(self.responses[:n], [[-1.0] * len(r) for r in self.responses[:n]], self.finished[:n])


def _cfg(**over):
    # V_old from the scoring forward, so these tests can call compute_advantages themselves
    base = {"reward": {"kind": "lowercase"}, "batch_size": 2, "episodes": 2, "kl": {"coef": 0.5}}
    base.update(over)
    base["ppo"] = {"minibatches": 1, "old_values": "scoring", **over.get("ppo", {})}
    return load_config(PPOConfig, None, base)


def test_missing_eos_penalty_replaces_the_score():
    assert apply_missing_eos_penalty(torch.tensor([0.3, 0.7]), torch.tensor([True, False]), -1.0).tolist() == pytest.approx([0.3, -1.0])
    assert apply_missing_eos_penalty(torch.tensor([0.3, 0.7]), torch.tensor([True, False]), None).tolist() == pytest.approx([0.3, 0.7])
    model, tok = load_causal_lm("tiny")
    eos = tok.eos_token_id
    a, b = tok("abc", add_special_tokens=False)["input_ids"], tok("XYZ q", add_special_tokens=False)["input_ids"]
    gen = FixedGenerator([a + [eos], b], [True, False])
    models = Models(policy=PolicyWithValue(model, value_head=True), tokenizer=tok, reference=model, value=None,
                    scorer=CallableScorer(lambda p, r: float(len(r))), generator=gen)
    cfg = _cfg()
    prompts = [Prompt(id="1", text="hi"), Prompt(id="2", text="yo")]
    ro = sample(cfg, models, prompts, [[5, 6], [7]], seed=0, max_new_tokens=8)
    score_rollout(cfg, models, ro, torch.device("cpu"))
    assert ro.raw_scores.tolist() == [3.0, 5.0]  # the scorer saw text without EOS
    assert ro.scores.tolist() == [3.0, -1.0]  # no EOS: the penalty instead of the score
    compute_advantages(cfg, ro, beta=0.5)
    last = ro.response_mask.sum(1) - 1
    # the fake sampler's log-probs are all -1: reward = -beta * (-1 - ref) + score at the last real token
    kl = (-1.0 - ro.ref_logprobs) * ro.response_mask
    expected = -0.5 * kl
    expected[0, last[0]] += 3.0
    expected[1, last[1]] += -1.0
    torch.testing.assert_close(ro.rewards, expected)
    assert ro.ref_logprobs[0, : last[0] + 1].lt(0).all() and ro.ref_logprobs[0, last[0] + 1 :].eq(0).all()


def test_left_padding_does_not_change_logprobs():
    model, _ = load_causal_lm("tiny")
    seq = torch.tensor([[11, 12, 13, 14, 15]])
    tgt = torch.tensor([[0, 0, 1, 1, 1]], dtype=torch.bool)
    alone, _ = token_logprobs(model, seq, tgt, torch.ones_like(seq))
    ids, mask, P, rmask = pad_episodes([[11, 12], [1, 2, 3, 4, 5, 6]], [[13, 14, 15], [7]], pad_id=0)
    ro = Rollout(prompts=[], input_ids=ids, attention_mask=mask, prompt_width=P, response_mask=rmask, finished=torch.ones(2, dtype=torch.bool), logprobs=torch.zeros(2, 3))
    padded, _ = token_logprobs(model, ids, ro.target_mask, mask)
    torch.testing.assert_close(padded[0, P:], alone[0, 2:], rtol=0, atol=1e-5)
    # the check can fail: position ids that do not count real tokens one by one change them
    # (a uniform shift would not, RoPE being relative; absolute-position models differ)
    wrong, _ = token_logprobs(model, ids, ro.target_mask, mask, 2 * torch.arange(ids.shape[1]).expand_as(ids))
    assert (wrong[0, P:] - alone[0, 2:]).abs().max() > 1e-3


def test_sampling_logprobs_match_a_forward_and_value_head_offsets():
    model, tok = load_causal_lm("tiny")
    g = HFGenerator(model, tok.eos_token_id, tok.pad_token_id).generate([[5, 6, 7], [9]], max_new_tokens=6, temperature=0.7, seed=1)
    ids, mask, P, rmask = pad_episodes([[5, 6, 7], [9]], g.response_ids, tok.pad_token_id)
    ro = Rollout(prompts=[], input_ids=ids, attention_mask=mask, prompt_width=P, response_mask=rmask, finished=torch.tensor(g.finished), logprobs=torch.zeros(2, rmask.shape[1]))
    pv = PolicyWithValue(model, value_head=True, head_init="normal")
    lp, ent, v = pv(ids, mask, ro.target_mask, temperature=0.7, with_entropy=True)
    for i in range(2):
        n = len(g.response_ids[i])
        torch.testing.assert_close(lp[i, P : P + n], torch.tensor(g.logprobs[i]), rtol=0, atol=1e-5)
    assert (ent[:, P:][rmask] > 0).all()
    torch.testing.assert_close(v, pv.values_only(ids, mask))
    vr = response_values(v, P, rmask.shape[1])
    torch.testing.assert_close(vr[:, 0], v[:, P - 1])  # V(s_0) is read at the last prompt token


def test_first_ratio_is_exactly_one_with_dropout_off():
    model, tok = load_causal_lm("tiny")
    cfg = _cfg(ppo={"minibatches": 1, "old_logprobs": "recompute"})
    models = Models(policy=PolicyWithValue(model, value_head=True), tokenizer=tok, reference=model, value=None,
                    scorer=CallableScorer(lambda p, r: 1.0), generator=HFGenerator(model, tok.eos_token_id, tok.pad_token_id))
    prompts = [Prompt(id="1", text="hi"), Prompt(id="2", text="yo")]
    ro = sample(cfg, models, prompts, [[5, 6, 7], [9]], seed=0, max_new_tokens=6)
    score_rollout(cfg, models, ro, torch.device("cpu"))
    compute_advantages(cfg, ro, 0.02)
    _, stats = ppo_minibatch_loss(cfg, models, ro.select(torch.arange(len(ro))), torch.device("cpu"))
    assert stats["ppo/ratio"].item() == 1.0 and stats["ppo/approx_kl"].item() == 0.0 and stats["ppo/clipfrac"].item() == 0.0
    assert ro.kl.abs().max().item() == 0.0  # policy == reference: the KL reward is exactly 0 too


def test_trimmed_minibatch_gives_the_same_logprobs_and_values():
    model, tok = load_causal_lm("tiny")
    pv = PolicyWithValue(model, value_head=True, head_init="normal")
    ids, mask, P, rmask = pad_episodes([[5, 6, 7, 8, 9, 10], [11], [12, 13]], [[1], [2, 3, 4, 5], [6, 7]], tok.pad_token_id)
    ro = Rollout(prompts=[Prompt(id=str(i), text="x") for i in range(3)], input_ids=ids, attention_mask=mask, prompt_width=P,
                 response_mask=rmask, finished=torch.ones(3, dtype=torch.bool), logprobs=torch.zeros(3, 4))
    lp, _, v = pv(ids, mask, ro.target_mask)
    full_lp, full_v = lp[:, P:], response_values(v, P, 4)
    mb = ro.select(torch.tensor([2, 1]))
    assert mb.input_ids.shape[1] < ids.shape[1]  # trimmed: the 6-token prompt is not in it
    lp2, _, v2 = pv(mb.input_ids, mb.attention_mask, mb.target_mask)
    R = mb.response_mask.shape[1]
    torch.testing.assert_close(lp2[:, mb.prompt_width :] * mb.response_mask, full_lp[[2, 1], :R] * mb.response_mask, rtol=0, atol=1e-5)
    torch.testing.assert_close(response_values(v2, mb.prompt_width, R) * mb.response_mask, full_v[[2, 1], :R] * mb.response_mask, rtol=0, atol=1e-5)


def test_compute_advantages_whitening_options():
    from instructrl.ops import masked_whiten
    from instructrl.ppo.advantages import gae
    from instructrl.ppo.kl import kl_penalty_rewards

    g = torch.Generator().manual_seed(0)
    rmask = torch.tensor([[1, 1, 1], [1, 0, 0]], dtype=torch.bool)
    ro = Rollout(prompts=[], input_ids=torch.zeros(2, 4, dtype=torch.long), attention_mask=torch.ones(2, 4), prompt_width=1,
                 response_mask=rmask, finished=torch.ones(2, dtype=torch.bool), logprobs=torch.randn(2, 3, generator=g) * rmask,
                 ref_logprobs=torch.randn(2, 3, generator=g) * rmask, values=torch.randn(2, 3, generator=g) * rmask, scores=torch.tensor([1.0, -2.0]))
    plain = _cfg(ppo={"minibatches": 1, "whiten_advantages": False})
    compute_advantages(plain, ro, 0.1)
    rewards, _ = kl_penalty_rewards(ro.logprobs, ro.ref_logprobs, ro.scores, rmask, 0.1)
    torch.testing.assert_close(ro.advantages, gae(rewards, ro.values, rmask, 1.0, 0.95)[0])
    both = _cfg(ppo={"minibatches": 1, "whiten_rewards": True})
    compute_advantages(both, ro, 0.1)
    adv, ret = gae(masked_whiten(rewards, rmask, shift_mean=False), ro.values, rmask, 1.0, 0.95)
    torch.testing.assert_close(ro.returns, ret)
    torch.testing.assert_close(ro.advantages, masked_whiten(adv, rmask))
    torch.testing.assert_close(ro.rewards, rewards)  # the logged rewards stay unwhitened
    assert abs(float(ro.advantages[rmask].mean())) < 1e-6
