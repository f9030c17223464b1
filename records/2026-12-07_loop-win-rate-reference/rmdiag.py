"""Does the loop's RM order SFT's T=1 samples of one prompt the way the grader and the labelers do?
usage: rmdiag.py RUN"""
import json, sys, random
from pathlib import Path
import torch, yaml
from scipy.stats import spearmanr
from instructrl.config import build
from instructrl.data import Prompt, read_jsonl
from instructrl.loop.config import LoopConfig
from instructrl.loop.stages import sample_responses
from instructrl.tasks import grade
from instructrl.labelers import training_panel
from instructrl.reward import load_reward_model, score
torch.set_num_threads(2)
run = Path(sys.argv[1])
cfg = build(LoopConfig, yaml.safe_load((run / "config.yaml").read_text()))
prompts = read_jsonl(run / "data" / "test.jsonl", Prompt).records[:200]
N = 8
samples = sample_responses(str(run / "round-0/sft/final"), prompts, N, max_new_tokens=48, temperature=1.0, seed=7)
gold = [[grade(p, s).quality for s in ss] for p, ss in zip(prompts, samples)]
lens = [[len(s.split()) for s in ss] for ss in samples]
panel = training_panel(seed=cfg.seed)
labs = panel.labelers if hasattr(panel, "labelers") else panel._labelers
lat = [[labs[0].latent(p, s) for s in ss] for p, ss in zip(prompts, samples)]
def pair_acc(a, b):
    h = n = 0
    for x, y in zip(a, b):
        for i in range(N):
            for j in range(i + 1, N):
                if x[i] != x[j] and y[i] != y[j]:
                    n += 1; h += (x[i] > x[j]) == (y[i] > y[j])
    return round(h / max(n, 1), 3), n
def mean_rho(a, b):
    rs = [spearmanr(x, y).correlation for x, y in zip(a, b)]
    rs = [r for r in rs if r == r]
    return round(sum(rs) / len(rs), 3)
print("labeler0 latent vs gold pair acc", pair_acc(lat, gold), "rho", mean_rho(lat, gold))
print("length vs gold", pair_acc(lens, gold), "length vs labeler", pair_acc(lens, lat))
flat_p = [p for p in prompts for _ in range(N)]; flat_s = [s for ss in samples for s in ss]
for k in (1, 2):
    rm = load_reward_model(str(run / f"round-{k}/rm/final"))
    r = score(rm, flat_p, flat_s); r = [r[i * N:(i + 1) * N] for i in range(len(prompts))]
    print(f"rm{k} vs gold", pair_acc(r, gold), "rho", mean_rho(r, gold), "| vs labeler0", pair_acc(r, lat), "| vs length", pair_acc(r, lens))
# gold components that vary within a prompt
g0 = grade(prompts[0], samples[0][0]); print("grade fields", [f for f in vars(g0)])
json.dump({"prompts": [p.id for p in prompts], "samples": samples}, open("/work/bench/ceil/samples8.json", "w"))
