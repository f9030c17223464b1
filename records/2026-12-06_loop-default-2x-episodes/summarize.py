"""Per-seed table: the default preset (records/2026-12-06_loop-corpus-reading/read*) against
the same preset with ppo.episodes=3072 (s*, this folder), and the closed-domain breakdown of
the 2x runs. Usage: python summarize.py (from anywhere)."""
import json
import statistics
from pathlib import Path

HERE = Path(__file__).parent
REF = HERE.parent / "2026-12-06_loop-corpus-reading"
RUNS = {"preset (1,536)": [REF / f"read{s}" for s in range(3)], "2x (3,072)": [HERE / f"s{s}" for s in range(3)]}
KEYS = (("likert", "Likert"), ("fails_to_follow", "fails"), ("constraint_satisfied", "constraints"), ("hallucination", "hallucination"))


def pol(run: Path, k: int, name: str) -> dict:
    return json.loads((run / f"eval-round-{k}.json").read_text())["policies"][name]


def minutes(run: Path) -> float:
    return sum(json.loads((run / "timings.json").read_text()).values()) / 60


print("| seed | episodes | round 1 win | round 2 win (95% CI) | round 2 " + " / ".join(h for _, h in KEYS) + " | KL r1 / r2 | min |")
print("|---|---|---|---|---|---|---|")
table = {n: [] for n in RUNS}
for s in range(3):
    for n, runs in RUNS.items():
        r = runs[s]
        sft, p1, p2 = pol(r, 1, "sft"), pol(r, 1, "ppo"), pol(r, 2, "ppo")
        table[n].append((sft, p1, p2))
        w = p2["win_rate"]
        print(f"| {s} | {n} | {p1['win_rate']['win_rate']:.3f} | {w['win_rate']:.3f} ({w['ci_low']:.3f}-{w['ci_high']:.3f}) | "
              + " / ".join(f"{p2[k]:.3f}" for k, _ in KEYS) + f" | {p1['kl_to_sft']:.1f} / {p2['kl_to_sft']:.1f} | {minutes(r):.1f} |")
print()
for n, t in table.items():
    m = lambda f: statistics.mean(f(x) for x in t)
    print(f"{n}: mean round-1 win {m(lambda x: x[1]['win_rate']['win_rate']):.3f}, round-2 win {m(lambda x: x[2]['win_rate']['win_rate']):.3f}; "
          f"constraints SFT {m(lambda x: x[0]['constraint_satisfied']):.3f} -> round 2 {m(lambda x: x[2]['constraint_satisfied']):.3f}; "
          f"hallucination SFT {m(lambda x: x[0]['hallucination']):.3f} -> round 2 {m(lambda x: x[2]['hallucination']):.3f}")
print()
print("Closed-domain answers of the 2x runs (117 per policy): fails to follow / hallucination / hallucination among answers that do the task (n);")
print("and how many of the 96 extra closed-domain answers are the letter template 'Dear <name>, please come and visit us ...'")
print("| seed | SFT | round 1 | round 2 | template answers SFT / r1 / r2 |")
print("|---|---|---|---|---|")
import gzip
for s in range(3):
    r = HERE / f"s{s}"
    cell = lambda p: f"{p['closed_fails_to_follow']:.3f} / {p['hallucination']:.3f} / {p['hallucination_attempted']:.3f} ({p['n_closed_attempted']:.0f})"
    dear = lambda f: sum(json.loads(line)["response"].startswith("Dear") for line in gzip.open(r / f, "rt"))
    print(f"| {s} | {cell(pol(r, 1, 'sft'))} | {cell(pol(r, 1, 'ppo'))} | {cell(pol(r, 2, 'ppo'))} | "
          f"{dear('responses-sft-closed.jsonl.gz')} / {dear('responses-ppo-closed-round-1.jsonl.gz')} / {dear('responses-ppo-closed-round-2.jsonl.gz')} |")
