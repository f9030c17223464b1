"""Train round 1's RM again with overrides (same rankings, init, normalisation, seed as the loop)
into OUT, then split round 2's fresh rankings by the grader as rm_split.py does.
Usage: python rm_sweep.py RUN_DIR OUT '{"epochs": 2}'"""
import json
import sys
from itertools import combinations
from pathlib import Path

import yaml

from instructrl.config import build, load_config
from instructrl.data import Ranking, read_jsonl
from instructrl.loop import LoopConfig
from instructrl.loop.stages import merge, rm_overrides
from instructrl.reward import RewardConfig, load_reward_model, score, train
from instructrl.tasks.grader import grade

root, out, extra = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
values = yaml.safe_load((root / "config.yaml").read_text())
values["runs_dir"], values["name"] = str(root.parent), root.name
cfg = build(LoopConfig, values)
over = merge(rm_overrides(cfg, root, 1), {**extra, "output_dir": str(out), "progress": False})
final = train(load_config(RewardConfig, None, over))
rankings = read_jsonl(root / "round-2" / "data" / "rankings.jsonl", Ranking).records
rm = load_reward_model(str(final))
prompts = [r.prompt for r in rankings for _ in r.responses]
responses = [x for r in rankings for x in r.responses]
scores = score(rm, prompts, responses)
gold = [grade(p, x).quality for p, x in zip(prompts, responses)]
i, diff_rm, eq_rm = 0, [], []
for r in rankings:
    idx = list(range(i, i + len(r.responses)))
    i += len(r.responses)
    for a, b in combinations(range(len(r.responses)), 2):
        if r.ranks[a] == r.ranks[b]:
            continue
        lab = 1 if r.ranks[a] < r.ranks[b] else -1
        sa, sb = scores[idx[a]], scores[idx[b]]
        rmv = 1 if sa > sb else -1 if sa < sb else 0
        ga, gb = gold[idx[a]], gold[idx[b]]
        if abs(ga - gb) < 1e-9:
            eq_rm.append(rmv == lab)
        else:
            diff_rm.append(rmv == (1 if ga > gb else -1))
m = lambda xs: sum(xs) / len(xs)
acc = json.loads((out / "eval.json").read_text()) if (out / "eval.json").exists() else {}
print(json.dumps({"overrides": extra, "rm_vs_grader_differing": round(m(diff_rm), 4), "rm_vs_labeler_equal": round(m(eq_rm), 4),
                  "heldout": {k: v for k, v in acc.items() if isinstance(v, (int, float))}}))
