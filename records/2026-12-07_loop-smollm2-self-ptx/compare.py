"""Compare two smollm2 loop runs on the same test prompts (same data.seed) by the held-out panel,
from the greedy answers their evaluations saved (no model is run):
  A's round-2 policy vs B's round-2 policy, A's SFT vs B's SFT, A's round-2 vs B's SFT, head to head.
python compare.py RUN_A RUN_B  (run roots, e.g. .../smollm2); prints a table."""
import gzip, json, sys
from pathlib import Path

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
test = {p.id: p for p in read_jsonl(a_root / "data/test.jsonl", Prompt).records}
A = {k: answers(a_root, f"responses-{k}.jsonl") for k in ("sft", "ppo")}
B = {k: answers(b_root, f"responses-{k}.jsonl") for k in ("sft", "ppo")}
ids = sorted(set(A["ppo"]) & set(B["ppo"]) & set(A["sft"]) & set(B["sft"]))
prompts = [test[i] for i in ids]
import yaml
hseed = yaml.safe_load((a_root / "config.yaml").read_text())["eval"]["heldout_seed"]
print(f"{len(ids)} test prompts; held-out panel, both presentation orders, bootstrap 95%")
for label, x, y in (("A round 2 vs A SFT", A["ppo"], A["sft"]), ("B round 2 vs B SFT", B["ppo"], B["sft"]), ("A round 2 vs B round 2", A["ppo"], B["ppo"]), ("A SFT vs B SFT", A["sft"], B["sft"]),
                    ("A round 2 vs B SFT", A["ppo"], B["sft"]), ("B round 2 vs A SFT", B["ppo"], A["sft"])):
    judge = BackendJudge(heldout_panel(seed=hseed), f"compare/{label}", poll_s=0)
    wr, recs = judge_win_rate(judge, prompts, [x[i] for i in ids], [y[i] for i in ids], interval="bootstrap", seed=0)
    d = wr.to_dict()
    print(f"  {label:24s} {d['win_rate']:.3f} ({d['ci_low']:.3f}-{d['ci_high']:.3f})  W/T/L {sum(r['score_a'] > .5 for r in recs)}/{sum(r['score_a'] == .5 for r in recs)}/{sum(r['score_a'] < .5 for r in recs)}")
