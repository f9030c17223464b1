"""Round-2 PPO of a finished loop run (its own round-2 RM), with overrides, then the loop's round-2 eval."""
import sys, shutil, json, time
from pathlib import Path
import torch, yaml
from instructrl.config import load_config, build
from instructrl.loop.config import LoopConfig
from instructrl.loop.stages import merge, mark_done
from instructrl.loop.evaluate import evaluate_round
from instructrl.ppo import PPOConfig, train

tag, srcrun, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
torch.set_num_threads(2)
src = Path(srcrun) / "default"; root = Path(f"/tmp/px/p_{tag}/default")
shutil.rmtree(root.parent, ignore_errors=True); root.mkdir(parents=True)
for n in ["config.yaml", "data", "round-0", "base"]:
    (shutil.copytree if (src / n).is_dir() else shutil.copy)(src / n, root / n)
(root / "round-2").mkdir()
for n in ["data", "rm"]:
    shutil.copytree(src / "round-2" / n, root / "round-2" / n)
# reuse the SFT responses (deterministic greedy) so only the policy is regenerated
(root / "round-2" / "eval").mkdir()
for f in ["responses-sft.jsonl", "responses-sft-closed.jsonl"]:
    shutil.copy(src / "round-2" / "eval" / f, root / "round-2" / "eval" / f)
cfg = build(LoopConfig, yaml.safe_load((root / "config.yaml").read_text()) | {"runs_dir": str(root.parent), "name": root.name})
d = root / "round-2" / "ppo"
sft = str(root / "round-0" / "sft" / "final")
rm = str(root / "round-2" / "rm" / "final")
over = merge({"model": {"name": sft}, "reward": {"kind": "model", "model": rm}, "value": {"init": rm},
              "ptx": {"data": str(root / "data" / "ptx.txt")},
              "data": {"prompts": str(root / "data" / "train.jsonl"), "valid_prompts": str(root / "data" / "valid.jsonl")},
              "output_dir": str(d), "seed": cfg.seed + 2, "progress": False, "threads": 2}, cfg.ppo)
over = merge(over, extra)
t = time.time()
train(load_config(PPOConfig, None, over)); mark_done(d)
print("ppo seconds", round(time.time() - t))
r = evaluate_round(cfg, root, 2)
print("RESULT", tag, srcrun, json.dumps(extra), json.dumps({k: {kk: vv for kk, vv in v.items() if not isinstance(vv, list)} for k, v in r["policies"].items()}, default=str))
