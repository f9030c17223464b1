import json, sys, math
from instructrl.data import Prompt, read_jsonl
from instructrl.tasks import grade
root = sys.argv[1]
prompts = read_jsonl(f"{root}/data/test.jsonl", Prompt).records[:200]
def q(pol): return [grade(p, json.loads(l)["response"]).quality for p, l in zip(prompts, open(f"{root}/round-1/eval/responses-{pol}.jsonl"))]
a, b = q("ppo"), q("sft"); d = [x - y for x, y in zip(a, b)]; n = len(d); m = sum(d) / n
sd = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1))
print(f"gold ppo {sum(a)/n:.3f} sft {sum(b)/n:.3f} diff {m:+.3f} +- {sd/math.sqrt(n):.3f}; better {sum(x>0 for x in d)} worse {sum(x<0 for x in d)}")
