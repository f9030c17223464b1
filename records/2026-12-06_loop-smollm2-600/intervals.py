"""Win rates of earlier smollm2 loop runs under both intervals: Wilson on the mean score
(what those records quoted) and the percentile bootstrap over prompts (the loop's default
from commit 66fad3a). Reads the per-prompt records `round-k/eval/winrate-ppo.jsonl`
copied from those runs into earlier/, or any such files given as arguments.

    python records/2026-12-06_loop-smollm2-600/intervals.py [FILE ...]
"""

import collections
import json
import sys
from pathlib import Path

from instructrl.evals.stats import mean_interval

files = [Path(a) for a in sys.argv[1:]] or sorted((Path(__file__).parent / "earlier").glob("*.jsonl"))
print("| run | n | W / T / L | score counts (0, .25, .5, .75, 1) | win rate | Wilson 95% | bootstrap 95% |")
print("|---|---|---|---|---|---|---|")
for f in files:
    s = [json.loads(line)["score_a"] for line in f.read_text().splitlines() if line.strip()]
    m, wlo, whi = mean_interval(s, "wilson")
    _, blo, bhi = mean_interval(s, "bootstrap", seed=0)
    c = collections.Counter(s)
    wtl = f"{sum(x > 0.5 for x in s)} / {c[0.5]} / {sum(x < 0.5 for x in s)}"
    counts = ", ".join(str(c[v]) for v in (0.0, 0.25, 0.5, 0.75, 1.0))
    print(f"| {f.stem} | {len(s)} | {wtl} | {counts} | {m:.3f} | {wlo:.3f}-{whi:.3f} | {blo:.3f}-{bhi:.3f} |")
