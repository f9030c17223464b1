import sys
from pathlib import Path
from instructrl.data import write_jsonl
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "2026-12-02_loop-ceiling-diagnosis"))
from labeler_calibration import read_samples  # noqa: E402
from instructrl.labelers import training_panel
out = Path("/tmp/rmscale")
items = read_samples(out / "train_samples.jsonl.gz")
panel = training_panel(seed=0)
labs = panel.labelers
rk = [labs[i % len(labs)].rank(p, tuple(rs)) for i, (p, rs) in enumerate(items)]
for n in [int(x) for x in sys.argv[1].split(",")]:
    write_jsonl(out / f"rank{n}.jsonl", rk[:n])
print(len(rk))
