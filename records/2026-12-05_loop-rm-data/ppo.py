"""Round-1 PPO of the loop run with a chosen RM (or gold), then the loop's round-1 eval + gold paired."""
import sys, shutil, json
from pathlib import Path
import torch, yaml
from instructrl.config import load_config, build
from instructrl.loop.config import LoopConfig
from instructrl.loop.stages import merge, mark_done
from instructrl.loop.evaluate import evaluate_round
from instructrl.ppo import PPOConfig, train

tag, rm, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
torch.set_num_threads(2)
src = Path("/tmp/loopA/default"); root = Path(f"/tmp/rmscale/p_{tag}/default")
shutil.rmtree(root.parent, ignore_errors=True); root.mkdir(parents=True)
for n in ["config.yaml", "data", "round-0", "base"]:
    (shutil.copytree if (src / n).is_dir() else shutil.copy)(src / n, root / n)
(root / "round-1").mkdir()
shutil.copytree(src / "round-1" / "data", root / "round-1" / "data")
cfg = build(LoopConfig, yaml.safe_load((root / "config.yaml").read_text()) | {"runs_dir": str(root.parent), "name": root.name})
d = root / "round-1" / "ppo"
sft = str(root / "round-0" / "sft" / "final")
reward = {"kind": "task"} if rm == "gold" else {"kind": "model", "model": rm}
vinit = "/tmp/loopA/default/round-1/rm/final" if rm == "gold" else rm
over = merge({"model": {"name": sft}, "reward": reward, "value": {"init": vinit},
              "ptx": {"data": str(root / "data" / "ptx.txt")},
              "data": {"prompts": str(root / "data" / "train.jsonl"), "valid_prompts": str(root / "data" / "valid.jsonl")},
              "output_dir": str(d), "seed": cfg.seed + 1, "progress": False, "threads": 2}, cfg.ppo)
over = merge(over, extra)
import time; t = time.time()
train(load_config(PPOConfig, None, over)); mark_done(d)
print("ppo seconds", round(time.time() - t))
# the eval wants the RM dir for "RM accuracy on fresh comparisons"
if not (root / "round-1" / "rm").exists():
    shutil.copytree(Path(vinit).parent if Path(vinit).name == "final" else vinit, root / "round-1" / "rm")
r = evaluate_round(cfg, root, 1)
print("RESULT", tag, json.dumps(extra), json.dumps({k: {kk: vv for kk, vv in v.items() if not isinstance(vv, list)} for k, v in r["policies"].items()}, default=str))
