"""SFT end to end on `tiny`: CLI, weights change, resume equivalence, 2 processes, bad input."""

import json
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
from instructrl.sft import SFTConfig, train

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
BASE = ["--progress", "false", "--tensorboard", "false", "optim.lr=1e-3", "batch_size=4", "micro_batch_size=2", "model.dropout=0.1"]


def cli(*args, check=True, **kw):
    out = subprocess.run([sys.executable, "-m", "instructrl.cli", *args], env=ENV, capture_output=True, text=True, timeout=300, **kw)
    if check and out.returncode != 0:
        raise AssertionError(out.stderr[-3000:])
    return out


def weights(d: Path) -> dict[str, torch.Tensor]:
    return load_file(d / "model.safetensors")


def test_cli_trains_tiny_and_checkpoint_loads_in_transformers(tmp_path, demos_file):
    run = tmp_path / "run"
    out = cli("sft", f"data.train={demos_file}", f"output_dir={run}", "max_steps=6", "eval_every=3", *BASE)
    assert f"checkpoint: {run / 'final'}" in out.stdout
    from instructrl.models import build_tiny
    from transformers import AutoModelForCausalLM, AutoTokenizer

    init = build_tiny("tiny")[0].state_dict()
    final = weights(run / "final")
    assert any(not torch.equal(final[k], init[k]) for k in final)  # weights changed
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 7))
    assert all(torch.isfinite(torch.tensor(r["sft/loss"])) for r in rows)
    assert "sft/valid_loss" in rows[2] and "sft/valid_loss" in rows[5]
    m = AutoModelForCausalLM.from_pretrained(run / "final")  # plain transformers
    tok = AutoTokenizer.from_pretrained(run / "final")
    assert tok.pad_token_id != tok.eos_token_id
    assert m(torch.tensor([[5, 6]])).logits.shape[-1] >= len(tok)
    prov = json.loads((run / "final" / "provenance.json").read_text())
    assert "git_sha" in prov and prov["versions"]["torch"]
    assert (run / "final" / "config.yaml").exists() and not (run / "tb").exists()


def test_cli_fine_tunes_a_hub_id(tmp_path, demos_file, hub_cache):
    """`model.name=<hub id>` as a user would give it, resolved here from a hub cache
    (HF_HUB_OFFLINE=1): it trains from those weights and its run records the id."""
    from instructrl.models import build_tiny

    lm, tok = build_tiny("tiny:seed=5")
    hub_cache(lm, tok, "instructrl-test/tiny-lm")
    run = tmp_path / "run"
    out = subprocess.run([sys.executable, "-m", "instructrl.cli", "sft", "model.name=instructrl-test/tiny-lm", f"data.train={demos_file}",
                          f"output_dir={run}", "max_steps=2", "eval_every=2", *BASE],
                         env={**ENV, "HF_HUB_CACHE": str(tmp_path / "hub")}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    final, init = weights(run / "final"), lm.state_dict()
    assert any(not torch.equal(final[k], init[k]) for k in final)  # trained
    # from the hub weights, not a fresh tiny model: two small steps stay near them
    assert all((final[k] - init[k]).abs().max() < 0.05 for k in final)
    assert "instructrl-test/tiny-lm" in (run / "config.yaml").read_text()


def test_resume_after_kill_matches_uninterrupted(tmp_path, demos_file):
    args = [f"data.train={demos_file}", "max_steps=8", "save_every=2", "eval_every=4", *BASE]
    cli("sft", f"output_dir={tmp_path / 'full'}", *args)
    run = tmp_path / "killed"
    p = subprocess.Popen([sys.executable, "-m", "instructrl.cli", "sft", f"output_dir={run}", *args], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not (run / "checkpoints" / "step-4" / "COMPLETE").exists():
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert (run / "checkpoints" / "step-4" / "COMPLETE").exists(), "the run never reached its step-4 checkpoint"
    assert not (run / "final").exists()
    out = cli("sft", f"output_dir={run}", *args)
    assert "resumed from" in out.stdout
    a, b = weights(tmp_path / "full" / "final"), weights(run / "final")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    steps = [json.loads(l)["step"] for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))  # no duplicated or missing steps


def test_two_processes_match_one(tmp_path, demos_file):
    args = [f"data.train={demos_file}", "max_steps=3", "eval_every=3", "batch_size=8", "--progress", "false", "--tensorboard", "false", "optim.lr=1e-3"]
    cli("sft", f"output_dir={tmp_path / 'one'}", "micro_batch_size=8", *args)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "instructrl.cli"]
    out = subprocess.run([*launch, "sft", f"output_dir={tmp_path / 'two'}", "micro_batch_size=2", *args], env=ENV, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    one = [json.loads(l) for l in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    two = [json.loads(l) for l in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    for r1, r2 in zip(one, two):
        assert r1["sft/loss"] == pytest.approx(r2["sft/loss"], rel=1e-5)
    a, b = weights(tmp_path / "one" / "final"), weights(tmp_path / "two" / "final")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


def test_bad_input_gives_clear_errors(tmp_path, demos_file):
    bad = tmp_path / "bad.jsonl"
    lines = demos_file.read_text().splitlines()
    lines.insert(3, '{"prompt": {"id": "x", "text": "hi"}, "response": ""}')
    bad.write_text("\n".join(lines) + "\n")
    out = cli("sft", f"data.train={bad}", f"output_dir={tmp_path / 'r'}", "max_steps=1", check=False)
    assert out.returncode == 2
    assert f"{bad}:4: field 'response': must not be empty" in out.stderr
    assert "Traceback" not in out.stderr
    long = tmp_path / "long.jsonl"
    long.write_text(json.dumps({"prompt": "hi", "response": "word " * 200}) + "\n")
    out = cli("sft", f"data.train={long}", f"output_dir={tmp_path / 'r2'}", "data.max_seq_len=64", "max_steps=1", check=False)
    assert out.returncode == 2 and f"{long}:1: field 'response'" in out.stderr and "over max_seq_len=64" in out.stderr
    out = cli("sft", "batch_size=0", check=False)
    assert out.returncode == 2 and "batch_size" in out.stderr
    # skip_bad: proceeds and counts
    out = cli("sft", f"data.train={bad}", f"output_dir={tmp_path / 'r3'}", "max_steps=1", "data.skip_bad=true", *BASE)
    assert "1 skipped" in out.stdout


def test_pretrain_mix_and_score_hook(tmp_path, demos_file):
    texts = tmp_path / "pre.txt"
    texts.write_text("\n\n".join(f"document {i} is about rivers and stones." for i in range(50)))
    calls = []

    def score(model, tok):
        calls.append(1)
        return float(len(calls))  # later is better: the last evaluation must be selected

    cfg = load_config(SFTConfig, None, [f"data.train={demos_file}", f"data.pretrain={texts}", "data.pretrain_fraction=0.2", f"output_dir={tmp_path / 'r'}", "max_steps=4", "eval_every=2", "select_by=score", *BASE])
    final = train(cfg, score_fn=score)
    assert len(calls) == 2
    assert json.loads((final / "COMPLETE").read_text())["selected_step"] == 4
