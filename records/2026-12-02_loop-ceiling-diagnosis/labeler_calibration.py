"""Calibrate the simulated labelers' noise on real policy samples (method doc §6).

The paper's 72.6% (training) and 77.3% (held-out) inter-labeler agreement were measured on
the comparisons labelers actually made: K samples of the models being trained. This script
measures the panels' agreement on such samples, for a list of noise levels, so the noise in
``instructrl/labelers/panel.py`` can be set to match:

    # 1. samples: K=4 responses at T=1 from a loop run's SFT policy, to a JSONL.gz file
    python records/2026-12-02_loop-ceiling-diagnosis/labeler_calibration.py sample runs/default \
        --out records/2026-12-02_loop-ceiling-diagnosis/sft_samples.jsonl.gz
    # 2. agreement of 4-labeler panels over several seeds, per noise level
    python records/2026-12-02_loop-ceiling-diagnosis/labeler_calibration.py agree records/2026-12-02_loop-ceiling-diagnosis/sft_samples.jsonl.gz \
        --train-noise 0.22,0.15,0.10 --heldout-noise 0.15,0.07,0.06
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
from pathlib import Path


def read_samples(path: Path):
    from instructrl.data import Prompt

    with gzip.open(path, "rt") as f:
        rows = [json.loads(line) for line in f]
    return [(Prompt.from_dict(r["prompt"]), r["responses"]) for r in rows]


def panel_agreement(panel, items, n: int = 4) -> float:
    """Mean pairwise agreement of the panel's first ``n`` labelers, each ranking every item."""
    from instructrl.labelers import pairwise_agreement

    labs = panel.labelers[:n]
    ranks = [[lab.rank(p, rs) for p, rs in items] for lab in labs]
    vals = [pairwise_agreement(ranks[a], ranks[b]).agreement for a in range(n) for b in range(a + 1, n)]
    return sum(vals) / len(vals)


def cmd_sample(ns: argparse.Namespace) -> None:
    import torch

    from instructrl.data import Prompt, read_jsonl
    from instructrl.loop.stages import sample_responses

    torch.set_num_threads(ns.threads)
    root = Path(ns.run)
    prompts = read_jsonl(root / "data" / "valid.jsonl", Prompt).records[: ns.n]
    outs = sample_responses(str(root / "round-0" / "sft" / "final"), prompts, ns.k, max_new_tokens=ns.max_new_tokens, temperature=1.0, seed=ns.seed)
    with gzip.open(ns.out, "wt") as f:
        for p, rs in zip(prompts, outs):
            f.write(json.dumps({"prompt": p.to_dict(), "responses": rs}) + "\n")
    print(f"wrote {len(prompts)} prompts x {ns.k} samples to {ns.out}")


def cmd_agree(ns: argparse.Namespace) -> None:
    from instructrl.labelers import heldout_panel, training_panel

    items = read_samples(Path(ns.samples))
    seeds = [int(s) for s in ns.seeds.split(",")]
    for name, make, noises in (("train", training_panel, ns.train_noise), ("heldout", heldout_panel, ns.heldout_noise)):
        for noise in (float(x) for x in noises.split(",")):
            vals = [panel_agreement(make(seed=s, n=4, noise=noise), items) for s in seeds]
            print(f"{name:8s} noise {noise:.3f}: agreement {statistics.mean(vals):.3f} "
                  f"(seeds {', '.join(f'{v:.3f}' for v in vals)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample", help="K samples per validation prompt from a loop run's SFT policy")
    s.add_argument("run", help="a loop run directory (runs/<name>)")
    s.add_argument("--out", required=True)
    s.add_argument("--n", type=int, default=200, help="validation prompts")
    s.add_argument("--k", type=int, default=4)
    s.add_argument("--max-new-tokens", type=int, default=48, help="the default preset's rollout length")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--threads", type=int, default=2)
    a = sub.add_parser("agree", help="panel agreement on a samples file, per noise level")
    a.add_argument("samples")
    a.add_argument("--train-noise", default="0.22,0.10")
    a.add_argument("--heldout-noise", default="0.15,0.06")
    a.add_argument("--seeds", default="0,1,2,3,4")
    ns = ap.parse_args()
    {"sample": cmd_sample, "agree": cmd_agree}[ns.cmd](ns)


if __name__ == "__main__":
    main()
