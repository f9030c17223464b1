"""PPO on the loop's SFT with the gold grader as reward (ceiling for a perfect RM), then the loop's eval."""
import sys, shutil, json
from pathlib import Path
import torch
from instructrl.config import load_config, build
from instructrl.loop.config import LoopConfig
from instructrl.loop.stages import merge, mark_done
from instructrl.loop.evaluate import evaluate_round
from instructrl.ppo import PPOConfig, train
import yaml

root = Path(sys.argv[1]); extra = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
torch.set_num_threads(2)
cfg = build(LoopConfig, yaml.safe_load((root / "config.yaml").read_text()) | {"runs_dir": str(root.parent), "name": root.name})
d = root / "round-1" / "ppo"
shutil.rmtree(d, ignore_errors=True); shutil.rmtree(root / "round-1" / "eval", ignore_errors=True)
sft = str(root / "round-0" / "sft" / "final")
over = merge({"model": {"name": sft}, "reward": {"kind": "task"}, "value": {"init": str(root / "round-1" / "rm" / "final")},
              "ptx": {"data": str(root / "data" / "ptx.txt")},
              "data": {"prompts": str(root / "data" / "train.jsonl"), "valid_prompts": str(root / "data" / "valid.jsonl")},
              "output_dir": str(d), "seed": cfg.seed + 1, "progress": False, "threads": 2}, cfg.ppo)
over = merge(over, extra)
train(load_config(PPOConfig, None, over)); mark_done(d)
r = evaluate_round(cfg, root, 1)
print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "win_rate"} | {"win": v.get("win_rate")} for k, v in r["policies"].items()}, indent=1, default=str))
