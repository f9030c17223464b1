"""Compare two smollm2 loop runs on the same test prompts (same data.seed) by the held-out panel,
from the greedy answers their evaluations saved (no model is run). The within-run rows use the
loop's own batch names and bootstrap seed, so they reproduce each run's eval.json exactly (a check
that the answers and panel are the ones the loop judged); the cross rows are head to head:
  A's round-2 policy vs B's, A's SFT vs B's, each round 2 vs the other's SFT.
python compare.py RUN_A RUN_B  (a run root, e.g. .../smollm2, or a record's run/ folder with
round-2-responses-*.jsonl.gz; A must be a run root, for its data/test.jsonl); prints a table."""
import gzip, json, sys
from pathlib import Path

import yaml

from instructrl.data import Prompt, read_jsonl
from instructrl.evals.judges import BackendJudge
from instructrl.evals.winrate import judge_win_rate
from instructrl.labelers.panel import heldout_panel


def answers(run: Path, name: str) -> dict[str, str]:
    for p in (run / "round-2/eval" / name, run / f"round-2-{name}.gz"):
        if p.exists():
            op = gzip.open if p.suffix == ".gz" else open
            with op(p, "rt") as f:
                return {json.loads(l)["prompt_id"]: json.loads(l)["response"] for l in f}
    raise FileNotFoundError(f"{run}: no {name}")


a_root, b_root = Path(sys.argv[1]), Path(sys.argv[2])
cfg = {r: yaml.safe_load((r / "config.yaml").read_text()) for r in (a_root, b_root)}
if cfg[a_root]["data"]["seed"] != cfg[b_root]["data"]["seed"] or cfg[a_root]["eval"]["heldout_seed"] != cfg[b_root]["eval"]["heldout_seed"]:
    sys.exit("the two runs differ in data.seed or eval.heldout_seed: their test prompts or panels are not the same")
test = {p.id: p for p in read_jsonl(a_root / "data/test.jsonl", Prompt).records}
A = {k: answers(a_root, f"responses-{k}.jsonl") for k in ("sft", "ppo")}
B = {k: answers(b_root, f"responses-{k}.jsonl") for k in ("sft", "ppo")}
ids = [i for i in test if i in A["ppo"] and i in B["ppo"] and i in A["sft"] and i in B["sft"]]  # the loop's order
prompts = [test[i] for i in ids]
hseed = cfg[a_root]["eval"]["heldout_seed"]
print(f"{len(ids)} test prompts; held-out panel (seed {hseed}), both presentation orders, bootstrap 95%")
loop_batch = lambda root: (f"{cfg[root]['name']}/round-2/eval-ppo-vs-sft", cfg[root]["seed"])
rows = (("A round 2 vs A SFT", A["ppo"], A["sft"], *loop_batch(a_root)), ("B round 2 vs B SFT", B["ppo"], B["sft"], *loop_batch(b_root)),
        ("A round 2 vs B round 2", A["ppo"], B["ppo"], "compare/r2-r2", 0), ("A SFT vs B SFT", A["sft"], B["sft"], "compare/sft-sft", 0),
        ("A round 2 vs B SFT", A["ppo"], B["sft"], "compare/r2-sft", 0), ("B round 2 vs A SFT", B["ppo"], A["sft"], "compare/sft-r2", 0))
for label, x, y, batch, seed in rows:
    judge = BackendJudge(heldout_panel(seed=hseed), batch, poll_s=0)
    wr, recs = judge_win_rate(judge, prompts, [x[i] for i in ids], [y[i] for i in ids], interval="bootstrap", seed=seed)
    d = wr.to_dict()
    print(f"  {label:24s} {d['win_rate']:.3f} ({d['ci_low']:.3f}-{d['ci_high']:.3f})  W/T/L {sum(r['score_a'] > .5 for r in recs)}/{sum(r['score_a'] == .5 for r in recs)}/{sum(r['score_a'] < .5 for r in recs)}")
