"""One line per run: round 1 / round 2 win rates against SFT, round 2 vs round 1, the RMs'
held-out accuracy, constraints and hallucination, the changed-answers split, stage minutes.
Usage: python summarize.py NAME=RUN_DIR ..."""
import json
import sys
from pathlib import Path

for arg in sys.argv[1:]:
    name, root = arg.split("=", 1)
    root = Path(root)
    ev = [json.loads((root / f"round-{k}" / "eval" / "eval.json").read_text()) for k in (1, 2)]
    rm = [json.loads((root / f"round-{k}" / "rm" / "eval.json").read_text()) if (root / f"round-{k}" / "rm" / "eval.json").exists() else {} for k in (1, 2)]
    t = json.loads((root / "timings.json").read_text())
    p = [e["policies"]["ppo"] for e in ev]
    sft = ev[1]["policies"]["sft"]
    wr = lambda w: f"{w['win_rate']:.3f} ({w['ci_low']:.3f}-{w['ci_high']:.3f})"
    ch = lambda c: f"same {c['same_share']:.2f}, changed {c['changed_win_rate']:.3f}, better/worse {c['gold']['better']['share']:.2f}/{c['gold']['worse']['share']:.2f}" if c else "-"
    print(f"{name}: round 1 {wr(p[0]['win_rate'])}, round 2 {wr(p[1]['win_rate'])}, round 2 vs 1 {wr(p[1]['win_rate_vs_previous'])}; "
          f"RM held-out acc {rm[0].get('rm/valid_accuracy', float('nan')):.3f} / {rm[1].get('rm/valid_accuracy', float('nan')):.3f}; "
          f"constraints SFT {sft['constraint_satisfied']:.3f} -> r2 {p[1]['constraint_satisfied']:.3f}; "
          f"hallucination SFT {sft['hallucination']:.3f} -> r2 {p[1]['hallucination']:.3f}; KL r2 {p[1]['kl_to_sft']:.2f}; "
          f"r1 {ch(p[0].get('changed_answers'))}; r2 {ch(p[1].get('changed_answers'))}; stages {sum(t.values()) / 60:.1f} min")
