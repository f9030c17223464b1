"""Round-1 PPO of the smollm2 loop run with the gold grader (reward kind=task) instead of the
learned RM, everything else as the loop's round-1 PPO stage (stages.train_ppo), then the
loop's round-1 evaluation. Answers: is the smollm2 win-rate target reachable by a better RM?"""
import sys, shutil, json, os, time
from pathlib import Path
import torch, yaml
from instructrl.config import load_config, build
from instructrl.loop.config import LoopConfig
from instructrl.loop.stages import merge, mark_done
from instructrl.loop.evaluate import evaluate_round
from instructrl.ppo import PPOConfig, train

src = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/smol2/smollm2")
root = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/smol2/gold/smollm2")
extra = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}  # PPO config overrides
torch.set_num_threads(2)
shutil.rmtree(root.parent, ignore_errors=True); root.mkdir(parents=True)
for n in ["config.yaml", "data", "round-0"]:
    os.symlink(src / n, root / n)
(root / "round-1").mkdir()
for n in ["data", "rm"]:  # the eval reads the round's RM for "RM accuracy on fresh comparisons"
    os.symlink(src / "round-1" / n, root / "round-1" / n)
cfg = build(LoopConfig, yaml.safe_load((root / "config.yaml").read_text()) | {"runs_dir": str(root.parent), "name": root.name})
d = root / "round-1" / "ppo"
sft = str(root / "round-0" / "sft" / "final")
rm = str(src / "round-1" / "rm" / "final")
over = merge({"model": {"name": sft}, "reward": {"kind": "task"}, "value": {"init": rm},
              "ptx": {"data": str(root / "data" / "ptx.txt")},
              "data": {"prompts": str(root / "data" / "train.jsonl"), "valid_prompts": str(root / "data" / "valid.jsonl")},
              "output_dir": str(d), "seed": cfg.seed + 1, "progress": False, "threads": 2}, cfg.ppo)
over = merge(over, extra)
t = time.time()
train(load_config(PPOConfig, None, over)); mark_done(d)
print("ppo seconds", round(time.time() - t), flush=True)
r = evaluate_round(cfg, root, 1)
print("RESULT", json.dumps({k: {kk: vv for kk, vv in v.items() if not isinstance(vv, (list, dict)) or kk == "win_rate"} for k, v in r["policies"].items()}, default=str))
