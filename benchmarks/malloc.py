"""Effect of instructrl's glibc allocator tuning (instructrl/_malloc.py), side by side.

    python benchmarks/malloc.py [--rounds 2] [--steps 3] [--model smollm2-135m] [--threads 2]

Runs the same two workloads in fresh processes with the tuning off and on, alternating
(off, on, off, on, ...) so drift on a noisy machine hits both sides alike:

- ``elementwise``: ``y = x * 2 + 1`` on a 16M-float tensor, 50 times (allocation-bound);
- ``sft-step``: forward + backward of one packed row of 8 random 100-300-token examples
  through the model's selective-head loss, ``--steps`` timed steps after one warm-up.

Prints the median seconds of each side and the ratio off/on, and the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

WORKER = r"""
import json, random, resource, statistics, sys, time
args = json.loads(sys.argv[1])
import instructrl  # applies the tuning unless INSTRUCTRL_MALLOC_TUNING=0
import torch
from instructrl import _malloc
torch.set_num_threads(args["threads"])
out = {"tuned": _malloc.applied}
x = torch.randn(16 * 1024 * 1024)
t = time.perf_counter()
for _ in range(50):
    y = x * 2 + 1
    del y
out["elementwise_s"] = time.perf_counter() - t
from instructrl.data.collate import pack_batch
from instructrl.data.render import Example
from instructrl.models.loader import load_causal_lm
from instructrl.models.logprobs import lm_loss_sum
model, tok = load_causal_lm(args["model"])
model.train()
rng = random.Random(0)
exs = []
for n in [rng.randint(100, 300) for _ in range(8)]:
    ids = tuple(rng.randint(10, len(tok) - 10) for _ in range(n))
    exs.append(Example(input_ids=ids, labels=(-100,) * (n // 3) + ids[n // 3 :]))
b = pack_batch(exs, sum(len(e) for e in exs), tok.pad_token_id)
times = []
for i in range(args["steps"] + 1):
    t = time.perf_counter()
    loss, _ = lm_loss_sum(model, b.input_ids, b.labels, None, b.position_ids)
    loss.backward()
    model.zero_grad(set_to_none=True)
    times.append(time.perf_counter() - t)
out["sft_step_s"] = statistics.median(times[1:])
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    payload = json.dumps({"model": args.model, "steps": args.steps, "threads": args.threads})
    res: dict[str, list[dict]] = {"off": [], "on": []}
    for _ in range(args.rounds):
        for side in ("off", "on"):
            env = {k: v for k, v in os.environ.items() if not (k.startswith("MALLOC_") and k.endswith("_"))}
            env.update(INSTRUCTRL_MALLOC_TUNING="0" if side == "off" else "1", OMP_NUM_THREADS=str(args.threads), TOKENIZERS_PARALLELISM="false")
            p = subprocess.run([sys.executable, "-c", WORKER, payload], env=env, capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(f"{side} worker failed:\n{p.stderr[-3000:]}")
            r = json.loads(p.stdout.split("RESULT ", 1)[1].splitlines()[0])
            if r["tuned"] != (side == "on"):
                raise SystemExit(f"the {side} worker had tuning={r['tuned']}")
            res[side].append(r)
            print(side, r, flush=True)
    summary = {}
    for key in ("elementwise_s", "sft_step_s", "peak_rss_mb"):
        off = statistics.median(r[key] for r in res["off"])
        on = statistics.median(r[key] for r in res["on"])
        summary[key] = {"off": off, "on": on, "off_over_on": off / on}
        print(f"{key:>14}: off {off:.3f}  on {on:.3f}  off/on {off / on:.2f}x")
    print(json.dumps({"args": vars(args), "summary": summary}))


if __name__ == "__main__":
    main()
