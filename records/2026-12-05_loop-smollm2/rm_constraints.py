"""Does a loop run's round-2 RM prefer an SFT test response fixed to meet one violated constraint?
usage: rm_constraints.py RUN_DIR (a finished default-preset loop run, e.g. /tmp/loopN/default)"""
import json, sys, torch
from pathlib import Path
from instructrl.data import Prompt, read_jsonl
from instructrl.reward import load_reward_model, score
from instructrl.tasks.grader import grade
torch.set_num_threads(1)
root = Path(sys.argv[1])
prompts = read_jsonl(root / "data" / "test.jsonl", Prompt).records[:200]
resp = {json.loads(l)["prompt_id"]: json.loads(l)["response"] for l in (root / "round-2/eval/responses-sft.jsonl").read_text().splitlines()}
rm = load_reward_model(str(root / "round-2/rm/final"))
for ctype in ["case", "include_keywords", "start_with", "max_sentences"]:
    ps, a, b = [], [], []
    for p in prompts:
        cs = [c for c in p.metadata["spec"].get("constraints", []) if c["type"] == ctype]
        if not cs: continue
        c = cs[0]; r = resp[p.id]
        if ctype == "case": fixed = r.upper() if c["value"] == "upper" else r.lower()
        elif ctype == "include_keywords": fixed = r.rstrip(".") + " " + " ".join(c["value"]) + "."
        elif ctype == "start_with": fixed = c["value"] + " " + r
        else: fixed = " ".join(r.split(". ")[: c["value"]])
        ga, gb = grade(p, r), grade(p, fixed)
        if dict(ga.constraints)[ctype] or not dict(gb.constraints)[ctype]: continue
        ps.append(p); a.append(r); b.append(fixed)
    if not ps: print(ctype, "none"); continue
    sa, sb = score(rm, ps, a), score(rm, ps, b)
    print(root, ctype, "pairs", len(ps), "RM prefers the fixed one: %.3f" % (sum(y > x for x, y in zip(sa, sb)) / len(ps)), "mean score diff %+.3f" % (sum(y - x for x, y in zip(sa, sb)) / len(ps)))
