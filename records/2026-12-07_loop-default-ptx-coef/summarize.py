"""Table rows for this record: python summarize.py LABEL=RUN_DIR ... (loop run directories,
or this folder's copies with eval.json.gz). Per round: win rate vs SFT, head to head (round 2),
constraints met, closed-domain hallucination, KL to SFT, held-out pretraining loss vs SFT."""
import gzip
import json
import sys
from pathlib import Path


def ev(run: Path, k: int) -> dict:
    p = run / f"round-{k}" / "eval" / "eval.json"
    return json.loads(p.read_text() if p.exists() else gzip.open(str(p) + ".gz").read())


print("| run | r1 win | r2 win | r2 vs r1 | constraints SFT / r1 / r2 | hallucination SFT / r1 / r2 | KL r1 / r2 | ptx loss vs SFT r1 / r2 |")
print("|---|---|---|---|---|---|---|---|")
for arg in sys.argv[1:]:
    label, run = arg.split("=", 1)
    e1, e2 = (ev(Path(run), k)["policies"] for k in (1, 2))
    w = lambda p: f"{p['win_rate']['win_rate']:.3f}"  # noqa: E731
    h2h = e2["ppo"].get("win_rate_vs_previous", {}).get("win_rate")
    print(f"| {label} | {w(e1['ppo'])} | {w(e2['ppo'])} | {h2h:.3f} | "
          f"{e1['sft']['constraint_satisfied']:.3f} / {e1['ppo']['constraint_satisfied']:.3f} / {e2['ppo']['constraint_satisfied']:.3f} | "
          f"{e1['sft']['hallucination']:.3f} / {e1['ppo']['hallucination']:.3f} / {e2['ppo']['hallucination']:.3f} | "
          f"{e1['ppo']['kl_to_sft']:.2f} / {e2['ppo']['kl_to_sft']:.2f} | "
          f"{100 * e1['ppo']['heldout_ptx_loss_vs_sft']:+.1f}% / {100 * e2['ppo']['heldout_ptx_loss_vs_sft']:+.1f}% |")
