"""The loop's corpus options: validated in the config, passed to the pretraining text."""

import pytest
import yaml

from instructrl.config import build
from instructrl.loop import LoopConfig
from instructrl.loop.config import PRESETS
from instructrl.loop.stages import prepare_data
from instructrl.tasks import generate_pretraining_corpus

SMALL = {"n_prompts": 400, "n_users": 40, "sft_prompts": 48, "rank_prompts": 16, "test_prompts": 16,
         "closed_domain_test": 0, "ptx_docs": 80, "heldout_docs": 10}


def test_corpus_options_reach_the_pretraining_text(tmp_path):
    cfg = build(LoopConfig, {"runs_dir": str(tmp_path), "data": {**SMALL, "corpus_reading": 0.5, "corpus_case": 0.5}})
    prepare_data(cfg, tmp_path)
    text = (tmp_path / "data" / "ptx.txt").read_text()
    docs = generate_pretraining_corpus(90, seed=cfg.data.seed + 7, reading=0.5, case=0.5)
    assert text == "\n\n".join(docs[:80])
    assert ("Names: " in text or "People in this text: " in text or "NAMES: " in text) and "Q: WHAT" in text.upper()
    plain = build(LoopConfig, {"runs_dir": str(tmp_path / "p"), "data": SMALL})
    prepare_data(plain, tmp_path / "p")
    assert (tmp_path / "p" / "data" / "ptx.txt").read_text() == "\n\n".join(generate_pretraining_corpus(90, seed=cfg.data.seed + 7)[:80])


def test_default_preset_pretrains_on_reading_and_case_documents():
    data = yaml.safe_load((PRESETS / "default.yaml").read_text())["data"]
    assert 0 < data["corpus_reading"] < 1 and 0 < data["corpus_case"] < 1


@pytest.mark.parametrize("key", ["corpus_reading", "corpus_case"])
def test_corpus_fractions_are_checked_when_the_config_is_built(key):
    with pytest.raises(ValueError, match=f"data.{key}"):
        build(LoopConfig, {"data": {key: 1.5}})
