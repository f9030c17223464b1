"""One row per loop run: round-1/2 win rates vs SFT, round 2 vs round 1, and the metadata rates.
usage: summarize.py LABEL=<runs_dir>/default ..."""
import json, sys
from pathlib import Path

def wr(w):
    return f"{w['win_rate']:.3f} ({w['ci_low']:.3f}-{w['ci_high']:.3f})"

print("| run | SFT Likert / constraints / halluc. | round 1 win | round 2 win | round 2 vs 1 | r1 / r2 KL | r1 / r2 RM acc. fresh | r2 constraints / halluc. | stage min |")
print("|---|---|---|---|---|---|---|---|---|")
for arg in sys.argv[1:]:
    label, run = arg.split("=", 1)
    run = Path(run)
    e = [json.loads((run / f"round-{k}" / "eval" / "eval.json").read_text())["policies"] for k in (1, 2)]
    sft, p1, p2 = e[0]["sft"], e[0]["ppo"], e[1]["ppo"]
    t = sum(json.loads((run / "timings.json").read_text()).values()) / 60
    print(f"| {label} | {sft['likert']:.2f} / {sft['constraint_satisfied']:.3f} / {sft['hallucination']:.3f} | {wr(p1['win_rate'])} | {wr(p2['win_rate'])} | "
          f"{wr(p2['win_rate_vs_previous'])} | {p1['kl_to_sft']:.2f} / {p2['kl_to_sft']:.2f} | {p1['rm_accuracy']:.3f} / {p2['rm_accuracy']:.3f} | "
          f"{p2['constraint_satisfied']:.3f} / {p2['hallucination']:.3f} | {t:.1f} |")
