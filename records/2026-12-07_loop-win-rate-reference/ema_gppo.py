"""Round-1 PPO of a loop run with config overrides (e.g. the gold grader as reward), then the loop's round-1 eval.
usage: gppo.py SRC_RUN(<runs_dir>/<name>) OUT_PARENT TAG JSON
Everything the run had before round 1's PPO is linked, not copied: the source run is not written."""
import json, shutil, sys, time
from pathlib import Path
import torch, yaml
from instructrl.config import build
from instructrl.loop.config import LoopConfig
from instructrl.loop.stages import train_ppo, merge
from instructrl.loop.evaluate import evaluate_round
torch.set_num_threads(2)
src, out, tag, extra = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
root = out / tag / src.name
shutil.rmtree(root.parent, ignore_errors=True); root.mkdir(parents=True)
for p in src.iterdir():
    if p.name.startswith("round-") and p.name != "round-0" or p.suffix in (".md", ".png", ".json", ".jsonl"):
        continue
    (root / p.name).symlink_to(p)
(root / "round-1").mkdir()
for n in ["data", "rm", "rm-data"]:
    (root / "round-1" / n).symlink_to(src / "round-1" / n)
raw = yaml.safe_load((root / "config.yaml").read_text()) | {"runs_dir": str(root.parent), "name": root.name}
raw["ppo"] = merge(raw.get("ppo") or {}, extra)
raw["eval"] = {**(raw.get("eval") or {}), "reference": False}
cfg = build(LoopConfig, raw)
t = time.time(); train_ppo(cfg, root, 1); sec = time.time() - t
import os
if os.environ.get("EVAL_EMA"):
    ppo = root / "round-1" / "ppo"
    (ppo / "final").rename(ppo / "final-live"); shutil.copytree(ppo / "ema", ppo / "final")
t = time.time(); r = evaluate_round(cfg, root, 1); esec = time.time() - t
p = r["policies"]
print("RESULT", tag, json.dumps(extra), f"ppo_s={sec:.0f} eval_s={esec:.0f}", "win", json.dumps(p["ppo"].get("win_rate"), default=str),
      json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in p["ppo"].items() if not isinstance(v, (list, dict))}), flush=True)
