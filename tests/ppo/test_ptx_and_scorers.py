"""PPO-ptx gradient accumulation, scorers, and config validation."""

import pytest
import torch

from instructrl.config import load_config
from instructrl.data.collate import pad_batch
from instructrl.data.render import tokenize_text
from instructrl.data.schemas import Prompt
from instructrl.models import HFGenerator, load_causal_lm
from instructrl.models.heads import load_scalar_model, set_normalization
from instructrl.models.logprobs import lm_loss_sum
from instructrl.ppo.config import PPOConfig
from instructrl.ppo.rollout import PolicyWithValue
from instructrl.ppo.scorers import CallableScorer, RewardModelScorer, ScoreBatch, lowercase_share, word_count_reward
from instructrl.ppo.train import Models, PtxData, compute_advantages, ppo_minibatch_loss, ptx_backward, sample, score_rollout
from instructrl.sft.train import global_batch

GAMMA = 27.8


def _grads(model):
    return {n: p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for n, p in model.named_parameters()}


def test_ptx_gradient_is_ppo_gradient_plus_gamma_times_ptx_gradient():
    model, tok = load_causal_lm("tiny")
    texts = [f"the river {i} runs past stone number {i * 7} and the garden." for i in range(10)]
    exs = [e for t in texts for e in tokenize_text(tok, t, 16)]
    ptx = PtxData(train=exs, valid=[])
    cfg = load_config(PPOConfig, None, {"reward": {"kind": "lowercase"}, "batch_size": 2, "episodes": 2, "ppo": {"minibatches": 1, "old_values": "scoring"},
                                        "ptx": {"coef": GAMMA, "data": "unused", "micro_batch_size": 3}})
    models = Models(policy=PolicyWithValue(model, value_head=True), tokenizer=tok, reference=model, value=None,
                    scorer=CallableScorer(lowercase_share), generator=HFGenerator(model, tok.eos_token_id, tok.pad_token_id))
    ro = sample(cfg, models, [Prompt(id="1", text="a"), Prompt(id="2", text="b")], [[5, 6, 7], [9]], seed=0, max_new_tokens=6)
    score_rollout(cfg, models, ro, torch.device("cpu"))
    compute_advantages(cfg, ro, 0.02)
    ro.advantages = torch.randn_like(ro.advantages) * ro.response_mask  # non-trivial PPO gradient
    cpu, n_seqs, step = torch.device("cpu"), 7, 3  # 7 sequences in micro-batches of 3 (3 + 3 + 1)

    loss, _ = ppo_minibatch_loss(cfg, models, ro, cpu)  # the trainer's path: two backwards, one buffer
    loss.backward()
    ptx_backward(cfg, models, ptx, step, n_seqs, cpu)
    combined = _grads(model)
    model.zero_grad(set_to_none=True)

    loss, _ = ppo_minibatch_loss(cfg, models, ro, cpu)
    loss.backward()
    g_ppo = _grads(model)
    model.zero_grad(set_to_none=True)
    b = pad_batch([exs[i] for i in global_batch(step, len(exs), n_seqs, cfg.seed + 17)], tok.pad_token_id)
    s, n = lm_loss_sum(model, b.input_ids, b.labels, b.attention_mask, b.position_ids)
    (s / n).backward()  # one forward over all 7: the per-token mean LM loss
    g_ptx = _grads(model)
    model.zero_grad(set_to_none=True)
    assert any(g.abs().sum() > 0 for g in g_ptx.values()) and any(g.abs().sum() > 0 for g in g_ppo.values())
    for k in combined:
        torch.testing.assert_close(combined[k], g_ppo[k] + GAMMA * g_ptx[k], rtol=1e-4, atol=1e-5)


def test_programmatic_rewards():
    p = Prompt(id="x", text="anything")
    assert lowercase_share(p, "abC d") == pytest.approx(0.75)
    assert lowercase_share(p, "123 !") == 0.0
    wc = word_count_reward(4)
    assert wc(p, "one two three four") == 1.0
    assert wc(p, "one two") == 0.5
    assert wc(p, " ".join(["w"] * 40)) == -1.0
    with pytest.raises(ValueError, match="target"):
        word_count_reward(0)


def test_reward_model_scorer_reads_tokens_or_retokenizes_alike():
    rm, tok = load_scalar_model("tiny", head_init="normal", seed=1)
    set_normalization(rm, 2.0, 0.5)
    prompt_text = "hello there"
    responses = ["a short answer", "another, longer answer here"]
    rows = [tok(prompt_text + r, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for r in responses]
    p_len = len(tok(prompt_text, add_special_tokens=False)["input_ids"])
    from instructrl.ppo.rollout import pad_episodes

    ids, mask, P, rmask = pad_episodes([r[:p_len] for r in rows], [r[p_len:] for r in rows], tok.pad_token_id)
    from instructrl.ops import position_ids_from_mask

    batch = ScoreBatch([Prompt(id="a", text="x")] * 2, responses, ids, mask, position_ids_from_mask(mask), P + rmask.sum(1) - 1, [prompt_text] * 2)
    same = RewardModelScorer(rm, tok, tok, batch_size=1)
    assert same.same_tokens
    direct = same.score(batch)
    retok = RewardModelScorer(rm, tok, tok)
    retok.same_tokens = False  # force the text path: same tokens, so the same scores
    torch.testing.assert_close(retok.score(batch), direct, rtol=0, atol=1e-5)
    from instructrl.models.heads import scalar_values

    raw = scalar_values(rm, torch.tensor([rows[0]]))[0, -1]
    assert direct[0].item() == pytest.approx(2.0 * raw.item() + 0.5, abs=1e-5)  # normalised, read at EOS
    assert direct[0] != direct[1]


@pytest.mark.parametrize(
    "override,match",
    [
        ({"reward": {"kind": "model"}}, "reward.model"),
        ({"batch_size": 6, "ppo": {"minibatches": 4}}, "minibatches"),
        ({"model": {"dropout": 0.1}}, "dropout must be 0"),
        ({"ptx": {"coef": 27.8}}, "ptx.data"),
        ({"temperature": 0.0}, "temperature"),
        ({"episodes": 8, "batch_size": 16}, "episodes >= batch_size"),
        ({"kl": {"coef": -1}}, "kl.coef"),
        ({"ppo": {"gamma": 1.5}}, "gamma"),
        ({"bogus": 1}, "unknown config key"),
        ({"ppo": {"advantage": "rloo", "group_size": 4}}, "value.kind='none'"),
        ({"value": {"kind": "none"}}, "ppo.advantage='rloo'"),
        ({"ppo": {"advantage": "rloo"}, "value": {"kind": "none"}}, "group_size >= 2"),
        ({"batch_size": 8, "ppo": {"minibatches": 2, "group_size": 3}}, "group_size=3"),
        ({"value": {"kind": "none", "init": "runs/rm"}, "ppo": {"advantage": "rloo", "group_size": 2}}, "value.init"),
    ],
)
def test_config_rejects_bad_values(override, match):
    with pytest.raises(ValueError, match=match):
        load_config(PPOConfig, None, override)


def test_config_defaults_are_the_papers():
    cfg = PPOConfig()
    assert (cfg.kl.coef, cfg.ppo.clip, cfg.value.clip, cfg.ppo.gamma, cfg.ppo.lam, cfg.temperature) == (0.02, 0.2, 0.2, 1.0, 0.95, 1.0)
    assert (cfg.ppo.epochs, cfg.ppo.minibatches, cfg.ptx.ratio, cfg.optim.warmup_iterations, cfg.optim.warmup_start) == (1, 8, 8.0, 10, 0.1)
    assert cfg.reward.missing_eos_penalty == -1.0 and cfg.value.kind == "separate"
    assert cfg.reward.kind == "task" and load_config(PPOConfig, None, ["reward.model=runs/rm"]).reward.kind == "model"


def test_callable_reward_by_import_path():
    from instructrl.ppo.scorers import build_scorer

    cfg = load_config(PPOConfig, None, {"reward": {"kind": "callable", "fn": "instructrl.ppo.scorers:lowercase_share"}})
    s = build_scorer(cfg.reward, None, torch.device("cpu"))
    batch = ScoreBatch([Prompt(id="a", text="x")] * 2, ["abc", "ABc"], torch.zeros(2, 1), torch.ones(2, 1), torch.zeros(2, 1), torch.zeros(2), ["", ""])
    assert s.score(batch).tolist() == pytest.approx([1.0, 1 / 3])
    bad = load_config(PPOConfig, None, {"reward": {"kind": "callable", "fn": "instructrl.ppo.scorers:nope"}})
    with pytest.raises(ValueError, match="cannot be imported"):
        build_scorer(bad.reward, None, torch.device("cpu"))
    with pytest.raises(ValueError, match="reward.fn is required"):
        load_config(PPOConfig, None, {"reward": {"kind": "callable"}})


def test_reward_model_must_be_a_trained_scalar_checkpoint(tmp_path):
    """reward.model names a trained RM: a causal LM (local, the tiny spec) would get a fresh
    random head and PPO would optimise noise, so it is refused, naming the setting."""
    from instructrl.models import load_causal_lm
    from instructrl.ppo.scorers import build_scorer

    lm, tok = load_causal_lm("tiny:hidden=32,layers=2,heads=4,kv_heads=2,ffn=64")
    lm.save_pretrained(tmp_path / "lm")
    tok.save_pretrained(tmp_path / "lm")
    for spec in ("tiny", str(tmp_path / "lm")):
        cfg = load_config(PPOConfig, None, {"reward": {"kind": "model", "model": spec}})
        with pytest.raises(ValueError, match=r"reward.model '.*' is not a scalar-head .*head would be random"):
            build_scorer(cfg.reward, tok, torch.device("cpu"))
