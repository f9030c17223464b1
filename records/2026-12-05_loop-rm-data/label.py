import gzip, json, sys
from pathlib import Path
from instructrl.data import Prompt, write_jsonl
from instructrl.labelers import training_panel
out = Path("/tmp/rmscale")
rows = [json.loads(l) for l in gzip.open(out / "train_samples.jsonl.gz", "rt")]
items = [(Prompt.from_dict(r["prompt"]), r["responses"]) for r in rows]
panel = training_panel(seed=0)
labs = panel.labelers
rk = [labs[i % len(labs)].rank(p, tuple(rs)) for i, (p, rs) in enumerate(items)]
for n in [int(x) for x in sys.argv[1].split(",")]:
    write_jsonl(out / f"rank{n}.jsonl", rk[:n])
print(len(rk))
