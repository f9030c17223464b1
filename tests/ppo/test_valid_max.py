"""`data.valid_max`: the in-training evaluation on a fixed, seeded subset of the validation prompts."""

import pytest

from instructrl.config import load_config
from instructrl.ppo import PPOConfig
from instructrl.ppo.train import prepare_prompts


class WordTok:  # one id per word; no chat template
    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [len(w) for w in text.split()]}


def _data(tmp_path, *over):
    cfg = load_config(PPOConfig, None, ["data.prompts=generated:60", "data.valid_size=20", "data.use_chat_template=false",
                                        "batch_size=4", "ppo.minibatches=2", f"output_dir={tmp_path}", *over])
    return prepare_prompts(cfg, WordTok())


def test_valid_max_samples_a_fixed_subset_and_leaves_training_prompts_alone(tmp_path):
    full = _data(tmp_path)
    cut = _data(tmp_path, "data.valid_max=5")
    again = _data(tmp_path, "data.valid_max=5")
    assert len(full.valid) == 20 and len(cut.valid) == 5
    assert [p.id for p in cut.valid] == [p.id for p in again.valid]  # deterministic
    assert {p.id for p in cut.valid} <= {p.id for p in full.valid}  # a subset, in the original order
    order = [p.id for p in full.valid]
    assert [order.index(p.id) for p in cut.valid] == sorted(order.index(p.id) for p in cut.valid)
    assert [p.id for p in cut.train] == [p.id for p in full.train] and cut.valid_ids == [
        full.valid_ids[order.index(p.id)] for p in cut.valid]
    assert len(_data(tmp_path, "data.valid_max=50").valid) == 20  # a cap above the count changes nothing


def test_valid_max_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="data.valid_max must be >= 1"):
        _data(tmp_path, "data.valid_max=0")
