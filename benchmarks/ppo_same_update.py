"""Same episodes, same update? instructrl's PPO step against TRL 1.12's on identical episodes.

    python benchmarks/ppo_same_update.py                     # smollm2-135m, batch 8, 64 tokens
    python benchmarks/ppo_same_update.py --record records/<date>_ppo-same-update

``benchmarks/ppo.py`` compares the two PPOs by training each on its own samples, so the
held-out reward of the two final policies differs by the sampling noise of two training
runs as well as by anything the implementations do differently. This removes the sampling:
one batch of episodes is sampled once (instructrl's generator, T = 1, from the initial
policy) and both trainers take one PPO update on exactly those episodes, TRL through a
stand-in for its ``batch_generation`` that returns them (``--replay`` of ``benchmarks/ppo.py``;
same settings as there: RM and value from the same seeded-head RM, beta 0.02, clip 0.2,
value clip 0.2, value coefficient 0.1, GAE 1 / 0.95, advantage whitening, fp32).

Adam's first step is ``lr * g / (|g| + eps)``: with the paper's eps it is about ``lr * sign(g)``
and hides the gradient's size. Here both sides run Adam with ``lr = eps = --lin`` (default
10), so the step is ``g / (1 + |g| / eps)``, the gradient itself to within ``max|g| / eps``,
and the policy's weight change on each side is its policy gradient. The report compares them:
cosine and relative difference of the two weight changes over all policy parameters.

Two batches:

- ``full``: every response runs to the length limit without EOS. TRL then puts the score on
  the last response token as instructrl does, so the updates must agree to float noise.
- ``natural``: the first episodes as sampled, some ending in EOS, some not. TRL adds the score
  of a response shorter than the batch's longest one position *past* its last token (its
  ``sequence_lengths_p1``) and keeps the value there, so the last token's advantage gets
  ``lam * score + (1 - lam) * V`` instead of ``score``. Expect a small, real difference.

For scale, the report also gives the cosine between instructrl's updates on the two batches
(what two updates on different episodes look like).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ppo as bench  # noqa: E402 (benchmarks/ppo.py: shared setup, workers, launcher)

ROOT = bench.ROOT


def sample_pool(paths: dict, a: argparse.Namespace) -> list[dict]:
    """One response per pool prompt from the initial policy with instructrl's generator."""
    import torch

    torch.set_num_threads(a.threads)
    from instructrl.models.generation import HFGenerator
    from instructrl.models.loader import load_causal_lm

    model, tok = load_causal_lm(paths["policy"])
    ids = json.loads(Path(paths["prompt_ids"]).read_text())
    gen = HFGenerator(model, tok.eos_token_id, tok.pad_token_id)
    out: list[dict] = []
    for k in range(0, len(ids), a.batch):
        g = gen.generate(ids[k : k + a.batch], max_new_tokens=a.response_len, temperature=1.0, seed=a.seed * 1000 + k)
        out += [{"prompt_ids": p, "response_ids": r, "logprobs": lp, "finished": f} for p, r, lp, f in zip(ids[k : k + a.batch], g.response_ids, g.logprobs, g.finished)]
    return out


def batches(pool: list[dict], n: int, width: int) -> dict[str, list[int]]:
    """Pool indices of the two batches (see the module docstring)."""
    full = [i for i, e in enumerate(pool) if not e["finished"] and len(e["response_ids"]) == width][:n]
    if len(full) < n:
        raise SystemExit(f"only {len(full)} of {len(pool)} sampled responses ran to {width} tokens without EOS; need {n}: raise --pool or lower --response-len")
    return {"full": full, "natural": list(range(n))}


def write_batch(paths: dict, pool: list[dict], idx: list[int], name: str) -> dict:
    """The batch's prompts (instructrl JSONL, TRL token ids) and episodes in its own folder."""
    from instructrl.data.io import write_jsonl
    from instructrl.data.sources import load_prompts

    d = Path(paths["work"]) / "same-update" / name
    d.mkdir(parents=True, exist_ok=True)
    prompts = load_prompts(paths["prompts"])
    write_jsonl(d / "prompts.jsonl", [prompts[i] for i in idx])
    (d / "prompt_ids.json").write_text(json.dumps([pool[i]["prompt_ids"] for i in idx]))
    (d / "episodes.json").write_text(json.dumps({"episodes": [pool[i] for i in idx]}))
    return {**paths, "prompts": str(d / "prompts.jsonl"), "prompt_ids": str(d / "prompt_ids.json"), "work": str(d), "episodes": str(d / "episodes.json")}


def load_weights(model_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def weight_change(initial: dict, final: Path) -> dict:
    """Per-tensor ``final - initial`` in float64 (``initial``: the loaded starting weights)."""
    b = load_weights(final)
    if set(initial) != set(b):
        raise SystemExit(f"{final} and the initial weights hold different tensors: {sorted(set(initial) ^ set(b))[:5]}")
    return {k: b[k].double() - initial[k].double() for k in initial}


def compare(x: dict, y: dict) -> dict:
    """Cosine and ||x - y|| / ||y|| over all tensors, and the worst tensor's relative difference."""
    import torch

    dot = sum(float((x[k] * y[k]).sum()) for k in x)
    nx = sum(float(x[k].pow(2).sum()) for k in x) ** 0.5
    ny = sum(float(y[k].pow(2).sum()) for k in y) ** 0.5
    nd = sum(float((x[k] - y[k]).pow(2).sum()) for k in x) ** 0.5
    per = {k: float((x[k] - y[k]).norm() / y[k].norm().clamp(min=1e-30)) for k in x if float(y[k].norm()) > 0}
    worst = max(per, key=per.get)
    return {"cosine": dot / max(nx * ny, 1e-300), "rel_diff": nd / max(ny, 1e-300), "norm_x": nx, "norm_y": ny, "worst_tensor": worst, "worst_rel_diff": per[worst], "max_abs_step": max(float(torch.max(v.abs())) for v in x.values())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m", help="policy/reference/reward/value base (`tiny` checks the harness quickly)")
    ap.add_argument("--batch", type=int, default=8, help="episodes in the update")
    ap.add_argument("--pool", type=int, default=32, help="prompts sampled to find a batch of full-length responses")
    ap.add_argument("--response-len", type=int, default=64)
    ap.add_argument("--lin", type=float, default=10.0, help="Adam lr = eps: the step is the gradient to within max|g| / eps")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=str(ROOT / "runs" / "bench-ppo-same-update"))
    ap.add_argument("--record", default=None, help="write results.json, report.txt and the workers' logs to this records/ folder")
    a = ap.parse_args(argv)

    paths = bench.prepare(Path(a.work), a.model, a.pool, a.seed)
    pool = sample_pool(paths, a)
    # the settings benchmarks/ppo.py's workers read (one update of one minibatch, 1 epoch)
    wa = argparse.Namespace(model=a.model, updates=1, batch=a.batch, response_len=a.response_len, epochs=1, minibatches=1, threads=a.threads,
                            lr=a.lin, lora_lr=a.lin, adam_eps=a.lin, seed=a.seed, train_seed=None, work=a.work, eval_batch=a.batch, record=a.record)
    initial, initial_value = load_weights(Path(paths["policy"])), load_weights(Path(paths["rm"]))  # the value starts as the RM
    results: dict = {"args": vars(a), "batches": {}}
    steps: dict = {}
    for name, idx in batches(pool, a.batch, a.response_len).items():
        bp = write_batch(paths, pool, idx, name)
        eps = [pool[i] for i in idx]
        info = {"finished": sum(e["finished"] for e in eps), "response_lens": [len(e["response_ids"]) for e in eps]}
        runs = {}
        for side in ("instructrl", "trl"):
            if a.record:  # keep each batch's logs apart (launch names them by config)
                wa.record = str(Path(a.record) / name)
            runs[side] = bench.launch(side, wa, bp, extra=[f"--replay={bp['episodes']}"])
        steps[name] = {side: weight_change(initial, Path(r["final_policy"])) for side, r in runs.items()}
        info["score_mean"] = {side: r["score_mean"] for side, r in runs.items()}
        info["instructrl_vs_trl"] = c = compare(steps[name]["instructrl"], steps[name]["trl"])
        values = {side: weight_change(initial_value, Path(r["final_policy"]).parent / "value") for side, r in runs.items()}
        info["value_instructrl_vs_trl"] = compare(values["instructrl"], values["trl"])
        # TRL whitens advantages with the unbiased variance (n - 1), instructrl with the
        # biased one ([LHP]'s tf.nn.moments): TRL's advantages, and so its step, are smaller
        # by sqrt((n - 1) / n) over the batch's n response tokens
        n = sum(info["response_lens"])
        info["norm_ratio"] = c["norm_x"] / c["norm_y"]
        info["bessel"] = (n / (n - 1)) ** 0.5
        results["batches"][name] = info
        print(f"[{name}] {json.dumps(info)}", flush=True)
    results["instructrl_full_vs_natural"] = compare(steps["full"]["instructrl"], steps["natural"]["instructrl"])["cosine"]

    lines = [f"PPO update on identical episodes: {a.model}, batch {a.batch}, up to {a.response_len} tokens, Adam lr = eps = {a.lin:g} "
             "(step = policy gradient), one update of one minibatch, fp32", "",
             f"{'batch':<8} {'EOS':>4} {'score irl':>10} {'score trl':>10} {'cosine':>12} {'rel diff':>9} {'|irl|/|trl|':>11} {'Bessel':>8}  worst tensor (rel diff)"]
    for name, info in results["batches"].items():
        c = info["instructrl_vs_trl"]
        lines.append(f"{name:<8} {info['finished']:>4} {info['score_mean']['instructrl']:>10.4f} {info['score_mean']['trl']:>10.4f} "
                     f"{c['cosine']:>12.9f} {c['rel_diff']:>9.2e} {info['norm_ratio']:>11.6f} {info['bessel']:>8.6f}  {c['worst_tensor']} ({c['worst_rel_diff']:.2e})")
    lines += ["", "value network (the same step from the same RM init):"]
    for name, info in results["batches"].items():
        v = info["value_instructrl_vs_trl"]
        lines.append(f"{name:<8} cosine {v['cosine']:.9f}, rel diff {v['rel_diff']:.2e}, |irl|/|trl| {v['norm_x'] / v['norm_y']:.6f}, worst tensor {v['worst_tensor']} ({v['worst_rel_diff']:.2e})")
    lines += ["", "cosine and rel diff: of the two sides' policy weight changes over all parameters; |irl|/|trl|: ratio of their norms; "
              "Bessel: sqrt(n / (n - 1)) over the batch's n response tokens, the ratio TRL's unbiased advantage whitening predicts",
              f"for scale: cosine of instructrl's updates on the two batches (different episodes): {results['instructrl_full_vs_natural']:.4f}",
              f"largest |step| (= |g| to within |g| / eps): {max(i['instructrl_vs_trl']['max_abs_step'] for i in results['batches'].values()):.2e}"]
    text = "\n".join(lines)
    print("\n" + text)
    if a.record:
        rec = Path(a.record)
        rec.mkdir(parents=True, exist_ok=True)
        (rec / "results.json").write_text(json.dumps(results, indent=2))
        (rec / "report.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
