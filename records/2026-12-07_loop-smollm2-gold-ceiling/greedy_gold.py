import json, sys
from pathlib import Path
from instructrl.data import Prompt, read_jsonl
from instructrl.tasks import grade
run = Path(sys.argv[1]); prompts = {p.id: p for p in read_jsonl(run / "data" / "test.jsonl", Prompt).records}
for f in sys.argv[2:]:
    rows = [json.loads(l) for l in open(f)]
    q = [grade(prompts[r["prompt_id"]], r["response"]).quality for r in rows]
    print(f, f"gold {sum(q)/len(q):.3f} n={len(q)}", f"mean words {sum(len(r['response'].split()) for r in rows)/len(rows):.1f}")
