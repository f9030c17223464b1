"""Compare round 1 of smolS0 (PPO-ptx on the generated corpus) with the rerun on the base's own
samples (data.ptx_text=self): win rates paired by prompt, constraints, and both policies' held-out
loss on both texts (relative to SFT). Prints; run from /work/main with its .venv."""
import json, math, sys
from pathlib import Path
import torch
torch.set_num_threads(2)
from instructrl.data.sources import load_texts
from instructrl.loop.evaluate import heldout_loss

S = Path("/work/bench/smolS0/smollm2"); R = Path("/work/bench/selftext/run/smollm2")
ev = {n: json.loads((d / "round-1/eval/eval.json").read_text())["policies"] for n, d in (("generated", S), ("self", R))}
rows = {n: {json.loads(l)["prompt_id"]: json.loads(l)["score_a"] for l in open(d / "round-1/eval/winrate-ppo.jsonl")} for n, d in (("generated", S), ("self", R))}
ids = sorted(rows["generated"])
diff = [rows["self"][i] - rows["generated"][i] for i in ids]
m = sum(diff) / len(diff); se = (sum((x - m) ** 2 for x in diff) / (len(diff) - 1) / len(diff)) ** 0.5
print("ptx text   win vs SFT (95%)          W/T/L         likert  fails  constraints  halluc  KL")
for n in ("generated", "self"):
    p = ev[n]["ppo"]; w = p["win_rate"]
    sc = list(rows[n].values())
    print(f"{n:9s}  {w['win_rate']:.3f} ({w['ci_low']:.3f}-{w['ci_high']:.3f})  {sum(x > .5 for x in sc)}/{sum(x == .5 for x in sc)}/{sum(x < .5 for x in sc)}  "
          f"{p['likert']:.3f}  {p['fails_to_follow']:.3f}  {p['constraint_satisfied']:.3f}  {p['hallucination']:.3f}  {p['kl_to_sft']:.2f}")
s = ev["generated"]["sft"]
print(f"SFT        -                                     {s['likert']:.3f}  {s['fails_to_follow']:.3f}  {s['constraint_satisfied']:.3f}  {s['hallucination']:.3f}")
print(f"self - generated, paired by prompt: {m:+.3f} +- {se:.3f} (se, {len(diff)} prompts)")
print("\nconstraints met by type (n, SFT / generated / self):")
for c, (n, v) in sorted(s["by_spec"]["constraint_met"].items()):
    print(f"  {c:16s} {int(n):3d}  {v:.2f} / {ev['generated']['ppo']['by_spec']['constraint_met'][c][1]:.2f} / {ev['self']['ppo']['by_spec']['constraint_met'][c][1]:.2f}")
texts = {"generated corpus (data/heldout.txt)": ([t for t in (S / "data/heldout.txt").read_text().split("\n\n") if t.strip()], True),
         "base's own samples (ptx-text/heldout.jsonl)": (load_texts(str(R / "ptx-text/heldout.jsonl")), False)}
pols = {"SFT": S / "round-0/sft/final", "base (smollm2-135m)": "smollm2-135m", "PPO-ptx generated": S / "round-1/ppo/final", "PPO-ptx self": R / "round-1/ppo/final"}
print("\nheld-out loss (nats/token; vs SFT):")
for tn, (tx, eos) in texts.items():
    base = None
    for pn, path in pols.items():
        v = heldout_loss(path, tx, append_eos=eos)
        base = v if base is None else base
        print(f"  {tn:45s} {pn:18s} {v:.4f} ({v / base - 1:+.1%})")
