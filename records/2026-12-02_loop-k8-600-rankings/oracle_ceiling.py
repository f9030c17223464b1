"""How well the gold quality itself predicts the training labelers' rankings of a round.

    python oracle_ceiling.py RUN_DIR/round-1/data/rankings.jsonl
"""
import sys

from instructrl.data import Ranking, read_jsonl
from instructrl.tasks.grader import grade

rs = read_jsonl(sys.argv[1], Ranking).records
hit = n = equal = 0.0
for r in rs:
    q = [grade(r.prompt, x).quality for x in r.responses]
    for i in range(len(q)):
        for j in range(i + 1, len(q)):
            if r.ranks[i] == r.ranks[j]:
                continue  # tied by the labeler: dropped, as the RM loss drops them
            n += 1
            if q[i] == q[j]:
                equal += 1
                hit += 0.5  # the gold cannot order them: a coin flip
            else:
                hit += (q[i] > q[j]) == (r.ranks[i] < r.ranks[j])
print(f"{int(n)} non-tied pairs; gold-quality accuracy {hit / n:.3f}; pairs of equal gold quality {equal / n:.3f}")
