"""`data.prompts`: the loop on the user's own prompt set instead of generated prompts."""

import json

import pytest

from instructrl.config import build
from instructrl.data import Prompt, read_jsonl, write_jsonl
from instructrl.loop import LoopConfig
from instructrl.loop.stages import prepare_data
from instructrl.tasks import generate_prompts


def _cfg(tmp_path, prompts, **kw):
    return build(LoopConfig, {"runs_dir": str(tmp_path), "name": "mine", "rounds": 1,
                              "data": {"prompts": str(prompts), "sft_prompts": 20, "rank_prompts": 10, "test_prompts": 5,
                                       "ptx_docs": 20, "heldout_docs": 5}, **kw})


def test_data_stage_uses_the_given_prompts(tmp_path):
    mine = generate_prompts(120, seed=5, n_users=12)
    write_jsonl(tmp_path / "mine.jsonl", mine)
    cfg = _cfg(tmp_path, tmp_path / "mine.jsonl")
    prepare_data(cfg, cfg.root)
    d = cfg.root / "data"
    splits = {n: read_jsonl(d / f"{n}.jsonl", Prompt).records for n in ("train", "valid", "test")}
    ids = {p.id for p in mine}
    assert all(p.id in ids for ps in splits.values() for p in ps)
    assert sum(map(len, splits.values())) >= 100  # only prefix duplicates go
    assert read_jsonl(d / "test-closed.jsonl", Prompt).records == []  # the extra closed-domain set is generated
    info = json.loads((d / "STAGE_DONE").read_text())
    assert info["source"] == str(tmp_path / "mine.jsonl") and info["prompts"] == 120


def test_prompts_without_a_spec_need_real_labelers(tmp_path):
    real = [Prompt(id=f"r{i}", text=f"Write a short note to my neighbour number {i} about the fence.", user_id=f"u{i % 10}")
            for i in range(80)]
    write_jsonl(tmp_path / "real.jsonl", real)
    cfg = _cfg(tmp_path, tmp_path / "real.jsonl")
    with pytest.raises(ValueError, match=r"80 of 80 prompts have no metadata\['spec'\] \(first: 'r0'\).*labelers=<labeling app URL>"):
        prepare_data(cfg, cfg.root)
    assert not (cfg.root / "data" / "STAGE_DONE").exists()
    cfg = _cfg(tmp_path, tmp_path / "real.jsonl", labelers="http://127.0.0.1:9")  # people judge them: fine
    prepare_data(cfg, cfg.root)
    assert (cfg.root / "data" / "STAGE_DONE").exists()


def test_missing_prompt_file_is_named(tmp_path):
    cfg = _cfg(tmp_path, tmp_path / "nope.jsonl")
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        prepare_data(cfg, cfg.root)
