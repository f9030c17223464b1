import json, sys, collections
from instructrl.data import Prompt, read_jsonl
from instructrl.tasks import grade
root = sys.argv[1]; pol = sys.argv[2] if len(sys.argv) > 2 else "sft"
prompts = read_jsonl(f"{root}/data/test.jsonl", Prompt).records[:200]
rows = [json.loads(l) for l in open(f"{root}/round-1/eval/responses-{pol}.jsonl")]
by = collections.defaultdict(list); cons = collections.defaultdict(list); q=[]
for p, r in zip(prompts, rows):
    g = grade(p, r["response"]); t = p.metadata["spec"]["task"]
    by[t].append((g.task_done, g.degenerate, g.truncated, g.quality)); q.append(g.quality)
    for c, ok in g.constraints: cons[c].append(ok)
print("mean quality", sum(q)/len(q))
for t, v in sorted(by.items()):
    n=len(v); print(f"{t:22s} n={n:3d} done={sum(x[0] for x in v)/n:.2f} degen={sum(x[1] for x in v)/n:.2f} trunc={sum(x[2] for x in v)/n:.2f} q={sum(x[3] for x in v)/n:.2f}")
for c, v in sorted(cons.items()): print(f"  {c:20s} n={len(v):3d} pass={sum(v)/len(v):.2f}")
