import sys
from instructrl.data import Ranking, read_jsonl, write_jsonl
from instructrl.labelers import training_panel
nz = float(sys.argv[1]); out = sys.argv[2]
labs = {l.id: l for l in training_panel(seed=0, noise=nz).labelers}
rows = read_jsonl("/tmp/loopA/default/round-2/rm-data/rankings.jsonl", Ranking).records
write_jsonl(out, [labs[r.labeler_id].rank(r.prompt, r.responses) for r in rows])
