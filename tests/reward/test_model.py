"""The packed shared-prompt row gives the plain path's rewards and gradients; scoring API."""

import pytest
import torch

from instructrl.data.schemas import Prompt
from instructrl.models.heads import load_scalar_model, set_normalization
from instructrl.reward.loss import ranking_loss, ranking_pairs
from instructrl.reward.model import RewardModel, pack_groups, packed_rewards, score, score_tokens


@pytest.fixture(scope="module")
def rm():
    model, tok = load_scalar_model("tiny:hidden=32,layers=2,heads=4,kv_heads=2,ffn=64", seed=3)
    model.eval()
    return model, tok


def _groups(tok, seed=0):
    g = torch.Generator().manual_seed(seed)
    eos = tok.eos_token_id
    rand = lambda n: torch.randint(5, 200, (n,), generator=g).tolist()  # noqa: E731
    return [
        (rand(7), [rand(3) + [eos], rand(1) + [eos], rand(6) + [eos]]),
        (rand(2), [rand(9) + [eos], [eos]]),
        (rand(11), [rand(4) + [eos], rand(4) + [eos], rand(2) + [eos], rand(5) + [eos]]),
    ]


def _plain(model, tok, groups, side):
    """Each prompt + response alone, padded on ``side``: the reference."""
    seqs = [list(p) + list(r) for p, rs in groups for r in rs]
    T = max(map(len, seqs)) + 3  # extra padding on every row
    ids = torch.full((len(seqs), T), tok.pad_token_id)
    mask = torch.zeros((len(seqs), T), dtype=torch.long)
    last = torch.zeros(len(seqs), dtype=torch.long)
    for i, s in enumerate(seqs):
        sl = slice(T - len(s), T) if side == "left" else slice(0, len(s))
        ids[i, sl] = torch.tensor(s)
        mask[i, sl] = 1
        last[i] = sl.stop - 1
    return score_tokens(model, ids, mask, last)


@pytest.mark.parametrize("side", ["left", "right"])
def test_packed_rewards_equal_prompt_plus_response_alone(rm, side):
    model, tok = rm
    groups = _groups(tok)
    packed = packed_rewards(model, pack_groups(groups, tok.pad_token_id))
    torch.testing.assert_close(packed, _plain(model, tok, groups, side), rtol=1e-5, atol=1e-5)


def test_reward_does_not_depend_on_batch_or_neighbours(rm):
    model, tok = rm
    groups = _groups(tok)
    alone = packed_rewards(model, pack_groups(groups[1:2], tok.pad_token_id))
    in_batch = packed_rewards(model, pack_groups(groups, tok.pad_token_id))[3:5]
    torch.testing.assert_close(alone, in_batch, rtol=1e-5, atol=1e-5)
    # the first response's reward does not change when its siblings do
    p, rs = groups[2]
    a = packed_rewards(model, pack_groups([(p, rs)], tok.pad_token_id))[0]
    b = packed_rewards(model, pack_groups([(p, [rs[0], [7, 8, 9, tok.eos_token_id]])], tok.pad_token_id))[0]
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    # ... but it does change with the prompt (the mask does not cut the response off it)
    c = packed_rewards(model, pack_groups([(p[:-1] + [p[-1] + 1], rs)], tok.pad_token_id))[0]
    assert abs((a - c).item()) > 1e-6


def test_eager_attention_reads_the_same_additive_mask(rm):
    _, tok = rm
    model, _ = load_scalar_model("tiny:hidden=32,layers=2,heads=4,kv_heads=2,ffn=64", seed=3)
    model.set_attn_implementation("eager")
    model.eval()
    assert model.config._attn_implementation == "eager"
    groups = _groups(tok, seed=1)
    torch.testing.assert_close(packed_rewards(model, pack_groups(groups, tok.pad_token_id)), _plain(model, tok, groups, "left"), rtol=1e-5, atol=1e-5)


def test_packed_gradients_equal_plain_gradients(rm):
    """Backward through the shared prompt once gives the same gradient as K separate rows."""
    _, tok = rm
    model, _ = load_scalar_model("tiny:hidden=32,layers=2,heads=4,kv_heads=2,ffn=64", seed=3)
    groups = _groups(tok, seed=2)
    ranks = [(1, 3, 2), (2, 1), (1, 1, 4, 3)]
    grads = []
    for rewards_fn in (lambda: packed_rewards(model, pack_groups(groups, tok.pad_token_id)), lambda: _plain(model, tok, groups, "left")):
        model.zero_grad()
        ranking_loss(rewards_fn(), ranking_pairs(ranks)).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 5
    for n in grads[0]:
        torch.testing.assert_close(grads[0][n], grads[1][n], rtol=1e-4, atol=1e-6)


def test_score_is_normalised_and_shares_consecutive_prompts(rm):
    model, tok = rm
    p1, p2 = Prompt(id="a", text="Name a fruit."), Prompt(id="b", text="Name a colour.")
    prompts, responses = [p1, p1, p1, p2, p1], ["apple", "pear", "stone", "red", "apple"]
    try:
        set_normalization(model, 1.0, 0.0)
        raw = score(RewardModel(model, tok), prompts, responses, batch_size=2)
        single = [score(RewardModel(model, tok), [p], [r])[0] for p, r in zip(prompts, responses)]
        assert raw == pytest.approx(single, abs=1e-5)
        assert raw[0] == pytest.approx(raw[4], abs=1e-6) and raw[0] != pytest.approx(raw[1], abs=1e-6)
        set_normalization(model, 2.0, -0.5)
        assert score(RewardModel(model, tok), prompts, responses) == pytest.approx([2 * x - 0.5 for x in raw], abs=1e-5)
    finally:
        set_normalization(model, 1.0, 0.0)
    with pytest.raises(ValueError, match="2 prompts but 1 responses"):
        score(RewardModel(model, tok), [p1, p2], ["x"])


def test_reward_model_from_a_hub_id_keeps_its_trained_head(rm, hub_cache):
    """An RM on the hub (say, one a teammate trained with instructrl and pushed) loads by its id,
    through the hub cache here (HF_HUB_OFFLINE=1): it scores as the local copy does, with its
    normalisation, and PPO's value init from it (head_init=zeros: used only for a fresh head)
    gets its trained head, not a new one. An id the hub cannot provide is named in the error."""
    from instructrl.reward import load_reward_model

    model, tok = rm
    prompts, responses = [Prompt(id="a", text="Name a fruit.")] * 2, ["apple", "stone"]
    try:
        set_normalization(model, 2.0, -0.5)
        local = score(RewardModel(model, tok), prompts, responses)
        hub_cache(model, tok, "instructrl-test/tiny-rm")
        assert score(load_reward_model("instructrl-test/tiny-rm"), prompts, responses) == pytest.approx(local, abs=1e-5)
    finally:
        set_normalization(model, 1.0, 0.0)
    value, _ = load_scalar_model("instructrl-test/tiny-rm", head_init="zeros")
    torch.testing.assert_close(value.score.weight, model.score.weight)
    assert value.score.weight.abs().sum() > 0
    with pytest.raises(OSError, match=r"model spec 'instructrl-test/no-such-rm': not a local directory, so a hub id.*HF_HUB_OFFLINE"):
        load_reward_model("instructrl-test/no-such-rm")
