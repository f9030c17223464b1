"""Round-1 rankings of a default loop run, prompts with a case constraint: how often samples meet it, and
how the training panel ranks samples that meet it against those that do not. usage: case_rankings.py RUN_DIR"""
import json, sys, collections
from instructrl.data.schemas import Ranking
from instructrl.data import read_jsonl
from instructrl.tasks.grader import grade
run = sys.argv[1]
st = collections.Counter()
for rk in read_jsonl(f"{run}/round-1/data/rankings.jsonl", Ranking).records:
    cs = [c for c in rk.prompt.metadata.get("spec", {}).get("constraints", []) if c["type"] == "case"]
    if not cs: continue
    gs = [grade(rk.prompt, r) for r in rk.responses]
    met = [dict(g.constraints)["case"] for g in gs]
    st["prompts"] += 1; st["samples"] += len(met); st["met"] += sum(met)
    st["met_and_task"] += sum(m and g.task_done for m, g in zip(met, gs))
    st["unmet_and_task"] += sum((not m) and g.task_done for m, g in zip(met, gs))
    for i in range(len(met)):
        for j in range(len(met)):
            if met[i] and not met[j] and rk.ranks[i] != rk.ranks[j]:
                st["pairs_met_vs_unmet"] += 1; st["met_ranked_higher"] += rk.ranks[i] < rk.ranks[j]
                if gs[i].task_done == gs[j].task_done:
                    st["same_task_pairs"] += 1; st["same_task_met_higher"] += rk.ranks[i] < rk.ranks[j]
print(run, dict(st))
