"""`instructrl rm` end to end on tiny: CLI, checkpoint format, normalisation, resume, ablation."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from instructrl.config import load_config
from instructrl.data.io import read_jsonl
from instructrl.reward import RewardConfig, load_reward_model, score, train
from instructrl.reward.normalize import normalization_constants

from .conftest import write_rankings

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
TINY = "model.name=tiny:hidden=32,layers=2,heads=4,kv_heads=2,ffn=64"
BASE = ["--progress", "false", "--tensorboard", "false", "optim.lr=1e-3", "batch_size=8", "micro_batch_size=4", TINY]


def test_normalization_constants_by_hand():
    assert normalization_constants([1.0, 2.0, 6.0], "bias") == (1.0, -3.0)
    gain, bias = normalization_constants([1.0, 3.0], "gain_bias")  # mean 2, std 1
    assert (gain, bias) == (1.0, -2.0)
    gain, bias = normalization_constants([0.0, 4.0], "gain_bias", target_mean=1.0, target_std=0.5)  # mean 2, std 2
    assert [gain * x + bias for x in (0.0, 4.0)] == [0.5, 1.5]
    assert normalization_constants([5.0], "none") == (1.0, 0.0)
    with pytest.raises(ValueError, match="zero spread"):
        normalization_constants([2.0, 2.0], "gain_bias")
    with pytest.raises(ValueError, match="at least one"):
        normalization_constants([], "bias")


def test_cli_trains_and_checkpoint_loads_as_rm_value_and_plain_hf(tmp_path):
    data = write_rankings(tmp_path / "r.jsonl", n=60, k=0)  # K = 2..9
    run = tmp_path / "run"
    out = subprocess.run(
        [sys.executable, "-m", "instructrl.cli", "rm", f"data.train={data}", f"output_dir={run}", "max_steps=4", "eval_every=2", "data.valid_fraction=0.3", *BASE],
        env=ENV, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"checkpoint: {run / 'final'}" in out.stdout
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(torch.isfinite(torch.tensor(r["rm/loss"])) for r in rows) and "rm/valid_accuracy" in rows[1]
    ev = json.loads((run / "eval.json").read_text())
    assert {"rm/valid_accuracy", "rm/valid_margin", "rm/valid_log_loss", "rm/valid_accuracy_cat/generation"} <= set(ev)
    assert any(k.startswith("rm/valid_accuracy_k") for k in ev) and 0.0 <= ev["rm/valid_accuracy"] <= 1.0
    assert (run / "calibration.png").stat().st_size > 1000
    # HF format: plain transformers, SequenceClassification with one label and the normalisation keys
    from transformers import AutoModelForSequenceClassification

    cfg = json.loads((run / "final" / "config.json").read_text())
    assert cfg["architectures"] == ["LlamaForSequenceClassification"] and len(cfg["id2label"]) == 1 and cfg["problem_type"] == "regression"
    assert cfg["instructrl_reward_gain"] == 1.0 and cfg["instructrl_reward_bias"] != 0.0
    hf = AutoModelForSequenceClassification.from_pretrained(run / "final")
    assert hf.score.weight.shape[0] == 1
    from instructrl.models.heads import load_scalar_model

    value, _ = load_scalar_model(str(run / "final"), head_init="zeros")  # PPO's value init: the RM as is
    torch.testing.assert_close(value.score.weight, hf.score.weight)


def test_normalisation_gives_mean_zero_on_demonstrations(tmp_path):
    data = write_rankings(tmp_path / "r.jsonl", n=40)
    demos = tmp_path / "demos.jsonl"
    demos.write_text("".join(json.dumps({"prompt": f"Say stone three times. ({i})", "response": "stone " * (i % 3 + 1)}) + "\n" for i in range(12)))
    cfg = load_config(RewardConfig, None, [f"data.train={data}", f"output_dir={tmp_path / 'run'}", "max_steps=2", f"normalize.demonstrations={demos}", *BASE])
    final = train(cfg)
    rm = load_reward_model(str(tmp_path / "run"))  # a run directory resolves to its final checkpoint
    d = read_jsonl(demos, "demonstration").records
    s = score(rm, [x.prompt for x in d], [x.response for x in d])
    assert sum(s) / len(s) == pytest.approx(0.0, abs=1e-4)
    norm = json.loads((final / "normalization.json").read_text())
    assert norm["n"] == 12 and norm["bias"] == pytest.approx(-norm["raw_mean"]) and abs(norm["bias"]) > 1e-3
    # gain_bias on the fallback set (top-ranked training responses): mean 0, std 1
    cfg2 = load_config(RewardConfig, None, [f"data.train={data}", f"output_dir={tmp_path / 'run2'}", "max_steps=1", "normalize.mode=gain_bias", "data.valid_fraction=0", *BASE])
    train(cfg2)
    rm2 = load_reward_model(str(tmp_path / "run2" / "final"))
    top = [(r.prompt, r.responses[i]) for r in read_jsonl(data, "ranking").records for i in range(r.k) if r.ranks[i] == 1]
    s2 = torch.tensor(score(rm2, [p for p, _ in top], [x for _, x in top]))
    assert s2.mean().item() == pytest.approx(0.0, abs=1e-4) and s2.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-4)


def test_resume_matches_uninterrupted_and_weights_change(tmp_path):
    data = write_rankings(tmp_path / "r.jsonl", n=40)
    args = [f"data.train={data}", "max_steps=4", "save_every=2", "normalize.mode=none", *BASE]
    full = train(load_config(RewardConfig, None, [f"output_dir={tmp_path / 'full'}", *args]))
    run = tmp_path / "resumed"
    train(load_config(RewardConfig, None, [f"output_dir={run}", *args]))
    shutil.rmtree(run / "final")  # as if killed after the step-2 checkpoint: steps 3-4 are redone
    assert (run / "checkpoints" / "step-2" / "COMPLETE").exists()
    train(load_config(RewardConfig, None, [f"output_dir={run}", *args]))
    a, b = load_file(full / "model.safetensors"), load_file(run / "final" / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    init = load_file(run / "checkpoints" / "step-2" / "model.safetensors")
    assert not torch.equal(a["score.weight"], init["score.weight"])  # training moved the head
    steps = [json.loads(l)["step"] for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def test_shuffled_pairs_ablation_trains_on_pairs(tmp_path, capsys):
    data = write_rankings(tmp_path / "r.jsonl", n=20, k=4)
    cfg = load_config(RewardConfig, None, [f"data.train={data}", f"output_dir={tmp_path / 'run'}", "max_steps=1", "loss=shuffled_pairs", "data.valid_fraction=0", *BASE])
    train(cfg)
    n_pairs = sum(len(r.pairs()) for r in read_jsonl(data, "ranking").records)
    assert f"20 training rankings -> {n_pairs} examples (shuffled_pairs)" in capsys.readouterr().out
    with pytest.raises(ValueError, match="'loss': 'pairs' is not one of"):
        load_config(RewardConfig, None, ["loss=pairs"])


def test_bad_input_is_a_clear_cli_error(tmp_path, capsys):
    from instructrl.cli import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "p", "responses": ["a", "b", "c"], "ranks": [1, 2, 7]}) + "\n")
    assert main(["rm", f"data.train={bad}", f"output_dir={tmp_path / 'r'}", *BASE]) == 2
    assert f"instructrl rm: error: {bad}:1: field 'ranks[2]': rank must be an integer in 1..3, got 7" in capsys.readouterr().err
    long = tmp_path / "long.jsonl"
    long.write_text(json.dumps({"prompt": "p", "chosen": "word " * 100, "rejected": "no"}) + "\n")
    assert main(["rm", f"data.train={long}", f"output_dir={tmp_path / 'r2'}", "data.max_seq_len=32", *BASE]) == 2
    assert f"{long}:1: field 'responses': prompt (" in capsys.readouterr().err
    assert main(["rm", "batch_size=0"]) == 2
    assert "batch_size and micro_batch_size must be >= 1, got 0, 8" in capsys.readouterr().err


def test_two_processes_match_one(tmp_path):
    """The loss is a mean over the global batch of prompts, whatever the process split."""
    data = write_rankings(tmp_path / "r.jsonl", n=48, k=0)
    args = [f"data.train={data}", "max_steps=3", "batch_size=8", "data.valid_fraction=0.3", "--progress", "false", "--tensorboard", "false", "optim.lr=1e-3", TINY]
    one = subprocess.run([sys.executable, "-m", "instructrl.cli", "rm", f"output_dir={tmp_path / 'one'}", "micro_batch_size=8", *args], env=ENV, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "instructrl.cli"]
    two = subprocess.run([*launch, "rm", f"output_dir={tmp_path / 'two'}", "micro_batch_size=2", *args], env=ENV, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    m1 = [json.loads(l) for l in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    m2 = [json.loads(l) for l in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    for a, b in zip(m1, m2):
        assert a["rm/loss"] == pytest.approx(b["rm/loss"], rel=1e-5) and a["rm/comparisons"] == b["rm/comparisons"]
    e1, e2 = (json.loads((tmp_path / d / "eval.json").read_text()) for d in ("one", "two"))
    assert e1["rm/valid_n_pairs"] == e2["rm/valid_n_pairs"] and e1["rm/valid_log_loss"] == pytest.approx(e2["rm/valid_log_loss"], rel=1e-5)
    a, b = load_file(tmp_path / "one" / "final" / "model.safetensors"), load_file(tmp_path / "two" / "final" / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


def test_a_changed_command_is_refused_in_a_finished_run_and_resume_false_retrains(tmp_path):
    data = write_rankings(tmp_path / "r.jsonl", n=20)
    run = tmp_path / "run"
    args = [f"data.train={data}", f"output_dir={run}", "max_steps=2", "normalize.mode=none", "data.valid_fraction=0", *BASE]
    train(load_config(RewardConfig, None, args))
    first = load_file(run / "final" / "model.safetensors")
    with pytest.raises(ValueError, match=r"finished run .*optim\.lr: 0\.001 -> 0\.01"):
        train(load_config(RewardConfig, None, [*args, "optim.lr=1e-2"]))
    (run / "checkpoints" / "step-99").mkdir(parents=True)  # a stale checkpoint numbered past the new run's
    (run / "checkpoints" / "step-99" / "COMPLETE").write_text("")
    train(load_config(RewardConfig, None, [*args, "optim.lr=1e-2", "resume=false"]))
    again = load_file(run / "final" / "model.safetensors")
    assert not torch.equal(first["score.weight"], again["score.weight"])  # trained anew, at the new lr
    assert not (run / "checkpoints" / "step-99").exists()
    train(load_config(RewardConfig, None, [*args, "optim.lr=1e-2", "threads=1"]))  # the new run is now the one there


def test_a_run_killed_midway_resumes_after_its_folder_moved(tmp_path, capsys):
    """A loop's run directory moved elsewhere (its inputs with it) resumes its half-done
    stage: paths at the same place relative to the run count as the same settings."""
    def args(root):
        return [f"data.train={root / 'r.jsonl'}", f"output_dir={root / 'run'}", "max_steps=3", "save_every=1",
                "normalize.mode=none", "data.valid_fraction=0", *BASE]

    old, new = tmp_path / "a", tmp_path / "b"
    old.mkdir()
    write_rankings(old / "r.jsonl", n=30)
    train(load_config(RewardConfig, None, args(old)))
    done = load_file(old / "run" / "final" / "model.safetensors")
    shutil.rmtree(old / "run" / "final")  # killed after its step-1 checkpoint
    shutil.rmtree(old / "run" / "checkpoints" / "step-2")
    old.rename(new)
    capsys.readouterr()
    train(load_config(RewardConfig, None, args(new)))
    assert "(step 1)" in capsys.readouterr().out
    torch.testing.assert_close(load_file(new / "run" / "final" / "model.safetensors"), done)
    shutil.rmtree(new / "run" / "final")
    shutil.copy(new / "r.jsonl", new / "other.jsonl")
    with pytest.raises(ValueError, match=r"data\.train: .*b/r\.jsonl' -> .*b/other\.jsonl'"):  # another input is still a change
        train(load_config(RewardConfig, None, [*args(new), f"data.train={new / 'other.jsonl'}"]))
