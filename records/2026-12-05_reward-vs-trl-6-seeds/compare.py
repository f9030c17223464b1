"""instructrl's Eq. 1 at other settings against TRL's one epoch at 12 pairs per step, seed by seed.

1. two epochs (batch 2 prompts);
2. one epoch at 1 prompt (6 comparisons) per step, `instructrl-batch1/` (AMD EPYC, all seeds).

    python records/2026-12-05_reward-vs-trl-6-seeds/compare.py

instructrl, 2 epochs: seeds 0-2 from records/2026-12-03_reward-vs-trl/instructrl-2-epochs
(Intel Xeon), seeds 3-5 from instructrl-2-epochs-seeds345/ (AMD EPYC). TRL, 1 epoch: the
same seeds' rows of combined-1-epoch/result.json (seeds 0-2 Xeon, 3-5 AMD), so each seed's
time ratio compares runs on one machine. Same rankings, initial RM and held-out pairs per seed.
"""

import ast
import json
import statistics as st
from pathlib import Path

HERE = Path(__file__).resolve().parent


def instructrl_rows(path: Path) -> dict[int, dict]:
    rows = {}
    for line in path.read_text().splitlines():
        if "] instructrl: " not in line:
            continue
        seed = int(line.split("]")[0].split()[-1])
        speed, held = line.split("] instructrl: ", 1)[1].split(" held-out ", 1)
        rows[seed] = {**ast.literal_eval(speed), "heldout": ast.literal_eval(held)}
    return rows


trl = {r["seed"]: r for r in json.loads((HERE / "combined-1-epoch" / "result.json").read_text())["per_seed"]}


def compare(title: str, rows: dict[int, dict]) -> None:
    print(f"## {title}\n")
    print("| seed | instructrl acc | TRL 1 epoch acc | difference | log loss (instructrl / TRL) | train s (instructrl / TRL) | time ratio |")
    print("|---|---|---|---|---|---|---|")
    diffs, ratios = [], []
    for seed in sorted(rows):
        a, t = rows[seed], trl[seed]
        d = a["heldout"]["accuracy"] - t["heldout"]["trl"]["accuracy"]
        r = a["train_s"] / t["speed"]["trl"]["train_s"]
        diffs.append(d)
        ratios.append(r)
        print(f"| {seed} | {a['heldout']['accuracy']:.4f} | {t['heldout']['trl']['accuracy']:.4f} | {d:+.4f} | "
              f"{a['heldout']['log_loss']:.3f} / {t['heldout']['trl']['log_loss']:.3f} | {a['train_s']:.0f} / {t['speed']['trl']['train_s']:.0f} | {r:.2f} |")
    sd = st.stdev(diffs)
    print(f"\naccuracy difference mean {st.mean(diffs):+.4f}, sd between seeds {sd:.4f}, standard error {sd / len(diffs) ** 0.5:.4f} ({len(diffs)} seeds)")
    print(f"instructrl's training time / TRL's 1-epoch training time: mean {st.mean(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f}; "
          "a ratio across machines where the two ran on different ones)")
    ll = [(rows[s]["heldout"]["log_loss"], trl[s]["heldout"]["trl"]["log_loss"]) for s in sorted(rows)]
    print(f"held-out log loss mean: instructrl {st.mean(a for a, _ in ll):.4f}, TRL 1 epoch {st.mean(b for _, b in ll):.4f}\n")


compare("instructrl 2 epochs (batch 2 prompts) vs TRL 1 epoch",
        {**instructrl_rows(HERE.parent / "2026-12-03_reward-vs-trl" / "instructrl-2-epochs" / "results.txt"),
         **instructrl_rows(HERE / "instructrl-2-epochs-seeds345" / "results.txt")})
compare("instructrl 1 epoch at 1 prompt per step vs TRL 1 epoch at 12 pairs per step",
        instructrl_rows(HERE / "instructrl-batch1" / "results.txt"))
