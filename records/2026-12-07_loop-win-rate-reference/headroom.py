"""How high can the loop's win-rate metric go on this run's base? Candidates judged against
the SFT policy's greedy test answers by the held-out panel, exactly as the loop's evaluation:
the demonstrator's answers, and best-of-N of SFT's own T=1 samples chosen by the grader (gold)
or by the round-2 RM.  usage: headroom.py RUN OUT.json"""
import json, sys, time
from pathlib import Path
import torch, yaml
from instructrl.config import build
from instructrl.data import Prompt, read_jsonl
from instructrl.loop.config import LoopConfig
from instructrl.loop.stages import make_backend, sample_responses
from instructrl.evals.judges import BackendJudge
from instructrl.evals.winrate import judge_win_rate
from instructrl.tasks import grade
from instructrl.tasks.demonstrator import try_demonstrate
from instructrl.reward import load_reward_model, score
torch.set_num_threads(2)
run, out = Path(sys.argv[1]), Path(sys.argv[2])
raw = yaml.safe_load((run / "config.yaml").read_text())
cfg = build(LoopConfig, raw)
allp = {p.id: p for p in read_jsonl(run / "data" / "test.jsonl", Prompt).records}
ids = [json.loads(l)["prompt_id"] for l in open(run / "round-2/eval/responses-sft.jsonl")]
prompts = [allp[i] for i in ids]
byid = {json.loads(l)["prompt_id"]: json.loads(l)["response"] for l in open(run / "round-2/eval/responses-sft.jsonl")}
sft = [byid[p.id] for p in prompts]
ppo = {json.loads(l)["prompt_id"]: json.loads(l)["response"] for l in open(run / "round-2/eval/responses-ppo.jsonl")}
ppo = [ppo[p.id] for p in prompts]
res = {}
def judge(name, cand):
    j = BackendJudge(make_backend(cfg, pool="heldout"), f"{cfg.name}/headroom-{name}", poll_s=cfg.labelers_poll_s)
    wr, recs = judge_win_rate(j, prompts, cand, sft, interval="wilson", seed=cfg.seed)
    g = sum(grade(p, c).quality for p, c in zip(prompts, cand)) / len(prompts)
    res[name] = {"win_rate": round(wr.win_rate, 3), "ci": [round(wr.ci_low, 3), round(wr.ci_high, 3)], "wins": wr.wins, "ties": wr.ties, "losses": wr.losses, "gold": round(g, 3)}
    print(name, res[name], flush=True)
judge("sft-greedy-self", sft)
judge("ppo-round2-greedy", ppo)
demo = [try_demonstrate(p, seed=0) or "" for p in prompts]
print("demonstrator missing", sum(1 for d in demo if not d))
judge("demonstrator", demo)
t = time.time()
N = int(sys.argv[3]) if len(sys.argv) > 3 else 16
samples = sample_responses(str(run / "round-0/sft/final"), prompts, N, max_new_tokens=cfg.eval.max_new_tokens, temperature=1.0, seed=123)
print("sampled", time.time() - t, flush=True)
gold = [[grade(p, s).quality for s in ss] for p, ss in zip(prompts, samples)]
rm = load_reward_model(str(run / "round-2/rm/final"))
flat_p = [p for p in prompts for _ in range(N)]
flat_s = [s for ss in samples for s in ss]
r = score(rm, flat_p, flat_s)
rms = [r[i * N:(i + 1) * N] for i in range(len(prompts))]
for n in sorted({1, 4, N}):
    judge(f"sft-T1-best-of-{n}-gold", [ss[max(range(n), key=lambda i: g[i])] for ss, g in zip(samples, gold)])
    if n > 1:
        judge(f"sft-T1-best-of-{n}-rm2", [ss[max(range(n), key=lambda i: q[i])] for ss, q in zip(samples, rms)])
# best of {greedy, 16 samples} by gold: the most any policy on this support could give
judge(f"best-of-greedy+{N}-gold", [max([s0] + ss, key=lambda s: grade(p, s).quality) for p, s0, ss in zip(prompts, sft, samples)])
out.write_text(json.dumps(res, indent=1))
