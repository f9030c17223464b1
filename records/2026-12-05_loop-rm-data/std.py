import gzip, json, sys, statistics, torch
from instructrl.data import Prompt
from instructrl.reward import load_reward_model, score
torch.set_num_threads(2)
rows = [json.loads(l) for l in gzip.open("/tmp/rmscale/valid_samples.jsonl.gz", "rt")][:150]
items = [(Prompt.from_dict(r["prompt"]), r["responses"]) for r in rows]
prompts = [p for p, rs in items for _ in rs]; responses = [r for _, rs in items for r in rs]
for d in sys.argv[1:]:
    s = score(load_reward_model(d), prompts, responses)
    within = statistics.mean(statistics.pstdev(s[i:i+4]) for i in range(0, len(s), 4))
    print(d, "mean %.2f std %.2f within-prompt std %.2f" % (statistics.mean(s), statistics.pstdev(s), within))
