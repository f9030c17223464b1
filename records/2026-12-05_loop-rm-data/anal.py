import json, sys, collections
from instructrl.data import Prompt, read_jsonl
from instructrl.tasks import grade
root = sys.argv[1]
prompts = read_jsonl(root + "/data/test.jsonl", Prompt).records[:200]
for name in sys.argv[2:]:
    rows = [json.loads(l) for l in open(f"{root}/round-1/eval/responses-{name}.jsonl")]
    c = collections.Counter(); bytask = collections.defaultdict(list)
    for p, r in zip(prompts, rows):
        resp = r["response"] if isinstance(r, dict) else r
        g = grade(p, resp)
        c["task_done"] += g.task_done; c["trunc"] += g.truncated; c["degen"] += g.degenerate
        c["cons_frac"] += g.constraint_fraction; c["q"] += g.quality; c["empty"] += not resp.strip()
        bytask[p.metadata["spec"]["task"]].append(g.quality)
    print(name, {k: round(v / len(rows), 3) for k, v in c.items()})
    print("  ", {t: (len(v), round(sum(v)/len(v), 2)) for t, v in sorted(bytask.items())})
