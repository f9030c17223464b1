"""`data.rank_temperature`: the temperature(s) the K responses to rank are sampled at.

One value (the default 1.0) keeps the single sampling pass and seed the loop always had, so
existing runs resume on the same batch; several values are taken by the K slots in turn."""

from pathlib import Path

import pytest

from instructrl.config import build
from instructrl.data import Prompt, write_jsonl
from instructrl.loop import LoopConfig
from instructrl.loop import stages
from instructrl.loop.stages import ranking_batch, sample_groups

SFT, PPO1 = Path("round-0/sft/final"), Path("round-1/ppo/final")


def test_one_policy_one_temperature_is_one_pass():
    assert sample_groups([SFT], 4, (1.0,)) == [(SFT, 1.0, 4)]


def test_temperatures_are_taken_in_turn_by_the_slots():
    assert sample_groups([SFT], 4, (1.0, 0.7)) == [(SFT, 1.0, 2), (SFT, 0.7, 2)]
    assert sample_groups([SFT], 5, (1.0, 0.7, 0.5)) == [(SFT, 1.0, 2), (SFT, 0.7, 2), (SFT, 0.5, 1)]


def test_temperatures_run_on_across_policies():
    # K = 5 over two policies: slots 1-3 from SFT, 4-5 from round 1, temperatures alternating
    groups = sample_groups([SFT, PPO1], 5, (1.0, 0.7))
    assert groups == [(SFT, 1.0, 2), (SFT, 0.7, 1), (PPO1, 0.7, 1), (PPO1, 1.0, 1)]
    assert sum(n for _, _, n in groups) == 5


def _loop(tmp_path, **data):
    cfg = build(LoopConfig, {"name": "t", "data": {"k": 4, "sft_prompts": 2, "rank_prompts": 3, **data}, "seed": 7})
    prompts = [Prompt(id=f"p{i}", text=f"Name colour {i}.") for i in range(8)]
    write_jsonl(tmp_path / "data" / "train.jsonl", prompts)
    (tmp_path / "round-0" / "sft" / "final").mkdir(parents=True)
    return cfg


def _fake_sampler(calls):
    def sample(policy, prompts, n, *, max_new_tokens, temperature, seed, device):
        calls.append((Path(policy).parent.name, temperature, seed, n))
        return [[f"{p.id} T={temperature} #{j}" for j in range(n)] for p in prompts]
    return sample


def test_default_samples_once_at_t1_with_the_seed_it_always_had(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(stages, "sample_responses", _fake_sampler(calls))
    batch = ranking_batch(_loop(tmp_path), tmp_path, 1)
    assert calls == [("sft", 1.0, 7 + 1000, 4)]
    assert [it.prompt.id for it in batch.items] == ["p2", "p3", "p4"]  # after the SFT prompts


def test_two_temperatures_give_each_prompt_k_responses_from_both(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(stages, "sample_responses", _fake_sampler(calls))
    batch = ranking_batch(_loop(tmp_path, rank_temperature=[1.0, 0.7]), tmp_path, 1)
    assert calls == [("sft", 1.0, 7 + 1000, 2), ("sft", 0.7, 7 + 1001, 2)]
    item = batch.items[0]
    assert item.responses == ("p2 T=1.0 #0", "p2 T=1.0 #1", "p2 T=0.7 #0", "p2 T=0.7 #1")
    assert item.sources == ("round-0/sft",) * 4


def test_a_scalar_on_the_command_line_is_one_temperature():
    assert build(LoopConfig, {"data": {"rank_temperature": 0.7}}).data.rank_temperature == (0.7,)
    assert build(LoopConfig, {"data": {"rank_temperature": "1.0,0.7"}}).data.rank_temperature == (1.0, 0.7)


@pytest.mark.parametrize("bad", [0.0, -1.0, 3.0, []])
def test_bad_temperatures_are_refused_by_name(bad):
    with pytest.raises(ValueError, match="data.rank_temperature"):
        build(LoopConfig, {"data": {"rank_temperature": bad}})
