"""PPO end to end on `tiny`: weights change, every metric is finite, LoRA + value head, resume after SIGKILL."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from instructrl.config import load_config
from instructrl.ppo import PPOConfig, train

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
BASE = ["--progress", "false", "--tensorboard", "false", "data.prompts=generated:40", "data.valid_size=4", "max_new_tokens=8",
        "batch_size=4", "ppo.minibatches=2", "optim.lr=1e-3", "value.lr=1e-3", "optim.warmup_iterations=1", "reward.kind=lowercase"]
REQUIRED = ["ppo/approx_kl", "ppo/clipfrac", "ppo/entropy", "ppo/policy_loss", "ppo/value_loss", "ppo/explained_variance", "ppo/kl_to_ref",
            "ppo/kl_coef", "ppo/ptx_loss", "reward/mean", "reward/score_mean", "gen/response_len", "gen/eos_rate", "gen/tokens_per_s",
            "time/generation_s", "time/scoring_s", "time/training_s"]


def rows(run: Path) -> list[dict]:
    return [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]


def test_ppo_ptx_on_tiny_changes_weights_and_logs_finite_metrics(tmp_path):
    run = tmp_path / "run"
    cfg = load_config(PPOConfig, None, [*BASE, f"output_dir={run}", "episodes=12", "ptx.coef=27.8", "ptx.data=generated:30", "ptx.ratio=2",
                                         "ptx.max_seq_len=32", "ema_decay=0.9", "eval_every=2", "save_every=1"])
    final = train(cfg)
    from instructrl.models import build_tiny
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    init = build_tiny("tiny")[0].state_dict()
    w = load_file(final / "model.safetensors")
    assert any(not torch.equal(w[k], init[k]) for k in w)
    ema = load_file(run / "ema" / "model.safetensors")
    assert any(not torch.equal(ema[k], w[k]) for k in w)  # the EMA lags the live weights
    log = rows(run)
    assert [r["step"] for r in log] == [1, 2, 3]
    for key in REQUIRED:
        assert all(math.isfinite(r[key]) for r in log), key
    assert {"eval/score_mean", "eval/kl_to_ref", "eval/ptx_loss"} <= set(log[1]) and "eval/score_mean" in log[2]
    samples = [json.loads(l) for l in (run / "samples.jsonl").read_text().splitlines()]
    assert {s["iteration"] for s in samples} == {2, 3} and all(isinstance(s["response"], str) for s in samples)
    AutoModelForCausalLM.from_pretrained(final)  # plain transformers loads both
    AutoModelForSequenceClassification.from_pretrained(run / "value")
    from instructrl.models.heads import load_scalar_model

    load_scalar_model(str(run / "value"))  # a scalar checkpoint with its tokenizer
    assert (final / "provenance.json").exists() and (final / "COMPLETE").exists()
    assert train(cfg) == final  # a complete run is not redone


def test_lora_policy_with_value_head_and_adaptive_kl(tmp_path):
    run = tmp_path / "lora"
    cfg = load_config(PPOConfig, None, [*BASE, f"output_dir={run}", "episodes=8", "model.lora.enabled=true", "model.lora.r=4",
                                         "model.lora.merge_on_save=false", "value.kind=head", "kl.adaptive=true", "kl.target=0.001", "kl.horizon=10"])
    final = train(cfg)
    adapter = load_file(final / "adapter_model.safetensors")
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in adapter.items())  # B starts at 0: trained
    assert (run / "value" / "value_head.pt").exists()
    log = rows(run)
    assert log[1]["ppo/kl_coef"] != log[0]["ppo/kl_coef"]  # the adaptive controller moved beta
    assert all(math.isfinite(v) for r in log for v in r.values())


def _cli(*args):
    out = subprocess.run([sys.executable, "-m", "instructrl.cli", "ppo", *args], env=ENV, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_resume_after_kill_matches_uninterrupted(tmp_path):
    args = [*BASE, "episodes=32", "save_every=2", "max_new_tokens=12", "ptx.coef=1.0", "ptx.data=generated:30", "ptx.ratio=1"]
    _cli(f"output_dir={tmp_path / 'full'}", *args)
    run = tmp_path / "killed"
    p = subprocess.Popen([sys.executable, "-m", "instructrl.cli", "ppo", f"output_dir={run}", *args], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "checkpoints" / "step-2" / "COMPLETE").exists():
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert (run / "checkpoints" / "step-2" / "COMPLETE").exists(), "the run never reached its step-2 checkpoint"
    assert not (run / "final").exists(), "the run finished before it was killed"
    out = _cli(f"output_dir={run}", *args)
    assert "resumed from" in out.stdout
    for sub, name in (("final", "model.safetensors"), ("value", "model.safetensors")):
        a, b = load_file(tmp_path / "full" / sub / name), load_file(run / sub / name)
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    assert [r["step"] for r in rows(run)] == list(range(1, 9))
    assert rows(run)[-1]["reward/score_mean"] == rows(tmp_path / "full")[-1]["reward/score_mean"]


def test_cli_bad_config_is_a_clear_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "instructrl.cli", "ppo", "reward.kind=model"], env=ENV, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "reward.model" in out.stderr and "Traceback" not in out.stderr


def test_old_values_from_the_training_forward_equal_a_scoring_forward(tmp_path):
    """ppo.old_values=auto (1 epoch x 1 minibatch) skips the scoring-time value forward and
    reads V_old off the training forward: same weights and metrics as old_values=scoring."""
    ppo_train = sys.modules["instructrl.ppo.train"]  # the module (instructrl.ppo.train is also the function)

    calls = {"n": 0}
    real = ppo_train.compute_advantages

    def counting(*a, **k):
        calls["n"] += 1
        return real(*a, **k)

    ppo_train.compute_advantages = counting
    try:
        out = {}
        for mode in ("scoring", "auto"):
            run = tmp_path / mode
            cfg = load_config(PPOConfig, None, [*BASE, f"output_dir={run}", "episodes=8", "ppo.minibatches=1", f"ppo.old_values={mode}"])
            assert cfg.old_values_from_training == (mode == "auto")
            final = train(cfg)
            out[mode] = (load_file(final / "model.safetensors"), rows(run))
    finally:
        ppo_train.compute_advantages = real
    assert calls["n"] >= 4  # 2 iterations each side, advantages computed every time
    w_s, w_a = out["scoring"][0], out["auto"][0]
    from instructrl.models import build_tiny

    init = build_tiny("tiny")[0].state_dict()
    assert any(not torch.equal(w_a[k], init[k]) for k in w_a)  # it trained
    for k in w_s:
        torch.testing.assert_close(w_a[k], w_s[k], atol=1e-4, rtol=1e-3)
    for ra, rs in zip(out["auto"][1], out["scoring"][1]):
        for key in ("ppo/value_loss", "ppo/policy_loss", "ppo/explained_variance", "reward/score_mean", "ppo/kl_to_ref"):
            assert ra[key] == pytest.approx(rs[key], rel=1e-3, abs=1e-4), key


def test_rloo_trains_without_a_value_function_and_resumes(tmp_path, capsys):
    """ppo.advantage=rloo: groups of responses per prompt, no value network or head (none
    saved, no value metrics), the policy trains, and a resumed run ends where a full one does."""
    args = [*BASE, "episodes=16", "batch_size=8", "ppo.advantage=rloo", "ppo.group_size=4", "value.kind=none", "save_every=1",
            "reward.missing_eos_penalty=null"]  # the untrained model rarely ends: the penalty would give every response -1, so no gradient
    ppo_train = sys.modules["instructrl.ppo.train"]
    cfg = load_config(PPOConfig, None, [*args, f"output_dir={tmp_path / 'full'}"])
    assert ppo_train.batch_prompts(cfg, 0, 40)[:4] == [ppo_train.batch_prompts(cfg, 0, 40)[0]] * 4
    assert len(set(ppo_train.batch_prompts(cfg, 0, 40))) == 2  # 8 episodes = 2 prompts x 4
    seen = []
    real = ppo_train.compute_advantages

    def spy(c, ro, beta):
        real(c, ro, beta)
        seen.append((ro.advantages.clone(), ro.response_mask.clone(), [p.as_text() for p in ro.prompts]))

    ppo_train.compute_advantages = spy
    try:
        final = train(cfg)
    finally:
        ppo_train.compute_advantages = real
    adv, m, prompts = seen[0]
    assert prompts[:4] == [prompts[0]] * 4 and prompts[4] != prompts[0]
    per_episode = adv.sum(1) / m.sum(1)  # one advantage on every token of an episode
    assert torch.allclose(adv, per_episode[:, None] * m, atol=1e-5)
    assert not (tmp_path / "full" / "value").exists()
    log = rows(tmp_path / "full")
    assert [r["step"] for r in log] == [1, 2]
    assert all("ppo/value_loss" not in r and "ppo/explained_variance" not in r for r in log)
    assert all(math.isfinite(r["ppo/policy_loss"]) and math.isfinite(r["ppo/approx_kl"]) for r in log)
    from instructrl.models import build_tiny

    init = build_tiny("tiny")[0].state_dict()
    w = load_file(final / "model.safetensors")
    assert any(not torch.equal(w[k], init[k]) for k in w)
    # resume: stop after iteration 1's checkpoint (a run of 1 iteration's checkpoint), then finish
    import shutil

    killed = tmp_path / "killed"
    shutil.copytree(tmp_path / "full", killed)
    shutil.rmtree(killed / "final")
    shutil.rmtree(killed / "checkpoints" / "step-2", ignore_errors=True)
    cfg2 = load_config(PPOConfig, None, [*args, f"output_dir={killed}"])
    capsys.readouterr()
    resumed = train(cfg2)
    assert "resumed from" in capsys.readouterr().out
    w2 = load_file(resumed / "model.safetensors")
    for k in w:
        torch.testing.assert_close(w2[k], w[k], rtol=0, atol=1e-6)


def test_rloo_warns_when_every_advantage_is_zero(tmp_path, capsys):
    """An untrained model never ends within 8 tokens: with the missing-EOS penalty every
    response scores -1, each group's returns are equal at the first iteration, nothing trains,
    and the run says why (once)."""
    cfg = load_config(PPOConfig, None, [*BASE, f"output_dir={tmp_path / 'run'}", "episodes=16", "batch_size=8", "ppo.advantage=rloo",
                                         "ppo.group_size=4", "value.kind=none", "kl.coef=0"])
    final = train(cfg)
    out = capsys.readouterr().out
    assert out.count("every advantage is 0") == 1 and "never emitted EOS" in out and "iteration 1" in out
    from instructrl.models import build_tiny

    init = build_tiny("tiny")[0].state_dict()
    w = load_file(final / "model.safetensors")
    assert all(torch.equal(w[k], init[k]) for k in w)  # the warning told the truth
