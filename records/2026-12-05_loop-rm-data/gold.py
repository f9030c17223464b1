import itertools, sys
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "2026-12-02_loop-ceiling-diagnosis"))
from labeler_calibration import read_samples  # noqa: E402
from instructrl.reward import load_reward_model, score
from instructrl.tasks import grade
torch.set_num_threads(2)
items = read_samples(Path("/tmp/rmscale/valid_samples.jsonl.gz"))
gold = [[grade(p, r).quality for r in rs] for p, rs in items]
prompts = [p for p, rs in items for _ in rs]; responses = [r for _, rs in items for r in rs]
for d in sys.argv[1:]:
    s = score(load_reward_model(d), prompts, responses)
    hit = n = i = 0
    for q in gold:
        sc = s[i:i+len(q)]; i += len(q)
        for a, b in itertools.combinations(range(len(q)), 2):
            if q[a] != q[b]:
                n += 1; hit += (sc[a]-sc[b])*(q[a]-q[b]) > 0
    print(f"{d}: gold-pair accuracy {hit/n:.3f} on {n} pairs", flush=True)
