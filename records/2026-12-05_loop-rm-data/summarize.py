"""Per-seed table of the six loop runs in this folder (baseline preset loopA*, new preset
loopN*) and the mean paired differences. Usage: python summarize.py (from this folder)."""
import json
import statistics
from pathlib import Path

HERE = Path(__file__).parent


def row(run: str, k: int) -> dict:
    ev = json.loads((HERE / run / f"eval-round-{k}.json").read_text())["policies"]
    p, s = ev["ppo"], ev["sft"]
    return {"win": p["win_rate"]["win_rate"], "lo": p["win_rate"]["ci_low"], "hi": p["win_rate"]["ci_high"],
            "likert": p["likert"], "sft_likert": s["likert"], "cons": p["constraint_satisfied"],
            "sft_cons": s["constraint_satisfied"], "hall": p["hallucination"], "sft_hall": s["hallucination"],
            "fail": p["fails_to_follow"], "sft_fail": s["fails_to_follow"], "kl": p["kl_to_sft"]}


print("| seed | preset | SFT Likert / constraints / hallucination | round 1 win (95% CI) | round 2 win (95% CI) | round 2 Likert / fails / constraints / hallucination | KL r1 / r2 |")
print("|---|---|---|---|---|---|---|")
diffs = {1: [], 2: []}
for seed, suffix in ((0, ""), (1, "1"), (2, "2")):
    wins = {}
    for name, run in (("shipped", f"loopA{suffix}"), ("new", f"loopN{suffix}")):
        r1, r2 = row(run, 1), row(run, 2)
        wins[name] = (r1["win"], r2["win"])
        print(f"| {seed} | {name} | {r2['sft_likert']:.2f} / {r2['sft_cons']:.3f} / {r2['sft_hall']:.3f} "
              f"| {r1['win']:.3f} ({r1['lo']:.3f}-{r1['hi']:.3f}) | {r2['win']:.3f} ({r2['lo']:.3f}-{r2['hi']:.3f}) "
              f"| {r2['likert']:.2f} / {r2['fail']:.3f} / {r2['cons']:.3f} / {r2['hall']:.3f} | {r1['kl']:.1f} / {r2['kl']:.1f} |")
    for k in (1, 2):
        diffs[k].append(wins["new"][k - 1] - wins["shipped"][k - 1])
for k in (1, 2):
    d = diffs[k]
    print(f"round {k}: new - shipped win rate per seed {', '.join(f'{x:+.3f}' for x in d)}; "
          f"mean {statistics.mean(d):+.3f} +- {statistics.stdev(d) / len(d) ** 0.5:.3f} (se between seeds)")
for name, pre in (("shipped", "loopA"), ("new", "loopN")):
    w = [row(f"{pre}{s}", 2)["win"] for s in ("", "1", "2")]
    print(f"{name}: round-2 win rate mean {statistics.mean(w):.3f} over seeds 0-2")
