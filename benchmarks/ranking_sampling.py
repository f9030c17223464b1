"""A ranking batch's sampling (K responses per prompt) with and without the shared prefill.

    python benchmarks/ranking_sampling.py [--model smollm2-135m] [--prompts 64] [--k 4]
                                          [--repeats 2] [--threads 2] [--record]

The loop's data stage samples K responses to each prompt from the current policy
(`instructrl.loop.stages.sample_responses`: the K copies of a prompt side by side, 64 rows
per generate call, T = 1, 48 new tokens). `HFGenerator` runs the prefill once per distinct
prompt and copies its KV cache to the K rows; this benchmark times that against a prefill
of every row (`HFGenerator(..., share_prefill=False)`), alternating the two
`--repeats` times in one process after a warm-up call, on generated prompts rendered with
the model's chat template. It also checks that both give the same samples, token for
token, and the same log-probs. With `--record` it writes
`records/<date>_ranking-sampling-prefill/`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m", help="model spec or path (default: the SmolLM2 wheel)")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--record", action="store_true")
    a = ap.parse_args(argv)

    import torch

    from instructrl.data.render import render_prompt
    from instructrl.models import HFGenerator, load_causal_lm
    from instructrl.runs import provenance
    from instructrl.tasks import generate_prompts

    torch.set_num_threads(a.threads)
    model, tok = load_causal_lm(a.model)
    model.eval()
    prompts = generate_prompts(a.prompts, seed=a.seed)
    rows = [tok(render_prompt(tok, p), add_special_tokens=False)["input_ids"] for p in prompts for _ in range(a.k)]

    def run(share: bool) -> tuple[float, list, list]:
        gen = HFGenerator(model, tok.eos_token_id, tok.pad_token_id, share_prefill=share)
        t = time.perf_counter()
        ids, lps = [], []
        for s in range(0, len(rows), 64):  # the data stage's batch_size and seeds
            g = gen.generate(rows[s : s + 64], max_new_tokens=a.max_new_tokens, temperature=1.0, seed=a.seed + s)
            ids += g.response_ids
            lps += g.logprobs
        return time.perf_counter() - t, ids, lps

    run(True)  # warm-up
    times: dict[str, list[float]] = {"shared": [], "every_row": []}
    outs = {}
    for _ in range(a.repeats):
        for name, share in (("every_row", False), ("shared", True)):
            dt, ids, lps = run(share)
            times[name].append(dt)
            outs[name] = (ids, lps)
    same_tokens = outs["shared"][0] == outs["every_row"][0]
    max_lp = max((abs(x - y) for r1, r2 in zip(outs["shared"][1], outs["every_row"][1]) for x, y in zip(r1, r2)), default=0.0)
    summary = {
        "model": a.model, "prompts": a.prompts, "k": a.k, "rows": len(rows), "max_new_tokens": a.max_new_tokens,
        "threads": a.threads, "seconds": times,
        "speedup_best": min(times["every_row"]) / min(times["shared"]),
        "prompt_tokens_mean": sum(map(len, rows)) / len(rows),
        "generated_tokens": sum(map(len, outs["shared"][0])),
        "same_tokens": same_tokens, "max_abs_logprob_diff": max_lp,
        "argv": argv if argv is not None else sys.argv[1:], "provenance": provenance(),
    }
    print(json.dumps(summary, indent=2))
    if a.record:
        d = ROOT / "records" / f"{time.strftime('%Y-%m-%d')}_ranking-sampling-prefill"
        d.mkdir(parents=True, exist_ok=True)
        (d / "result.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(f"record written: {d}")
    return summary


if __name__ == "__main__":
    main()
