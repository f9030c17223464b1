"""`data.ptx_text=self`: a pretrained base's pretraining text is its own samples (SFT's mix,
PPO-ptx and the held-out alignment-tax loss), not instructrl's generated corpus."""

import json

import pytest
import yaml

from instructrl.config import build
from instructrl.loop import LoopConfig, run, stages_of
from instructrl.loop.config import PRESETS
from instructrl.models.generation import document_opener, sample_document_ids, sample_documents


def test_sampled_documents_are_the_models_own_tokens(tiny):
    model, tok = tiny
    opener, opener_id = document_opener(tok)
    ids = sample_document_ids(model, tok, 5, max_new_tokens=12, seed=3, batch_size=2)
    docs = sample_documents(model, tok, 5, max_new_tokens=12, seed=3, batch_size=2)
    assert len(ids) == len(docs) == 5
    assert docs == [tok.decode(x, skip_special_tokens=False) for x in ids]  # same samples, decoded
    for x, d in zip(ids, docs):
        assert x[0] == opener_id and d.startswith(opener) and 2 <= len(x) <= 13
        assert tok.eos_token_id not in x[1:-1]  # an EOS only ends a document, where the model emitted it
    assert len({tuple(x) for x in ids}) > 1
    assert sample_documents(model, tok, 5, max_new_tokens=12, seed=4, batch_size=2) != docs
    with pytest.raises(ValueError, match="n >= 1"):
        sample_documents(model, tok, 0, max_new_tokens=12)


def test_self_text_needs_a_base_the_loop_does_not_pretrain(tmp_path):
    with pytest.raises(ValueError, match=r"data.ptx_text=self.*base.pretrain=true"):
        build(LoopConfig, {"data": {"ptx_text": "self"}})
    with pytest.raises(ValueError, match="data.self_text_tokens"):
        build(LoopConfig, {"base": {"pretrain": False}, "data": {"ptx_text": "self", "self_text_tokens": 0}})
    cfg = build(LoopConfig, {"runs_dir": str(tmp_path), "base": {"model": "tiny", "pretrain": False}, "data": {"ptx_text": "self"}})
    names = [s[0] for s in stages_of(cfg)]
    assert names[:3] == ["data", "ptx-text", "round-0/data"]
    assert yaml.safe_load((PRESETS / "default.yaml").read_text())["data"].get("ptx_text", "generated") == "generated"


def test_smollm2_preset_samples_its_pretraining_text_from_smollm2(tmp_path):
    """The smollm2 preset's PPO-ptx and alignment-tax text are SmolLM2's own samples
    (records/2026-12-07_loop-smollm2-self-ptx), SFT's mix the generated corpus, with which SFT
    does better (-seed1); the preset builds, and its stages sample them right after the data stage."""
    cfg = build(LoopConfig, {**yaml.safe_load((PRESETS / "smollm2.yaml").read_text()), "runs_dir": str(tmp_path)})
    assert (cfg.data.ptx_text, cfg.data.sft_mix_text, cfg.data.ptx_docs, cfg.data.heldout_docs, cfg.base.pretrain) == ("self", "generated", 512, 64, False)
    assert [s[0] for s in stages_of(cfg)][:3] == ["data", "ptx-text", "round-0/data"]


def test_loop_round_on_the_bases_own_text(tmp_path):
    from instructrl.data.sources import load_texts
    from instructrl.evals.alignment_tax import hf_nll
    from instructrl.models import load_causal_lm

    preset = yaml.safe_load((PRESETS / "smoke.yaml").read_text())
    values = {**preset, "runs_dir": str(tmp_path), "rounds": 1, "base": {"model": "tiny", "pretrain": False},
              "data": {**preset["data"], "ptx_text": "self", "self_text_tokens": 24, "ptx_docs": 40, "heldout_docs": 6}}
    cfg = build(LoopConfig, values)
    run(cfg)
    root = cfg.root
    d = root / "ptx-text"
    ptx, heldout = load_texts(str(d / "ptx.jsonl")), load_texts(str(d / "heldout.jsonl"))
    assert len(ptx) == 40 and len(heldout) == 6 and not (root / "data" / "ptx.txt").exists()
    _, tok = load_causal_lm("tiny")
    opener, _ = document_opener(tok)
    assert all(t.startswith(opener) for t in ptx + heldout)
    assert json.loads((d / "STAGE_DONE").read_text())["docs"] == 46
    # SFT's mix and PPO-ptx read the samples, without an EOS appended after a cut
    sft = yaml.safe_load((root / "round-0" / "sft" / "config.yaml").read_text())["data"]
    assert sft["pretrain"] == str(d / "ptx.jsonl") and sft["pretrain_append_eos"] is False
    ppo = yaml.safe_load((root / "round-1" / "ppo" / "config.yaml").read_text())["ptx"]
    assert ppo["data"] == str(d / "ptx.jsonl") and ppo["append_eos"] is False
    # the alignment-tax loss is over the held-out samples as sampled
    model, tok = load_causal_lm(str(root / "round-0" / "sft" / "final"))
    nll, n = hf_nll(model, tok, heldout, max_seq_len=256, batch_size=16, append_eos=False)
    ev = json.loads((root / "round-1" / "eval" / "eval.json").read_text())["policies"]
    assert ev["sft"]["heldout_ptx_loss"] == pytest.approx(nll / n, rel=1e-5)
    with_eos, m = hf_nll(model, tok, heldout, max_seq_len=256, batch_size=16)
    assert m > n and ev["sft"]["heldout_ptx_loss"] != pytest.approx(with_eos / m, rel=1e-5)
    assert ev["ppo"]["heldout_ptx_loss"] > 0


def test_sft_mix_can_be_the_generated_corpus_while_ppo_ptx_is_the_bases_own_text(tmp_path, monkeypatch):
    """`data.sft_mix_text=generated`: the data stage writes the generated corpus and SFT mixes
    it in (EOS appended, as for any corpus document); PPO-ptx and the tax keep the base's samples."""
    from instructrl.loop import stages as S

    preset = yaml.safe_load((PRESETS / "smoke.yaml").read_text())
    base = {**preset, "runs_dir": str(tmp_path), "rounds": 1, "base": {"model": "tiny", "pretrain": False}}
    seen = {}
    monkeypatch.setattr("instructrl.sft.train", lambda c: seen.setdefault("sft", c))
    for mix in ("ptx_text", "generated"):
        cfg = build(LoopConfig, {**base, "name": mix, "data": {**preset["data"], "ptx_text": "self", "sft_mix_text": mix}})
        S.prepare_data(cfg, cfg.root)
        seen.clear()
        S.train_sft(cfg, cfg.root)
        sft = seen["sft"].data
        corpus = cfg.root / "data" / "ptx.txt"
        if mix == "generated":
            assert corpus.exists() and (sft.pretrain, sft.pretrain_append_eos) == (str(corpus), True)
        else:
            assert not corpus.exists() and (sft.pretrain, sft.pretrain_append_eos) == (str(cfg.root / "ptx-text" / "ptx.jsonl"), False)
        assert S.pretraining_text(cfg, cfg.root).train == cfg.root / "ptx-text" / "ptx.jsonl"  # PPO-ptx's text either way
