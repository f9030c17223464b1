"""Round 1 of the default loop preset, PPO (the loop's own stage) against the reruns of that
stage with other settings: win rate vs SFT, KL, constraints, and where the PPO stage's
time went (sums of the per-iteration timings in metrics.jsonl).
usage: python summarize.py LABEL=ROUND_DIR [LABEL=ROUND_DIR ...]   (ROUND_DIR: <run>/round-1)"""
import json
import sys
from pathlib import Path

print("| run | win vs SFT (95% CI) | KL to SFT | constraints met | Likert | generation s | scoring s | training s |")
print("|---|---|---|---|---|---|---|---|")
for arg in sys.argv[1:]:
    label, d = arg.rsplit("=", 1)
    d = Path(d)
    p = json.loads((d / "eval" / "eval.json").read_text())["policies"]["ppo"]
    w = p["win_rate"]
    rows = [json.loads(l) for l in (d / "ppo" / "metrics.jsonl").read_text().splitlines()]
    t = {k: sum(r[f"time/{k}_s"] for r in rows) for k in ("generation", "scoring", "training")}
    print(f"| {label} | {w['win_rate']:.3f} ({w['ci_low']:.3f}-{w['ci_high']:.3f}) | {p['kl_to_sft']:.2f} | {p['constraint_satisfied']:.3f} | "
          f"{p['likert']:.3f} | {t['generation']:.1f} | {t['scoring']:.1f} | {t['training']:.1f} |")
