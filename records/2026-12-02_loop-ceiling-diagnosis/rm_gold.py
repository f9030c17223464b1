"""RM accuracy against the gold grader on fresh SFT samples (pairs whose gold quality differs).

Reads the shipped samples file (200 validation prompts x 4 SFT samples at T=1; made by
``labeler_calibration.py sample``). Usage: python rm_gold.py RM_DIR [RM_DIR ...]
"""
import itertools
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from labeler_calibration import read_samples  # noqa: E402

from instructrl.reward import load_reward_model, score  # noqa: E402
from instructrl.tasks import grade  # noqa: E402

torch.set_num_threads(2)
items = read_samples(Path(__file__).parent / "sft_samples.jsonl.gz")
gold = [[grade(p, r).quality for r in rs] for p, rs in items]
prompts = [p for p, rs in items for _ in rs]
responses = [r for _, rs in items for r in rs]
for rm_dir in sys.argv[1:]:
    s = score(load_reward_model(rm_dir), prompts, responses)
    hit = n = i = 0
    for q in gold:
        sc = s[i : i + len(q)]
        i += len(q)
        for a, b in itertools.combinations(range(len(q)), 2):
            if q[a] != q[b]:
                n += 1
                hit += (sc[a] - sc[b]) * (q[a] - q[b]) > 0
    print(f"{rm_dir}: gold-pair accuracy {hit / n:.3f} on {n} pairs")
