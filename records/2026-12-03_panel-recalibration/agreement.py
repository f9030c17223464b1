"""Agreement of the shipped labeler panels on real policy samples (method doc §6).

    python records/2026-12-03_panel-recalibration/agreement.py > records/2026-12-03_panel-recalibration/agreement.txt

The samples are tests/labelers/data/sft_samples.jsonl.gz (200 validation prompts x 4
responses at T = 1 from the default preset's SFT policy; written by
records/2026-12-02_loop-ceiling-diagnosis/labeler_calibration.py sample). For each panel
seed, the mean pairwise agreement of a 4-labeler panel, at the old and the new noise, on
these samples and on the synthetic response_mix.
"""

import gzip
import json
import statistics
from pathlib import Path

from instructrl.data import Prompt
from instructrl.labelers import heldout_panel, pairwise_agreement, training_panel
from instructrl.tasks import generate_prompts
from instructrl.tasks.perturb import response_mix

ROOT = Path(__file__).resolve().parents[2]


def mean_agreement(panel, items):
    labs = panel.labelers
    ranks = [[lab.rank(p, rs) for p, rs in items] for lab in labs]
    vals = [pairwise_agreement(ranks[a], ranks[b]).agreement for a in range(len(labs)) for b in range(a + 1, len(labs))]
    return sum(vals) / len(vals)


def main() -> None:
    with gzip.open(ROOT / "tests/labelers/data/sft_samples.jsonl.gz", "rt") as f:
        real = [(Prompt.from_dict(r["prompt"]), r["responses"]) for r in map(json.loads, f)]
    mix = [(p, response_mix(p, 4, seed=0)) for p in generate_prompts(200, seed=1234)]
    seeds = range(8)
    print("panel     noise  items         mean    sd   per seed (4 labelers each)")
    for name, make, noise in (("train", training_panel, 0.22), ("heldout", heldout_panel, 0.15),
                              ("train", training_panel, 0.09), ("heldout", heldout_panel, 0.06)):
        for label, items in (("policy", real), ("resp_mix", mix)):
            vals = [mean_agreement(make(seed=s, n=4, noise=noise), items) for s in seeds]
            print(f"{name:8s}  {noise:.2f}   {label:9s}  {statistics.mean(vals):.3f}  {statistics.stdev(vals):.3f}  "
                  + " ".join(f"{v:.3f}" for v in vals), flush=True)


if __name__ == "__main__":
    main()
