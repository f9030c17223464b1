import gzip, itertools, json, sys
import torch
from instructrl.data import Prompt
from instructrl.reward import load_reward_model, score
from instructrl.tasks import grade
torch.set_num_threads(2)
rows = [json.loads(l) for l in gzip.open("/tmp/rmscale/valid_samples.jsonl.gz", "rt")]
items = [(Prompt.from_dict(r["prompt"]), r["responses"]) for r in rows]
gold = [[grade(p, r).quality for r in rs] for p, rs in items]
prompts = [p for p, rs in items for _ in rs]; responses = [r for _, rs in items for r in rs]
for d in sys.argv[1:]:
    s = score(load_reward_model(d), prompts, responses)
    hit = n = i = 0
    for q in gold:
        sc = s[i:i+len(q)]; i += len(q)
        for a, b in itertools.combinations(range(len(q)), 2):
            if q[a] != q[b]:
                n += 1; hit += (sc[a]-sc[b])*(q[a]-q[b]) > 0
    print(f"{d}: gold-pair accuracy {hit/n:.3f} on {n} pairs", flush=True)
