"""Prints summary.txt from the three default runs (s0-s2) and the headroom script's outputs (headroom-*.json)."""
import json
from pathlib import Path

here = Path(__file__).parent
fmt = lambda w: f"{w['win_rate']:.3f} ({w['ci_low']:.3f}-{w['ci_high']:.3f})"
print("| seed | round 1 win | round 2 win | demonstrator vs SFT | oracle best of greedy + 16 vs SFT | prompts | stage min |")
print("|---|---|---|---|---|---|---|")
for s in (0, 1, 2):
    d = here / f"s{s}"
    e1, e2 = (json.loads((d / f"eval-round-{k}.json").read_text()) for k in (1, 2))
    ref = e1["reference"]
    t = json.loads((d / "timings.json").read_text())
    print(f"| {s} | {fmt(e1['policies']['ppo']['win_rate'])} | {fmt(e2['policies']['ppo']['win_rate'])} | {fmt(ref['demonstrator'])} | "
          f"{fmt(ref['best_of'])} | {ref['n_prompts']} | {sum(t.values()) / 60:.1f} |")
print()
for f in sorted(here.glob("headroom-*.json")):
    print(f.stem)
    for name, r in json.loads(f.read_text()).items():
        print(f"  {name:28s} win {r['win_rate']:.3f} ({r['ci'][0]:.3f}-{r['ci'][1]:.3f}) W/T/L {r['wins']}/{r['ties']}/{r['losses']} gold {r['gold']:.3f}")
