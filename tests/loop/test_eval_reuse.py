"""Evaluation responses: the SFT policy's answers are generated once and reused by later
rounds, only while the policy's weights, the prompts and the decoding settings are the same."""

import os

from instructrl.config import build
from instructrl.data import Prompt
from instructrl.loop import LoopConfig
from instructrl.loop import evaluate as ev


def _setup(tmp_path, monkeypatch):
    calls = []

    def fake_sample(policy, prompts, n, *, max_new_tokens, temperature, seed, device):
        assert device == "cpu"  # the loop's device, resolved (auto: no GPU here)
        calls.append((policy, len(prompts), max_new_tokens, temperature))
        return [[f"answer {len(calls)} to {p.id}"] for p in prompts]

    monkeypatch.setattr("instructrl.loop.stages.sample_responses", fake_sample)
    policy = tmp_path / "round-0" / "sft" / "final"
    policy.mkdir(parents=True)
    (policy / "model.safetensors").write_bytes(b"weights v1")
    prompts = [Prompt(id=f"p{i}", text=f"Say {i}.") for i in range(3)]
    return calls, policy, prompts


def test_later_rounds_reuse_the_sft_answers(tmp_path, monkeypatch):
    calls, policy, prompts = _setup(tmp_path, monkeypatch)
    cfg = build(LoopConfig, {"runs_dir": str(tmp_path)})
    r1 = tmp_path / "round-1" / "eval" / "responses-sft.jsonl"
    r2 = tmp_path / "round-2" / "eval" / "responses-sft.jsonl"
    first = ev._responses(cfg, policy, prompts, r1)
    assert len(calls) == 1 and first == [f"answer 1 to p{i}" for i in range(3)]
    assert ev._responses(cfg, policy, prompts, r2, [r1]) == first and len(calls) == 1  # reused, not regenerated
    assert r2.read_text() == r1.read_text()
    assert ev._responses(cfg, policy, prompts, r2, [r1]) == first and len(calls) == 1  # the stage's own cache


def test_reuse_stops_when_settings_weights_or_prompts_change(tmp_path, monkeypatch):
    calls, policy, prompts = _setup(tmp_path, monkeypatch)
    cfg = build(LoopConfig, {"runs_dir": str(tmp_path)})
    r1 = tmp_path / "round-1" / "eval" / "responses-sft.jsonl"
    ev._responses(cfg, policy, prompts, r1)
    hot = build(LoopConfig, {"runs_dir": str(tmp_path), "eval": {"temperature": 0.7}})
    ev._responses(hot, policy, prompts, tmp_path / "a.jsonl", [r1])
    assert len(calls) == 2 and calls[-1][3] == 0.7
    ev._responses(cfg, policy, prompts[:2], tmp_path / "b.jsonl", [r1])
    assert len(calls) == 3
    (policy / "model.safetensors").write_bytes(b"weights v2, retrained")  # SFT rerun in place
    os.utime(policy / "model.safetensors", ns=(1, 1))
    out = ev._responses(cfg, policy, prompts, tmp_path / "c.jsonl", [r1])
    assert len(calls) == 4 and out[0] == "answer 4 to p0"
    # a round-1 file from before this change (no key beside it) is never trusted
    (r1.with_suffix(".key.json")).unlink()
    ev._responses(cfg, policy, prompts, tmp_path / "d.jsonl", [r1])
    assert len(calls) == 5


def test_a_rerun_of_the_stage_judges_the_policy_as_it_is_now(tmp_path, monkeypatch):
    """`--only round-k/eval` after `--only round-k/ppo` (or with other decoding settings) must
    not judge the stage's own stored answers of the policy that was replaced."""
    calls, policy, prompts = _setup(tmp_path, monkeypatch)
    cfg = build(LoopConfig, {"runs_dir": str(tmp_path)})
    own = tmp_path / "round-1" / "eval" / "responses-ppo.jsonl"
    first = ev._responses(cfg, policy, prompts, own)
    assert ev._responses(cfg, policy, prompts, own) == first and len(calls) == 1  # same policy: the stored answers
    (policy / "model.safetensors").write_bytes(b"weights v2, PPO rerun")
    os.utime(policy / "model.safetensors", ns=(2, 2))
    again = ev._responses(cfg, policy, prompts, own)
    assert len(calls) == 2 and again == [f"answer 2 to p{i}" for i in range(3)]
    assert ev._responses(cfg, policy, prompts, own) == again and len(calls) == 2  # and those are stored in turn
    hot = build(LoopConfig, {"runs_dir": str(tmp_path), "eval": {"temperature": 0.7}})
    ev._responses(hot, policy, prompts, own)
    assert len(calls) == 3 and calls[-1][3] == 0.7
