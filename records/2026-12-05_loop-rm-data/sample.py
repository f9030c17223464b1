"""Sample K=4 responses at T=1 from the loop's SFT policy for many train prompts, label with
the training panel; also gold-label eval samples on valid prompts."""
import gzip, json, sys
from pathlib import Path
import torch
from instructrl.data import Prompt, read_jsonl, write_jsonl
from instructrl.loop.stages import sample_responses, train_prompts
from instructrl.labelers import training_panel
torch.set_num_threads(2)
root = Path("/tmp/loopA/default"); out = Path("/tmp/rmscale")
sft = str(root / "round-0" / "sft" / "final")
N = int(sys.argv[1])
train = train_prompts(root)
print("train prompts", len(train))
prompts = train[:N]
outs = sample_responses(sft, prompts, 4, max_new_tokens=48, temperature=1.0, seed=123)
with gzip.open(out / "train_samples.jsonl.gz", "wt") as f:
    for p, rs in zip(prompts, outs):
        f.write(json.dumps({"prompt": p.to_dict(), "responses": rs}) + "\n")
valid = read_jsonl(root / "data" / "valid.jsonl", Prompt).records[:300]
vouts = sample_responses(sft, valid, 4, max_new_tokens=48, temperature=1.0, seed=7)
with gzip.open(out / "valid_samples.jsonl.gz", "wt") as f:
    for p, rs in zip(valid, vouts):
        f.write(json.dumps({"prompt": p.to_dict(), "responses": rs}) + "\n")
print("done")
