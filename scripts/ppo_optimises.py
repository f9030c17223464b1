"""Does instructrl's PPO optimise? Plain PPO vs PPO-ptx on smollm2-135m with a programmatic reward.

    python scripts/ppo_optimises.py --record records/2026-12-02_ppo-ptx-exact-self-corpus   # ~65 min on 2 cores
    python scripts/ppo_optimises.py --smoke --record /tmp/ppo-smoke               # `tiny`, a minute

The reward is ``--reward``: ``word_count`` (default: 1 - |words - target| / target, floored
at -1; a response that never emits EOS scores -1) or ``lowercase`` (the share of the
response's letters that are lowercase; no missing-EOS penalty). Both runs use the same seed, prompts, and held-out
pretraining text; PPO-ptx adds ``gamma * mean per-token LM loss`` on pretraining sequences
to every minibatch.

The pretraining text (``--ptx-corpus``). ``self`` (default): documents sampled at T = 1 from
the initial model itself, as plain text (no chat template), unconditionally: each starts
after the document separator (SmolLM2's ``<|endoftext|>``). SmolLM2's own pretraining data is not available here; its
samples are the closest stand-in for "the pretraining distribution" (an LM's loss on text
it samples itself is its entropy; a drift of the policy away from the initial model shows
up as a rise of that loss), and the expected LM gradient on a model's own samples is zero
at the start, so the ptx term pulls back only what PPO moves. ``generated`` is instructrl's
synthetic corpus, which SmolLM2 never saw: ptx then simply trains on it (session 1's
record). The corpus is written once to ``<record>/ptx_corpus.jsonl`` (git-ignored size aside,
it is small) and its first ``valid_docs`` documents are the held-out set.

Writes to ``--record``: ``README.md`` (the verdict and a table), ``ppo/`` and ``ppo-ptx/``
(config.yaml, metrics.jsonl, samples.jsonl of each run), ``curves.png``.
The claims checked:
- the reward rises: mean score of the last 5 iterations > the first 5;
- the KL stays bounded: per-episode KL to the reference never exceeds ``--kl-bound`` nats;
- PPO-ptx keeps the held-out pretraining loss closer to its start than plain PPO.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path


def self_corpus(a: argparse.Namespace, path: Path) -> str:
    """``--ptx-docs`` plain-text documents sampled from the initial model (see the docstring).

    Each document is written exactly as sampled: the opener token, then the sampled tokens,
    with the EOS where the model emitted one (so it is a target there and nowhere else; the
    ptx config sets ``append_eos: false``). Every sample is kept, however short: dropping some
    would bias the corpus away from the model's distribution."""
    if path.exists() and len(path.read_text().splitlines()) >= a.ptx_docs:
        return str(path)
    import torch

    from instructrl.data.io import write_jsonl
    from instructrl.models.generation import document_opener, sample_document_ids
    from instructrl.models.loader import load_causal_lm
    torch.set_num_threads(a.threads)
    model, tok = load_causal_lm("tiny" if a.smoke else a.model, dropout=0.0)
    start, _ = document_opener(tok)  # no token of the corpus comes from anywhere but the model itself
    t0 = time.perf_counter()
    ids = sample_document_ids(model, tok, a.ptx_docs, max_new_tokens=a.ptx_len, seed=a.seed)  # ends with the EOS where sampled
    docs = [tok.decode(x, skip_special_tokens=False) for x in ids]
    same = sum(tok(text, add_special_tokens=False)["input_ids"] == x for text, x in zip(docs, ids))
    print(f"self corpus: {len(docs)} documents of <= {a.ptx_len} tokens after {start!r} ({time.perf_counter() - t0:.0f} s); "
          f"{same}/{len(docs)} re-tokenize to exactly the sampled ids", flush=True)
    write_jsonl(path, [{"text": d} for d in docs])
    (path.parent / "ptx_corpus_stats.json").write_text(json.dumps({"docs": len(docs), "retokenize_exact": same, "opener": start}, indent=1))
    return str(path)


def run_config(a: argparse.Namespace, coef: float, out: Path, corpus: str) -> dict:
    smoke = a.smoke
    over = {
        "model": {"name": "tiny" if smoke else a.model, "lora": {"enabled": a.lora, "r": 16, "alpha": 32, "merge_on_save": False}},
        "value": {"kind": a.value, "lr": a.value_lr},
        # lowercase: a response cut at max_new_tokens still has a meaningful lowercase share, so no missing-EOS penalty
        "reward": {"kind": a.reward, "target_words": a.target_words, "missing_eos_penalty": -1.0 if a.reward == "word_count" else None},
        "kl": {"coef": a.kl_coef},
        "ptx": {"coef": coef, "data": corpus, "ratio": a.ptx_ratio, "max_seq_len": a.ptx_len + 8,
                "valid_docs": a.ptx_valid, "append_eos": a.ptx_corpus != "self"},
        "optim": {"lr": a.lr, "warmup_iterations": 3},
        "ppo": {"epochs": 1, "minibatches": a.minibatches},
        "data": {"prompts": f"generated:{a.prompts}@{a.seed}", "valid_size": a.valid},
        "episodes": a.batch * a.iterations,
        "batch_size": a.batch,
        "max_new_tokens": a.response_len,
        "seed": a.seed,
        "eval_every": a.eval_every,
        "output_dir": str(out),
        "resume": False,
        "progress": True,
        "tensorboard": False,
        "threads": a.threads,
        "device": "cpu",
    }
    from instructrl.config import load_config
    from instructrl.ppo import PPOConfig, train
    from instructrl.ppo.train import build_models, evaluate, prepare_prompts, prepare_ptx, resolve_device
    from instructrl.runs import read_metrics

    cfg = load_config(PPOConfig, None, over)
    # the starting point, measured the same way as the in-training evaluations
    device = resolve_device("cpu")
    models = build_models(cfg, device)
    out.mkdir(parents=True, exist_ok=True)
    start = evaluate(cfg, models, prepare_prompts(cfg, models.tokenizer), prepare_ptx(cfg, models.tokenizer), device, 0, out)
    del models
    t0 = time.perf_counter()
    train(cfg)
    res = {"start": start, "minutes": (time.perf_counter() - t0) / 60}
    (out / "result.json").write_text(json.dumps(res, indent=1))  # lets a later invocation reuse this run
    return {**res, "rows": read_metrics(out)}


def reusable(a: argparse.Namespace, out: Path) -> dict | None:
    """A finished run in ``out``: its result.json and all ``--iterations`` rows. The settings
    are not compared: reuse only a folder written with the same arguments."""
    from instructrl.runs import read_metrics

    if not (out / "result.json").exists() or not (out / "metrics.jsonl").exists():
        return None
    rows = read_metrics(out)
    if len(rows) != a.iterations:
        return None
    return {**json.loads((out / "result.json").read_text()), "rows": rows}


def summarise(name: str, r: dict, kl_bound: float) -> dict:
    rows = r["rows"]
    k = min(5, max(1, len(rows) // 3))
    first = sum(x["reward/score_mean"] for x in rows[:k]) / k
    last = sum(x["reward/score_mean"] for x in rows[-k:]) / k
    evals = [x for x in rows if "eval/ptx_loss" in x]
    ptx0 = r["start"].get("eval/ptx_loss", float("nan"))
    return {
        "name": name,
        "minutes": r["minutes"],
        "score_first": first,
        "score_last": last,
        "eval_score_start": r["start"].get("eval/score_mean", float("nan")),
        "eval_score_end": evals[-1]["eval/score_mean"] if evals else float("nan"),
        "kl_max": max(x["ppo/kl_to_ref"] for x in rows),
        "kl_end": rows[-1]["ppo/kl_to_ref"],
        "ptx_start": ptx0,
        "ptx_end": evals[-1]["eval/ptx_loss"] if evals else float("nan"),
        "ptx_drift": abs(evals[-1]["eval/ptx_loss"] - ptx0) if evals else float("nan"),
        "reward_rises": last > first,
        "kl_bounded": max(x["ppo/kl_to_ref"] for x in rows) <= kl_bound,
        "len_end": rows[-1]["gen/response_len"],
        "eos_end": rows[-1]["gen/eos_rate"],
    }


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for name, r in results.items():
        if name.startswith("_"):
            continue
        rows = r["rows"]
        it = [x["step"] for x in rows]
        axes[0].plot(it, [x["reward/score_mean"] for x in rows], label=name)
        axes[1].plot(it, [x["ppo/kl_to_ref"] for x in rows], label=name)
        ev = [x for x in rows if "eval/ptx_loss" in x]
        axes[2].plot([0] + [x["step"] for x in ev], [r["start"]["eval/ptx_loss"]] + [x["eval/ptx_loss"] for x in ev], marker="o", label=name)
    for ax, t in zip(axes, (f"mean score ({results.get('_reward', 'reward')} reward)", "KL to reference (nats / episode)", "held-out pretraining loss")):
        ax.set_title(t)
        ax.set_xlabel("iteration")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def readme(a: argparse.Namespace, sums: list[dict], argv: list[str]) -> str:
    ppo, ptxs = sums[0], sums[1:]
    lines = [
        "# Does PPO optimise? Plain PPO vs PPO-ptx on " + ("tiny (smoke)" if a.smoke else a.model),
        "",
        f"Command: `python scripts/ppo_optimises.py {' '.join(argv)}`",
        "",
        (f"Reward: word_count, target {a.target_words} words (1 - |n - target| / target, floored at -1; no EOS within "
         f"{a.response_len} tokens scores -1). " if a.reward == "word_count" else
         f"Reward: lowercase (share of the response's letters that are lowercase; no missing-EOS penalty, a response cut at {a.response_len} tokens is scored as it is). ")
        + f"{a.iterations} iterations x {a.batch} episodes, {a.minibatches} minibatches, "
        f"policy lr {a.lr}, value {a.value} (lr {a.value_lr}), LoRA {a.lora}, beta {a.kl_coef}; "
        f"PPO-ptx: gamma {', '.join(f'{c:g}' for c in a.ptx_coefs)}, {a.ptx_ratio} pretraining sequences per episode; "
        + (f"pretraining text: {a.ptx_docs} documents sampled from the initial model (unconditional, <= {a.ptx_len} tokens, T = 1), "
           f"each kept exactly as sampled after the opener token (EOS only where the model emitted it), the first {a.ptx_valid} held out" if a.ptx_corpus == "self" else f"pretraining text: generated:{a.ptx_docs}@{a.seed} (instructrl's synthetic corpus)")
        + ".",
        "",
        "| run | minutes | score first 5 it | score last 5 it | eval score start -> end | KL max / end (nats) | held-out ptx loss start -> end | len / EOS rate at end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in sums:
        lines.append(
            f"| {s['name']} | {s['minutes']:.1f} | {s['score_first']:.3f} | {s['score_last']:.3f} | {s['eval_score_start']:.3f} -> {s['eval_score_end']:.3f} | "
            f"{s['kl_max']:.2f} / {s['kl_end']:.2f} | {s['ptx_start']:.3f} -> {s['ptx_end']:.3f} | {s['len_end']:.1f} / {s['eos_end']:.2f} |"
        )
    lines.append("")
    for s in sums:
        lines.append(f"- {s['name']}: reward rises {s['reward_rises']}; KL bounded (<= {a.kl_bound} nats per episode) {s['kl_bounded']}")
    for s in ptxs:
        lines.append(
            f"- {s['name']} keeps the held-out pretraining loss closer to its start than plain PPO: {s['ptx_drift'] < ppo['ptx_drift']} "
            f"(|end - start| {s['ptx_drift']:.3f} vs {ppo['ptx_drift']:.3f} nats/token; signed "
            f"{s['ptx_end'] - s['ptx_start']:+.3f} vs {ppo['ptx_end'] - ppo['ptx_start']:+.3f})")
    lines += ["", "Files: one folder per run (config.yaml, metrics.jsonl, samples.jsonl, result.json), `curves.png`, `summary.json`."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--smoke", action="store_true", help="`tiny` and a few iterations: checks the script, proves nothing")
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--minibatches", type=int, default=2)
    ap.add_argument("--response-len", type=int, default=48, help="max response tokens; at T=1 SmolLM2 ends ~40%% of answers within 48")
    ap.add_argument("--target-words", type=int, default=10)
    ap.add_argument("--lr", type=float, default=2e-4, help="policy learning rate (LoRA default)")
    ap.add_argument("--lora", type=lambda s: s.lower() in ("1", "true", "yes"), default=True, help="LoRA policy (true/false)")
    ap.add_argument("--value", choices=("head", "separate"), default="head")
    ap.add_argument("--value-lr", type=float, default=1e-3)
    ap.add_argument("--kl-coef", type=float, default=0.02)
    ap.add_argument("--kl-bound", type=float, default=20.0, help="the KL (nats per episode) the run must stay under")
    ap.add_argument("--ptx-coef", default="27.8,2", help="gamma of PPO-ptx; a comma list runs one PPO-ptx per value (27.8: the paper's; 2: its ptx gradient norm matches PPO's at this batch)")
    ap.add_argument("--reuse", action="store_true", help="reuse runs already finished in --record (matched by folder name and iteration count only, not by settings)")
    ap.add_argument("--ptx-ratio", type=float, default=1.0, help="pretraining sequences per episode (paper: 8; 1 fits the CPU budget)")
    ap.add_argument("--reward", choices=("lowercase", "word_count"), default="word_count")
    ap.add_argument("--ptx-corpus", choices=("self", "generated"), default="self", help="pretraining text: the initial model's own samples, or instructrl's generated corpus")
    ap.add_argument("--ptx-len", type=int, default=64, help="tokens per pretraining document (self: sampled tokens after the opener)")
    ap.add_argument("--ptx-docs", type=int, default=320, help="pretraining documents (self: sampled once, ~6 min for 320 on 2 cores)")
    ap.add_argument("--ptx-valid", type=int, default=64, help="documents held out for the alignment-tax evaluation")
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--valid", type=int, default=16)
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--record", required=True, help="records/ folder to write")
    a = ap.parse_args(argv)
    a.ptx_coefs = [float(c) for c in str(a.ptx_coef).split(",")]
    if a.smoke:
        a.iterations, a.batch, a.response_len, a.ptx_docs, a.ptx_len, a.ptx_valid, a.prompts, a.valid, a.eval_every = 4, 4, 8, 24, 8, 8, 60, 4, 2
    rec = Path(a.record)
    rec.mkdir(parents=True, exist_ok=True)
    corpus = self_corpus(a, rec / "ptx_corpus.jsonl") if a.ptx_corpus == "self" else f"generated:{a.ptx_docs}@{a.seed}"
    results = {}
    runs = [("ppo", 0.0)] + [("ppo-ptx" if len(a.ptx_coefs) == 1 else f"ppo-ptx-{c:g}", c) for c in a.ptx_coefs]
    for name, coef in runs:
        out = rec / name
        old = reusable(a, out) if a.reuse else None
        if old is not None:
            print(f"{name}: reusing the finished run in {out}", flush=True)
            results[name] = old
            continue
        shutil.rmtree(out, ignore_errors=True)
        results[name] = run_config(a, coef, out, corpus)
        for junk in ("final", "value", "checkpoints", "tb", "ema"):  # keep the record small: logs and config only
            shutil.rmtree(out / junk, ignore_errors=True)
    sums = [summarise(n, r, a.kl_bound) for n, r in results.items()]
    (rec / "summary.json").write_text(json.dumps({"args": vars(a), "summary": sums, "start": {n: r["start"] for n, r in results.items()}}, indent=2))
    plot({**results, "_reward": a.reward}, rec / "curves.png")
    text = readme(a, sums, argv)
    (rec / "README.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
