"""The shipped default preset rerun (p-s*, this folder) with the head-to-head measurement, against
its earlier runs in records/2026-12-06_loop-corpus-reading (read*). Usage: python summarize.py."""
import json
from pathlib import Path

HERE = Path(__file__).parent
REF = HERE.parent / "2026-12-06_loop-corpus-reading"
KEYS = ("likert", "fails_to_follow", "constraint_satisfied", "hallucination", "kl_to_sft", "heldout_ptx_loss")


def ev(run: Path, k: int) -> dict:
    return json.loads((run / f"eval-round-{k}.json").read_text())["policies"]


def same_numbers(a: dict, b: dict) -> bool:
    """Every number both evaluations hold agrees (the earlier files predate some fields)."""
    return a.keys() == b.keys() and all(a[n][k] == b[n][k] for n in a for k in a[n].keys() & b[n].keys())


print("| seed | round 1 win | round 2 win (95% CI) | round 2 vs round 1, head to head (95% CI; W/T/L) | same eval numbers as read<seed> | min |")
print("|---|---|---|---|---|---|")
for s in range(3):
    run = HERE / f"p-s{s}"
    if not (run / "eval-round-2.json").exists():
        continue
    e1, e2 = ev(run, 1), ev(run, 2)
    w, h = e2["ppo"]["win_rate"], e2["ppo"]["win_rate_vs_previous"]
    same = same_numbers(e1, ev(REF / f"read{s}", 1)) and same_numbers(e2, ev(REF / f"read{s}", 2))
    mins = sum(json.loads((run / "timings.json").read_text()).values()) / 60
    print(f"| {s} | {e1['ppo']['win_rate']['win_rate']:.3f} | {w['win_rate']:.3f} ({w['ci_low']:.3f}-{w['ci_high']:.3f}) | "
          f"{h['win_rate']:.3f} ({h['ci_low']:.3f}-{h['ci_high']:.3f}; {h['wins']}/{h['ties']}/{h['losses']}) | {same} | {mins:.1f} |")
