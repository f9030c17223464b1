"""Alignment tax: how much fine-tuning costs on plain language modelling and public NLP
tasks [P §4.2, App D].

- ``perplexity``: token-level perplexity on held-out text (a text file, one document per
  blank-line-separated block, or JSONL with a ``text`` field), exp(sum NLL / n tokens).
  Compare checkpoints on the *same* text and tokenizer; perplexities across tokenizers
  are not comparable.
- ``lm_eval_command`` / ``run_lm_eval``: hand a checkpoint directory to
  lm-evaluation-harness (``lm_eval`` CLI, installed by the user) for tasks such as
  ``hellaswag``, ``squadv2``, ``drop``; its JSON results are folded into our report.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any, Sequence


def load_texts(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"held-out text file not found: {path}")
    raw = path.read_text(encoding="utf-8")
    if path.suffix in (".jsonl", ".json"):
        texts = []
        for lineno, line in enumerate(raw.splitlines(), 1):
            if line.strip():
                row = json.loads(line)
                if not isinstance(row.get("text"), str):
                    raise ValueError(f"{path}:{lineno}: held-out row needs a 'text' string")
                texts.append(row["text"])
    else:
        texts = [b.strip() for b in raw.split("\n\n") if b.strip()]
    if not texts:
        raise ValueError(f"{path}: no text found")
    return texts


def perplexity_from_nll(nll_sum: float, n_tokens: int) -> float:
    """exp(total negative log-likelihood / number of predicted tokens)."""
    if n_tokens <= 0:
        raise ValueError(f"perplexity needs at least one predicted token, got n_tokens={n_tokens}")
    return math.exp(nll_sum / n_tokens)


def perplexity(model: Any, texts: Sequence[str], *, max_seq_len: int = 1024) -> dict[str, float]:
    """``model.nll(texts, max_seq_len) -> (sum NLL, n tokens)``; returns ppl and nats/token."""
    nll_sum, n = model.nll(list(texts), max_seq_len=max_seq_len)
    return {"perplexity": perplexity_from_nll(nll_sum, n), "nll_per_token": nll_sum / n, "n_tokens": float(n)}


def hf_nll(model: Any, tokenizer: Any, texts: Sequence[str], *, max_seq_len: int, batch_size: int = 8,
           append_eos: bool = True) -> tuple[float, int]:
    """Summed next-token NLL over ``texts`` cut into ``max_seq_len`` chunks (right padded),
    each text ended by EOS unless ``append_eos`` is false (text cut mid-document)."""
    import torch

    from instructrl.data.collate import pad_batch
    from instructrl.data.render import tokenize_text
    from instructrl.models import lm_loss_sum

    chunks = [ex for t in texts for ex in tokenize_text(tokenizer, t, max_seq_len, append_eos)]
    device = next(model.parameters()).device  # the batches go where the model is
    total, n = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for s in range(0, len(chunks), batch_size):
            b = pad_batch(chunks[s : s + batch_size], tokenizer.pad_token_id, side="right")  # real tokens keep positions 0..L-1
            loss, k = lm_loss_sum(model, b.input_ids.to(device), b.labels.to(device), b.attention_mask.to(device))
            total += float(loss)
            n += k
    model.train(was_training)
    return total, n


def lm_eval_command(
    checkpoint_dir: str, tasks: Sequence[str], output_path: str, *, lm_eval_bin: str = "lm_eval",
    batch_size: int = 8, device: str = "cpu", extra_args: Sequence[str] = (),
) -> list[str]:
    """The lm-evaluation-harness command line for one HF checkpoint directory."""
    if not tasks:
        raise ValueError("lm_eval_command needs at least one task")
    return [
        lm_eval_bin, "--model", "hf", "--model_args", f"pretrained={checkpoint_dir},dtype=float32",
        "--tasks", ",".join(tasks), "--batch_size", str(batch_size), "--device", device,
        "--output_path", output_path, *extra_args,
    ]


def parse_lm_eval_results(output_path: str | Path) -> dict[str, float]:
    """Flatten lm-eval's newest ``results*.json`` under ``output_path`` to ``task/metric``."""
    files = sorted(Path(output_path).rglob("results*.json"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise FileNotFoundError(f"no lm-eval results*.json under {output_path}")
    results = json.loads(files[-1].read_text())["results"]
    out = {}
    for task, metrics in results.items():
        for k, v in metrics.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and "stderr" not in k:
                out[f"{task}/{k.split(',')[0]}"] = float(v)
    return out


def run_lm_eval(checkpoint_dir: str, tasks: Sequence[str], output_path: str, **kw: Any) -> dict[str, float]:
    cmd = lm_eval_command(checkpoint_dir, tasks, output_path, **kw)
    if shutil.which(cmd[0]) is None:
        raise FileNotFoundError(
            f"{cmd[0]!r} not found: install lm-evaluation-harness (pip install lm-eval) in a separate "
            f"environment and set alignment_tax.lm_eval_bin to its lm_eval; command: {' '.join(cmd)}"
        )
    subprocess.run(cmd, check=True)
    return parse_lm_eval_results(output_path)
