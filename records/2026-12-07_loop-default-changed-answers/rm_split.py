"""Round k+1's rankings (samples of round k's policy, never seen by round k's RM) split into
pairs the grader rates equal and pairs it rates differently: how often the training labeler
and round k's RM order each kind the way the grader (differing) or the labeler (equal) does.
Usage: python rm_split.py RUN_DIR K"""
import sys
from itertools import combinations
from pathlib import Path

from instructrl.data import Ranking, read_jsonl
from instructrl.reward import load_reward_model, score
from instructrl.tasks.grader import grade

root, k = Path(sys.argv[1]), int(sys.argv[2])
rankings = read_jsonl(root / f"round-{k + 1}" / "data" / "rankings.jsonl", Ranking).records
rm = load_reward_model(str(root / f"round-{k}" / "rm" / "final"))
prompts = [r.prompt for r in rankings for _ in r.responses]
responses = [x for r in rankings for x in r.responses]
scores = score(rm, prompts, responses)
gold = [grade(p, x).quality for p, x in zip(prompts, responses)]
i = 0
diff_lab, diff_rm, eq_rm, n_pairs, n_tied = [], [], [], 0, 0
for r in rankings:
    idx = list(range(i, i + len(r.responses)))
    i += len(r.responses)
    for a, b in combinations(range(len(r.responses)), 2):
        n_pairs += 1
        ra, rb = r.ranks[a], r.ranks[b]
        if ra == rb:
            n_tied += 1
            continue
        lab = 1 if ra < rb else -1  # the labeler prefers a
        ga, gb = gold[idx[a]], gold[idx[b]]
        sa, sb = scores[idx[a]], scores[idx[b]]
        rmv = 1 if sa > sb else -1 if sa < sb else 0
        if abs(ga - gb) < 1e-9:
            eq_rm.append(rmv == lab)
        else:
            g = 1 if ga > gb else -1
            diff_lab.append(lab == g)
            diff_rm.append(rmv == g)
m = lambda xs: sum(xs) / len(xs)
n_ordered = n_pairs - n_tied
print(f"{root} round {k + 1}'s rankings ({len(rankings)} prompts, {n_pairs} pairs, {n_tied} tied by the labeler), "
      f"round {k}'s RM: of the {n_ordered} ordered pairs, {len(diff_lab)} ({len(diff_lab) / n_ordered:.2f}) differ in gold quality, "
      f"{len(eq_rm)} ({len(eq_rm) / n_ordered:.2f}) are equal; on the differing ones the labeler agrees with the grader "
      f"{m(diff_lab):.3f}, the RM {m(diff_rm):.3f}; on the equal ones the RM agrees with the labeler {m(eq_rm):.3f}")
