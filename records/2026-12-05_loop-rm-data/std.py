import sys, statistics, torch
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "2026-12-02_loop-ceiling-diagnosis"))
from labeler_calibration import read_samples  # noqa: E402
from instructrl.reward import load_reward_model, score
torch.set_num_threads(2)
items = read_samples(Path("/tmp/rmscale/valid_samples.jsonl.gz"))[:150]
prompts = [p for p, rs in items for _ in rs]; responses = [r for _, rs in items for r in rs]
for d in sys.argv[1:]:
    s = score(load_reward_model(d), prompts, responses)
    within = statistics.mean(statistics.pstdev(s[i:i+4]) for i in range(0, len(s), 4))
    print(d, "mean %.2f std %.2f within-prompt std %.2f" % (statistics.mean(s), statistics.pstdev(s), within))
