import json, sys
from pathlib import Path
import torch
from instructrl.data import Prompt, read_jsonl
from instructrl.tasks import grade
from instructrl.loop.stages import sample_responses
from instructrl.reward import load_reward_model, score
torch.set_num_threads(2)
run = Path(sys.argv[1]); T = int(sys.argv[2])
prompts = read_jsonl(run / "data" / "test.jsonl", Prompt).records[:200]
N = 8
samples = sample_responses(str(run / "round-0/sft/final"), prompts, N, max_new_tokens=T, temperature=1.0, seed=7)
gold = [[grade(p, s).quality for s in ss] for p, ss in zip(prompts, samples)]
flat_p = [p for p in prompts for _ in range(N)]; flat_s = [s for ss in samples for s in ss]
rm = load_reward_model(str(run / "round-2/rm/final"))
r = score(rm, flat_p, flat_s); r = [r[i * N:(i + 1) * N] for i in range(len(prompts))]
mean = sum(sum(g) / N for g in gold) / len(gold)
for n in (2, 4, 8):
    b = sum(g[max(range(n), key=lambda i: q[i])] for g, q in zip(gold, r)) / len(gold)
    o = sum(max(g[:n]) for g in gold) / len(gold)
    print(f"T={T} n={n} random {mean:.3f} rm-best {b:.3f} gold-best {o:.3f}")
trunc = sum(1 for ss in samples for s in ss if grade(prompts[0], s).truncated) 
