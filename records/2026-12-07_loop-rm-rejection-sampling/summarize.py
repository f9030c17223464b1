"""Each round's RM as a reranker (rejection sampling) beside the oracle and the PPO policy,
from the evaluations in s<seed>/eval-round-<k>.json. usage: python summarize.py"""
import json
from pathlib import Path

here = Path(__file__).parent
f = lambda w: f"{w['win_rate']:.3f} ({w['ci_low']:.3f}-{w['ci_high']:.3f})"
print("| seed | round | RM's pick of SFT's answer + 16 samples vs SFT | SFT's answer kept | PPO policy vs SFT | oracle (grader's pick) vs SFT |")
print("|---|---|---|---|---|---|")
for s in sorted(here.glob("s[0-9]")):
    oracle = None
    for k in (1, 2):
        e = json.loads((s / f"eval-round-{k}.json").read_text())
        oracle = e.get("reference", {}).get("best_of") or oracle
        b = e["rm_best_of"]
        print(f"| {s.name[1:]} | {k} | {f(b['win_rate'])} | {b['greedy_share']:.3f} | {f(e['policies']['ppo']['win_rate'])} | {f(oracle)} |")
