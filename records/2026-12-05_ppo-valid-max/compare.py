"""Compare this folder's round-1 PPO (valid_max 64) with the preset's round-1 PPO of
records/2026-12-05_loop-smollm2-rm/run: final weights (pass the two run dirs) and times."""
import json, sys
from pathlib import Path

here = Path(__file__).parent
old = here.parent / "2026-12-05_loop-smollm2-rm" / "run"
iters = lambda rows: sum(r.get("time/generation_s", 0) + r.get("time/scoring_s", 0) + r.get("time/training_s", 0) for r in rows)
new_rows = [json.loads(l) for l in (here / "ppo-metrics-round-1.jsonl").read_text().splitlines()]
old_rows = [json.loads(l) for l in (old / "ppo-metrics-round-1.jsonl").read_text().splitlines()]
new_stage = json.loads((here / "timings.json").read_text())["round-1/ppo"]
old_stage = json.loads((old / "timings.json").read_text())["round-1/ppo"]
print(f"stage s: valid_max 64 {new_stage:.0f} | all 254 {old_stage:.0f}")
print(f"iterations s: {iters(new_rows):.0f} | {iters(old_rows):.0f}")
print(f"outside iterations s: {new_stage - iters(new_rows):.0f} | {old_stage - iters(old_rows):.0f}")
print("per-iteration training metrics identical:", all(
    a[k] == b[k] for a, b in zip(new_rows, old_rows) for k in a if k.startswith(("ppo/", "reward/"))))
if len(sys.argv) == 3:  # the two run directories, to compare the final weights
    import torch
    from safetensors.torch import load_file
    a, b = (load_file(Path(p) / "round-1" / "ppo" / "final" / "model.safetensors") for p in sys.argv[1:])
    print("final weights equal:", a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a))
