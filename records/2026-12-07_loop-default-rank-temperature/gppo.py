"""Round-1 PPO of a loop run with config overrides (e.g. gold reward), then the loop's round-1 eval.
usage: gppo.py SRC_RUN(<runs_dir>/default) OUT_PARENT TAG JSON"""
import json, shutil, sys, time
from pathlib import Path
import torch, yaml
from instructrl.config import build
from instructrl.loop.config import LoopConfig
from instructrl.loop.stages import train_ppo, merge
from instructrl.loop.evaluate import evaluate_round
torch.set_num_threads(2)
src, out, tag, extra = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
root = out / tag / "default"
shutil.rmtree(root.parent, ignore_errors=True); root.mkdir(parents=True)
for n in ["config.yaml", "data", "round-0", "base"]:
    (root / n).symlink_to(src / n)
(root / "round-1").mkdir()
for n in ["data", "rm", "rm-data"]:
    (root / "round-1" / n).symlink_to(src / "round-1" / n)
raw = yaml.safe_load((root / "config.yaml").read_text())
raw = raw | {"runs_dir": str(root.parent), "name": root.name}
raw["ppo"] = merge(raw.get("ppo") or {}, extra)
cfg = build(LoopConfig, raw)
t = time.time(); train_ppo(cfg, root, 1); sec = time.time() - t
r = evaluate_round(cfg, root, 1)
p = r["policies"]
pol = [k for k in p if k != "sft"][0]
print("RESULT", tag, json.dumps(extra), f"ppo_s={sec:.0f}", "win", json.dumps(p[pol].get("win_rate"), default=str), json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in p[pol].items() if not isinstance(v, (list, dict))}), flush=True)
