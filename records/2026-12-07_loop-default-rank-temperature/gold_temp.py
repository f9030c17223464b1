"""Gold-pair accuracy of reward models on SFT samples at several temperatures.
usage: gold_temp.py RUN_DIR N_PROMPTS TEMPS(comma) RM_DIR...   (RUN_DIR: <runs_dir>/default)"""
import itertools, json, sys
from pathlib import Path
import torch
from instructrl.data import Prompt, read_jsonl
from instructrl.loop.stages import sample_responses
from instructrl.reward import load_reward_model, score
from instructrl.tasks import grade
torch.set_num_threads(2)
run, n, temps, rms = Path(sys.argv[1]), int(sys.argv[2]), [float(t) for t in sys.argv[3].split(",")], sys.argv[4:]
prompts = read_jsonl(run / "data" / "valid.jsonl", Prompt).records[:n]
sft = str(run / "round-0" / "sft" / "final")
sets = {}
for t in temps:
    outs = sample_responses(sft, prompts, 4, max_new_tokens=48, temperature=t, seed=123)
    sets[t] = outs
    q = [[grade(p, r).quality for r in rs] for p, rs in zip(prompts, outs)]
    print(f"T={t}: mean gold {sum(map(sum, q)) / (4 * len(q)):.3f}, best-of-4 {sum(map(max, q)) / len(q):.3f}", flush=True)
for d in rms:
    m = load_reward_model(d)
    row = []
    for t, outs in sets.items():
        flat_p = [p for p, rs in zip(prompts, outs) for _ in rs]; flat_r = [r for rs in outs for r in rs]
        s = score(m, flat_p, flat_r)
        hit = tot = i = 0
        for p, rs in zip(prompts, outs):
            q = [grade(p, r).quality for r in rs]; sc = s[i:i + len(rs)]; i += len(rs)
            for a, b in itertools.combinations(range(len(rs)), 2):
                if q[a] != q[b]:
                    tot += 1; hit += (sc[a] - sc[b]) * (q[a] - q[b]) > 0
        row.append(f"T={t}: {hit / tot:.3f} ({tot})")
    print(d, " | ".join(row), flush=True)
