"""The default preset's 128-wide base (records/2026-12-06_loop-corpus-reading/read*) against a
192-wide one (w-s*, this folder), same seeds. Usage: python summarize.py (from anywhere)."""
import json
from pathlib import Path

HERE = Path(__file__).parent
REF = HERE.parent / "2026-12-06_loop-corpus-reading"
KEYS = ("likert", "fails_to_follow", "constraint_satisfied", "hallucination")


def ev(run: Path, k: int) -> dict:
    return json.loads((run / f"eval-round-{k}.json").read_text())["policies"]


print("| seed | base | SFT Likert / fails / constraints / hallucination | round 1 win | round 2 win (95% CI) | round 2 Likert / fails / constraints / hallucination | RM fresh-pair accuracy r1 / r2 | min |")
print("|---|---|---|---|---|---|---|---|")
for s in range(3):
    for name, run in (("hidden 128 (preset)", REF / f"read{s}"), ("hidden 192", HERE / f"w-s{s}")):
        if not (run / "eval-round-2.json").exists():
            continue
        e1, e2 = ev(run, 1), ev(run, 2)
        sft, w = e1["sft"], e2["ppo"]["win_rate"]
        mins = sum(json.loads((run / "timings.json").read_text()).values()) / 60
        print(f"| {s} | {name} | " + " / ".join(f"{sft[k]:.3f}" for k in KEYS)
              + f" | {e1['ppo']['win_rate']['win_rate']:.3f} | {w['win_rate']:.3f} ({w['ci_low']:.3f}-{w['ci_high']:.3f}) | "
              + " / ".join(f"{e2['ppo'][k]:.3f}" for k in KEYS)
              + f" | {e1['ppo']['rm_accuracy']:.3f} / {e2['ppo']['rm_accuracy']:.3f} | {mins:.1f} |")

print()
print("Round 2 against round 1, head to head by the held-out panel (win_rate_vs_previous in eval-round-2.json, added by")
print("rerunning round-2/eval with the code that measures it; every other number in those files is unchanged):")
for s in range(3):
    h = ev(HERE / f"w-s{s}", 2)["ppo"]["win_rate_vs_previous"]
    print(f"hidden 192, seed {s}: {h['win_rate']:.3f} ({h['ci_low']:.3f}-{h['ci_high']:.3f}); {h['wins']}/{h['ties']}/{h['losses']}")
