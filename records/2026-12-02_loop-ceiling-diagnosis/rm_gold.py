"""RM accuracy against the gold grader on fresh SFT samples (pairs whose gold quality differs)."""
import json, sys, os, itertools
from pathlib import Path
import torch
torch.set_num_threads(2)
from instructrl.data import Prompt, read_jsonl
from instructrl.tasks import grade
root = Path("/tmp/loopA/default"); cache = Path("/tmp/exp/goldset.jsonl")
if not cache.exists():
    from instructrl.loop.stages import sample_responses
    prompts = read_jsonl(root / "data/valid.jsonl", Prompt).records[:200]
    outs = sample_responses(str(root / "round-0/sft/final"), prompts, 4, max_new_tokens=48, temperature=1.0, seed=7)
    with open(cache, "w") as f:
        for p, o in zip(prompts, outs):
            f.write(json.dumps({"prompt": p.to_dict() if hasattr(p, "to_dict") else None, "id": p.id, "responses": o, "q": [grade(p, r).quality for r in o]}) + "\n")
rows = [json.loads(l) for l in cache.read_text().splitlines()]
pmap = {p.id: p for p in read_jsonl(root / "data/valid.jsonl", Prompt).records}
from instructrl.reward import load_reward_model, score
for rm_dir in sys.argv[1:]:
    rm = load_reward_model(rm_dir)
    P = [pmap[r["id"]] for r in rows for _ in r["responses"]]; R = [x for r in rows for x in r["responses"]]
    s = score(rm, P, R); hit = n = 0; i = 0
    for r in rows:
        k = len(r["responses"]); sc = s[i:i + k]; i += k
        for a, b in itertools.combinations(range(k), 2):
            if abs(r["q"][a] - r["q"][b]) > 1e-6:
                n += 1; hit += (sc[a] - sc[b]) * (r["q"][a] - r["q"][b]) > 0
    print(f"{rm_dir}: gold-pair accuracy {hit / n:.3f} on {n} pairs")
