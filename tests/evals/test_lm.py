"""Checkpoint specs, the predictions-file model and the generation cache."""

from __future__ import annotations

import gzip
import json

import pytest

from evalfakes import SHARED, FakeModel
from instructrl.evals.lm import GenerationCache, PredictionsModel, expand_checkpoint_specs, self_instruct_text


def test_names_and_run_directory_expansion(tmp_path):
    run = tmp_path / "myrun"
    for r in ("round-1", "round-2", "round-10"):
        for s in ("sft", "rm", "ppo"):
            (run / r / s).mkdir(parents=True)
    hf = tmp_path / "hfdir"
    hf.mkdir()
    (hf / "config.json").write_text("{}")
    got = expand_checkpoint_specs(["base=smollm2-135m", str(run), str(hf), "predictions:/x/davinci_predictions.jsonl.gz"])
    assert got == [
        ("base", "smollm2-135m"),
        ("myrun/sft", str(run / "round-10" / "sft")),  # the last round, numerically
        ("myrun/ppo", str(run / "round-10" / "ppo")),
        ("hfdir", str(hf)),
        ("davinci", "predictions:/x/davinci_predictions.jsonl.gz"),
    ]
    with pytest.raises(ValueError, match="duplicates \\['tiny'\\]"):
        expand_checkpoint_specs(["tiny", "tiny"])


def test_predictions_model_serves_responses_by_prompt_text(tmp_path):
    p = tmp_path / "preds.jsonl.gz"
    with gzip.open(p, "wt") as f:
        f.write(json.dumps({"prompt": "...", "instruction": "Fix this.\n", "input": "teh cat", "response": "\n\nthe cat"}) + "\n")
        f.write(json.dumps({"prompt": "Say hi.", "response": " hi "}) + "\n")
    m = PredictionsModel("x", p)
    assert m.generate([self_instruct_text("Fix this.", "teh cat"), "Say hi."], max_new_tokens=5) == ["the cat", "hi"]
    with pytest.raises(KeyError, match="no prediction"):
        m.generate(["unknown"], max_new_tokens=5)
    with pytest.raises(TypeError, match="predictions file"):
        m.logprobs(["a"], ["b"])


@pytest.mark.skipif(not (SHARED / "self-instruct").exists(), reason="shared datasets not present")
def test_shipped_self_instruct_predictions_cover_all_252_prompts():
    from instructrl.evals.winrate import load_prompt_set

    prompts = load_prompt_set(str(SHARED / "self-instruct" / "user_oriented_instructions.jsonl"))
    assert len(prompts) == 252
    m = PredictionsModel("text-davinci-001", SHARED / "self-instruct" / "predictions" / "text-davinci-001_predictions.jsonl.gz")
    out = m.generate([m.render(p) for p in prompts], max_new_tokens=1)
    assert len(out) == 252 and all(isinstance(o, str) for o in out)


def test_cache_generates_only_misses_and_keys_on_settings(tmp_path):
    model = FakeModel()
    cache = GenerationCache(tmp_path)
    r1, n1 = cache.generate(model, ["a", "b", "a"], max_new_tokens=8)
    assert n1 == 2 and r1[0] == r1[2] and len(model.generate_calls) == 1
    r2, n2 = cache.generate(model, ["b", "c"], max_new_tokens=8)
    assert n2 == 1 and model.generate_calls[-1] == ["c"] and r2[0] == r1[1]
    _, n3 = cache.generate(model, ["b"], max_new_tokens=16)  # other settings: a new generation
    assert n3 == 1
    other = FakeModel(name="other")  # another model never reads this model's cache
    _, n4 = cache.generate(other, ["a"], max_new_tokens=8)
    assert n4 == 1


def test_generation_cache_survives_a_torn_append(tmp_path):
    from instructrl.data.io import read_log

    model = FakeModel()
    cache = GenerationCache(tmp_path)
    first, _ = cache.generate(model, ["a", "b"], max_new_tokens=8)
    f = cache._file(model)
    with open(f, "a") as fh:
        fh.write('{"key": "x", "te')
    with pytest.warns(UserWarning):
        again, n = cache.generate(model, ["a", "b", "c"], max_new_tokens=8)
    assert again[:2] == first and n == 1  # a and b came from the cache, only c was generated
    assert len(read_log(f)) == 3


def test_heldout_nll_is_independent_of_batching_and_matches_a_direct_forward():
    import torch

    from instructrl.evals.alignment_tax import hf_nll
    from instructrl.models import load_causal_lm

    torch.manual_seed(0)
    model, tok = load_causal_lm("tiny")
    texts = ["the cat sat on the mat and looked at the door", "a b", "one two three four five six seven eight nine ten eleven"]
    one, n1 = hf_nll(model, tok, texts, max_seq_len=8, batch_size=1)
    many, n3 = hf_nll(model, tok, texts, max_seq_len=8, batch_size=3)
    assert n1 == n3 > 0
    assert abs(one - many) < 1e-4 * max(1.0, abs(one))
    # by hand: each chunk alone, no padding at all
    from instructrl.data.render import IGNORE, tokenize_text

    total, count = 0.0, 0
    with torch.no_grad():
        for ex in (e for t in texts for e in tokenize_text(tok, t, 8)):
            ids, labels = torch.tensor([ex.input_ids]), torch.tensor([ex.labels])
            logp = model(ids).logits.float().log_softmax(-1)[:, :-1]  # position t predicts labels[t + 1]
            tgt = labels[:, 1:]
            keep = tgt != IGNORE
            total -= float(logp[keep].gather(-1, tgt[keep][:, None]).sum())
            count += int(keep.sum())
    assert count == n1 and abs(total - one) < 1e-3 * max(1.0, abs(total))


def test_predictions_file_that_is_not_json_names_file_and_line(tmp_path):
    f = tmp_path / "preds.jsonl"
    f.write_text('{"instruction": "a", "response": "b"}\n{"instruction": "c", "resp\n')
    with pytest.raises(ValueError, match=r"preds.jsonl:2: predictions row is not JSON"):
        PredictionsModel("m", f)
