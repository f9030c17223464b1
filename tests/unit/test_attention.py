"""Padding-free attention (models/attention.py): equal to transformers' SDPA in values and
gradients on packed rows and padded batches, out of the way for KV-cached generation and
unsupported architectures, and never written into saved checkpoints."""

import json

import pytest
import torch

from instructrl.data.collate import pack_batch
from instructrl.data.render import Example
from instructrl.models import attention
from instructrl.models.loader import ModelConfig, load_causal_lm
from instructrl.models.logprobs import hidden_states, lm_loss_sum, token_logprobs

SPEC = "tiny:hidden=64,layers=2,heads=4,kv_heads=2,ffn=128,seed=3"


def _pair():
    a, tok = load_causal_lm(ModelConfig(name=SPEC, attention="auto"))
    b, _ = load_causal_lm(ModelConfig(name=SPEC, attention="sdpa"))
    assert a.config._attn_implementation == attention.NAME
    assert b.config._attn_implementation == "sdpa"
    return a, b, tok


def _grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_packed_row_equals_each_example_alone_and_sdpa():
    fast, ref, _ = _pair()
    g = torch.Generator().manual_seed(0)
    lens = [9, 14, 1, 6]
    ids = torch.randint(5, 400, (1, sum(lens)), generator=g)
    pos = torch.cat([torch.arange(n) for n in lens]).unsqueeze(0)
    h_fast = hidden_states(fast, ids, None, pos)
    h_ref = hidden_states(ref, ids, None, pos)
    alone, s = [], 0
    for n in lens:
        alone.append(hidden_states(ref, ids[:, s : s + n], None, torch.arange(n).unsqueeze(0)))
        s += n
    torch.testing.assert_close(h_fast, h_ref, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(h_fast, torch.cat(alone, 1), atol=2e-5, rtol=1e-4)
    # changing the first example does not move the others (no attention across examples)
    ids2 = ids.clone()
    ids2[0, :9] = 7
    h2 = hidden_states(fast, ids2, None, pos)
    torch.testing.assert_close(h2[:, 9:], h_fast[:, 9:])
    assert not torch.allclose(h2[:, :9], h_fast[:, :9])


@pytest.mark.parametrize("side", ["left", "right"])
def test_padded_batch_runs_padding_free_with_equal_values_and_gradients(side):
    fast, ref, _ = _pair()
    g = torch.Generator().manual_seed(1)
    B, T = 3, 17
    ids = torch.randint(5, 400, (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    for b, pad in enumerate([0, 5, 11]):
        if pad:
            sl = slice(0, pad) if side == "left" else slice(T - pad, T)
            mask[b, sl] = 0
    prev_real = torch.zeros_like(mask, dtype=torch.bool)
    prev_real[:, 1:] = mask[:, :-1].bool()
    # a target needs a real token before it (a row's first token has no prediction)
    target = mask.bool() & prev_real & (torch.rand(B, T, generator=g) > 0.3)
    out = {}
    for name, m in (("fast", fast), ("ref", ref)):
        lp, ent = token_logprobs(m, ids, target, mask, with_entropy=True)
        (lp.sum() + 0.1 * ent.sum()).backward()
        out[name] = (lp.detach(), ent.detach(), _grads(m))
    torch.testing.assert_close(out["fast"][0], out["ref"][0], atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(out["fast"][1], out["ref"][1], atol=2e-5, rtol=1e-4)
    assert out["fast"][2].keys() == out["ref"][2].keys() and out["fast"][2]
    for k in out["ref"][2]:
        torch.testing.assert_close(out["fast"][2][k], out["ref"][2][k], atol=1e-5, rtol=1e-3)
    # pads carry zero states, never garbage
    h = hidden_states(fast, ids, mask)
    assert torch.all(h[~mask.bool()] == 0)


def test_single_row_sft_batch_has_no_padding_and_the_same_loss():
    from instructrl.sft.config import SFTConfig, SFTDataConfig
    from instructrl.sft.train import make_batch

    fast, ref, tok = _pair()
    g = torch.Generator().manual_seed(2)
    exs = []
    for n in (12, 30, 7, 21):
        ids = torch.randint(5, 400, (n,), generator=g).tolist()
        exs.append(Example(input_ids=tuple(ids), labels=tuple([-100] * (n // 2) + ids[n // 2 :])))
    cfg = SFTConfig(data=SFTDataConfig(train="x.jsonl", max_seq_len=40))
    one = make_batch(exs, cfg, tok.pad_token_id, single_row=True)
    rows = make_batch(exs, cfg, tok.pad_token_id, single_row=False)
    assert one.input_ids.shape == (1, sum(len(e) for e in exs)) and bool(one.real.all())
    assert rows.input_ids.shape[0] > 1
    a, na = lm_loss_sum(fast, one.input_ids, one.labels, None, one.position_ids)
    b, nb = lm_loss_sum(ref, rows.input_ids, rows.labels, None, rows.position_ids)
    assert na == nb
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-5)


def test_kv_cached_generation_is_unchanged():
    """Prefill and decode with a KV cache take transformers' own SDPA path (same tokens)."""
    from instructrl.models.generation import HFGenerator

    fast, ref, tok = _pair()
    prompts = [tok("Hello there, how are", add_special_tokens=False)["input_ids"], tok("A", add_special_tokens=False)["input_ids"]]
    a = HFGenerator(fast, tok.eos_token_id, tok.pad_token_id).generate(prompts, max_new_tokens=8, temperature=0.0)
    b = HFGenerator(ref, tok.eos_token_id, tok.pad_token_id).generate(prompts, max_new_tokens=8, temperature=0.0)
    assert a.response_ids == b.response_ids
    for x, y in zip(a.logprobs, b.logprobs):
        assert x == pytest.approx(y, abs=1e-4)


def test_unsupported_architectures_keep_sdpa():
    from transformers import MistralConfig, MistralForCausalLM

    cfg = MistralConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2, sliding_window=8)
    m = MistralForCausalLM(cfg)
    assert not attention.enable(m)
    assert m.config._attn_implementation != attention.NAME
    cfg.sliding_window = None
    assert attention.enable(MistralForCausalLM(cfg))


def test_saved_checkpoint_loads_in_plain_transformers(tmp_path):
    from transformers import AutoModelForCausalLM

    from instructrl.checkpoint import save_model

    fast, _, tok = _pair()
    save_model(fast, tok, tmp_path / "ck")
    assert attention.NAME not in (tmp_path / "ck" / "config.json").read_text()
    m = AutoModelForCausalLM.from_pretrained(tmp_path / "ck")
    assert m.config._attn_implementation in ("sdpa", "eager")
    assert json.loads((tmp_path / "ck" / "config.json").read_text())["model_type"] == "llama"


def test_bad_attention_choice_names_the_key():
    with pytest.raises(ValueError, match="model.attention"):
        ModelConfig(name="tiny", attention="fastest")


def test_shared_context_logprobs_equal_each_pair_alone():
    """TruthfulQA-style scoring: one row per context with all its continuations."""
    from instructrl.models.logprobs import sequence_logprobs

    fast, ref, tok = _pair()
    primer = "Q: What is two plus two?\nA: Four.\n\n"  # a shared few-shot prefix, encoded once per row
    ctxs = [primer + "Q: What is red?\nA:"] * 3 + [primer + "Q: Name a river.\nA:"] * 2 + ["Q: Why?\nA:"]
    conts = [" An apple.", " The sky, usually", " Blood", " The Nile", " Stone", " Because."]
    a = sequence_logprobs(fast, tok, ctxs, conts, batch_size=2)
    a3 = sequence_logprobs(fast, tok, ctxs, conts, batch_size=3)  # a row whose contexts share nothing
    b = sequence_logprobs(ref, tok, ctxs, conts, batch_size=8)
    alone = [sequence_logprobs(ref, tok, [c], [x])[0] for c, x in zip(ctxs, conts)]
    assert a == pytest.approx(b, abs=1e-4) and a == pytest.approx(alone, abs=1e-4) and a3 == pytest.approx(alone, abs=1e-4)
    assert len(set(round(x, 3) for x in a)) == len(a)  # real, distinct scores


def test_shared_context_blocks_equal_the_dense_mask_with_gradients():
    """The reward model's prompt + K responses row: per-piece attention == 4D-mask SDPA."""
    from instructrl.models.heads import load_scalar_model
    from instructrl.reward.model import pack_groups, packed_rewards

    fast, _ = load_scalar_model(SPEC, attention="auto")
    ref, _ = load_scalar_model(SPEC, attention="sdpa")
    assert fast.config._attn_implementation == attention.NAME and ref.config._attn_implementation == "sdpa"
    g = torch.Generator().manual_seed(4)

    def r(n):
        return torch.randint(5, 400, (n,), generator=g).tolist()

    batch = pack_groups([(r(7), [r(5), r(9), r(3)]), (r(4), [r(6), r(2)])], pad_id=3)
    out = {}
    for name, m in (("fast", fast), ("ref", ref)):
        rew = packed_rewards(m, batch)
        (rew * torch.arange(1, 6)).sum().backward()
        out[name] = (rew.detach(), _grads(m))
    torch.testing.assert_close(out["fast"][0], out["ref"][0], atol=2e-5, rtol=1e-4)
    for k in out["ref"][1]:
        torch.testing.assert_close(out["fast"][1][k], out["ref"][1][k], atol=1e-5, rtol=1e-3)
