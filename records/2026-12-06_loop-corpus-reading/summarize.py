"""Per-seed table: the default preset without (records/2026-12-05_loop-rm-data/loopN*) and
with the reading/case corpus (read*, this folder), and the mean differences.
Usage: python summarize.py (from anywhere)."""
import json
import statistics
from pathlib import Path

HERE = Path(__file__).parent
BASE = HERE.parent / "2026-12-05_loop-rm-data"
RUNS = {"without": [BASE / "loopN", BASE / "loopN1", BASE / "loopN2"],
        "with": [HERE / "read0", HERE / "read1", HERE / "read2"]}
KEYS = (("likert", "Likert"), ("fails_to_follow", "fails"), ("constraint_satisfied", "constraints"), ("hallucination", "hallucination"))


def pol(run: Path, k: int, name: str) -> dict:
    return json.loads((run / f"eval-round-{k}.json").read_text())["policies"][name]


def minutes(run: Path) -> float:
    return sum(json.loads((run / "timings.json").read_text()).values()) / 60


print("| seed | corpus | SFT " + " / ".join(k for _, k in KEYS) + " | round 1 win | round 2 win | round 2 " + " / ".join(k for _, k in KEYS) + " | KL r1 / r2 | min |")
print("|---|---|---|---|---|---|---|---|")
table = {name: [] for name in RUNS}
for seed in range(3):
    for name, runs in RUNS.items():
        run = runs[seed]
        s, p1, p2 = pol(run, 1, "sft"), pol(run, 1, "ppo"), pol(run, 2, "ppo")
        table[name].append({"sft": s, "p1": p1, "p2": p2})
        print(f"| {seed} | {name} | " + " / ".join(f"{s[k]:.3f}" for k, _ in KEYS)
              + f" | {p1['win_rate']['win_rate']:.3f} | {p2['win_rate']['win_rate']:.3f} | "
              + " / ".join(f"{p2[k]:.3f}" for k, _ in KEYS) + f" | {p1['kl_to_sft']:.1f} / {p2['kl_to_sft']:.1f} | {minutes(run):.1f} |")
print()
for label, get in ([(f"SFT {h}", (lambda r, k=k: r["sft"][k])) for k, h in KEYS]
                   + [("round-1 win", lambda r: r["p1"]["win_rate"]["win_rate"]), ("round-2 win", lambda r: r["p2"]["win_rate"]["win_rate"])]
                   + [(f"round-2 {h}", (lambda r, k=k: r["p2"][k])) for k, h in KEYS]):
    a = [get(r) for r in table["without"]]
    b = [get(r) for r in table["with"]]
    d = [y - x for x, y in zip(a, b)]
    print(f"{label:24s} without {statistics.mean(a):.3f}  with {statistics.mean(b):.3f}  "
          f"per seed {', '.join(f'{x:+.3f}' for x in d)}")
