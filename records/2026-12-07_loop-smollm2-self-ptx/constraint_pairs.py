"""Why PPO gives up explicit constraints: in a round's training rankings (the panel's rankings of
K samples of the policy), take every pair of responses to one prompt where one response meets
a constraint and the other does not, and count which one the panel ranked higher, which one the
gold grader (the panel's judgement without quirks and noise) scores higher, and how often the one
that breaks the constraint does the task while the other does not. No model is run.
python constraint_pairs.py RUN_ROOT [ROUND ...]"""
import itertools, json, sys
from collections import Counter, defaultdict
from pathlib import Path

from instructrl.data.schemas import Prompt
from instructrl.tasks.grader import grade

root = Path(sys.argv[1])
for k in sys.argv[2:] or ["1", "2"]:
    st: dict[str, Counter] = defaultdict(Counter)
    with open(root / f"round-{k}/data/rankings.jsonl") as f:
        for line in f:
            r = json.loads(line)
            p = Prompt.from_dict(r["prompt"])
            gs = [grade(p, x) for x in r["responses"]]
            for ctype in {c for c, _ in gs[0].constraints}:
                met = [all(ok for c, ok in g.constraints if c == ctype) for g in gs]
                for i, j in itertools.combinations(range(len(gs)), 2):
                    if met[i] == met[j]:
                        continue
                    a, b = (i, j) if met[i] else (j, i)
                    c = st[ctype]
                    c["pairs"] += 1
                    ra, rb = r["ranks"][a], r["ranks"][b]
                    c["panel: meets"] += ra < rb; c["panel: tie"] += ra == rb; c["panel: breaks"] += ra > rb
                    qa, qb = gs[a].quality, gs[b].quality
                    c["gold: meets"] += qa > qb; c["gold: breaks"] += qa < qb
                    c["breaker does the task, the other not"] += gs[b].task_done and not gs[a].task_done
                    c["neither does the task"] += not gs[a].task_done and not gs[b].task_done
    cols = ["pairs", "panel: meets", "panel: tie", "panel: breaks", "gold: meets", "gold: breaks",
            "breaker does the task, the other not", "neither does the task"]
    print(f"\nround {k} training rankings ({root}): pairs that differ on one constraint")
    print("| constraint | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for ctype, c in sorted(st.items(), key=lambda kv: -kv[1]["pairs"]):
        n = c["pairs"]
        print(f"| {ctype} | {n} | " + " | ".join(f"{c[x] / n:.2f}" for x in cols[1:]) + " |")
