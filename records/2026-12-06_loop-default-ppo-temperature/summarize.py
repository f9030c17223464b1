"""Per-seed table: the default preset (PPO rollouts at T=1.0; records/2026-12-06_loop-corpus-reading/read*)
against the same preset with ppo.temperature=0.5 (t05-s*) and 0.3 (t03-s*, this folder).
Usage: python summarize.py (from anywhere)."""
import json
import statistics
from pathlib import Path

HERE = Path(__file__).parent
REF = HERE.parent / "2026-12-06_loop-corpus-reading"
RUNS = {"T=1.0 (preset)": [REF / f"read{s}" for s in range(3)],
        "T=0.5": [HERE / f"t05-s{s}" for s in range(3)],
        "T=0.3": [HERE / f"t03-s{s}" for s in range(3)]}
KEYS = (("likert", "Likert"), ("fails_to_follow", "fails"), ("constraint_satisfied", "constraints"), ("hallucination", "hallucination"))


def pol(run: Path, k: int, name: str) -> dict:
    return json.loads((run / f"eval-round-{k}.json").read_text())["policies"][name]


def minutes(run: Path) -> float:
    return sum(json.loads((run / "timings.json").read_text()).values()) / 60


RUNS = {n: r for n, r in RUNS.items() if all((x / "eval-round-2.json").exists() for x in r)}
print("| seed | PPO rollout T | round 1 win | round 2 win (95% CI) | SFT " + " / ".join(h for _, h in KEYS)
      + " | round 2 " + " / ".join(h for _, h in KEYS) + " | KL r1 / r2 | min |")
print("|---|---|---|---|---|---|---|---|")
table = {n: [] for n in RUNS}
for s in range(3):
    for n, runs in RUNS.items():
        r = runs[s]
        sft, p1, p2 = pol(r, 1, "sft"), pol(r, 1, "ppo"), pol(r, 2, "ppo")
        table[n].append((sft, p1, p2))
        w = p2["win_rate"]
        print(f"| {s} | {n} | {p1['win_rate']['win_rate']:.3f} | {w['win_rate']:.3f} ({w['ci_low']:.3f}-{w['ci_high']:.3f}) | "
              + " / ".join(f"{sft[k]:.3f}" for k, _ in KEYS) + " | " + " / ".join(f"{p2[k]:.3f}" for k, _ in KEYS)
              + f" | {p1['kl_to_sft']:.1f} / {p2['kl_to_sft']:.1f} | {minutes(r):.1f} |")
print()
win = lambda x, k: x[k]["win_rate"]["win_rate"]
for n, t in table.items():
    m = lambda f: statistics.mean(f(x) for x in t)
    print(f"{n}: mean round-1 win {m(lambda x: win(x, 1)):.3f}, round-2 win {m(lambda x: win(x, 2)):.3f}, "
          f"round 2 > round 1 on {sum(win(x, 2) > win(x, 1) for x in t)} of 3; "
          f"constraints SFT {m(lambda x: x[0]['constraint_satisfied']):.3f} -> round 2 {m(lambda x: x[2]['constraint_satisfied']):.3f}; "
          f"hallucination SFT {m(lambda x: x[0]['hallucination']):.3f} -> round 2 {m(lambda x: x[2]['hallucination']):.3f}; "
          f"KL r2 {m(lambda x: x[2]['kl_to_sft']):.2f}")
base = table["T=1.0 (preset)"]
for n, t in table.items():
    if t is base:
        continue
    for k in (1, 2):
        d = [win(a, k) - win(b, k) for a, b in zip(t, base)]
        print(f"{n} minus T=1.0, round-{k} win: " + ", ".join(f"{x:+.3f}" for x in d)
              + f"; mean {statistics.mean(d):+.3f} +- {statistics.stdev(d) / len(d) ** 0.5:.3f} (standard error between seeds)")

print()
print("Round 2 against round 1, head to head by the held-out panel (eval-round-2.json: win_rate_vs_previous, added by")
print("rerunning round-2/eval with the code that measures it; every other number in those files is unchanged):")
for n, runs in RUNS.items():
    cells = []
    for r in runs:
        h = pol(r, 2, "ppo").get("win_rate_vs_previous")
        cells.append(f"{h['win_rate']:.3f} ({h['ci_low']:.3f}-{h['ci_high']:.3f}; {h['wins']}/{h['ties']}/{h['losses']})" if h else "not measured")
    print(f"{n}: " + ", ".join(cells))
