"""Held-out loss on the base model's own samples (run A's ptx-text/heldout.jsonl, no EOS appended)
of both runs' SFT and round-2 policies and the base: the alignment tax where SmolLM2's own
distribution is. python tax.py RUN_A RUN_B"""
import sys
from pathlib import Path
import torch
torch.set_num_threads(2)
from instructrl.data.sources import load_texts
from instructrl.loop.evaluate import heldout_loss

A, B = Path(sys.argv[1]), Path(sys.argv[2])
texts = load_texts(str(A / "ptx-text/heldout.jsonl"))
print(f"{len(texts)} held-out samples of the base (A/ptx-text/heldout.jsonl), nats/token, no EOS appended")
for name, sft, ppo in (("A", A / "round-0/sft/final", A / "round-2/ppo/final"), ("B", B / "round-0/sft/final", B / "round-2/ppo/final")):
    s = heldout_loss(sft, texts, append_eos=False); p = heldout_loss(ppo, texts, append_eos=False)
    print(f"  {name}: SFT {s:.4f}  round 2 {p:.4f} ({p / s - 1:+.1%} vs its SFT)")
b = heldout_loss("smollm2-135m", texts, append_eos=False)
print(f"  base smollm2-135m {b:.4f}")
