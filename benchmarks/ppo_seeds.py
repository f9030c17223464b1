"""Held-out reward of PPO training runs with different training seeds, side by side.

    python benchmarks/ppo_seeds.py records/2026-12-03_ppo-vs-trl-40-updates-eval512 \\
        records/2026-12-05_ppo-train-seeds/seed1 records/2026-12-05_ppo-train-seeds/seed2

Each argument is a ``benchmarks/ppo.py --record`` folder (``results.json``) of runs on the
same prompts, RM and held-out evaluation (same ``--seed``, ``--work`` settings, ``--updates``,
``--eval-prompts`` and ``--eval-samples``), differing only in ``--train-seed``. Every final
policy is paired by prompt with the initial policy (the first record that evaluated it),
which gives each run's gain and its standard error over prompts. The spread of the gains
*between* seeds of one implementation is the training noise that those standard errors leave
out; the summary compares each side's mean gain with it.
"""

from __future__ import annotations

import argparse
import json
import statistics as st
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ppo import _mean_se as mean_se  # noqa: E402 (benchmarks/ppo.py's mean and standard error)

SETTINGS = ("model", "updates", "batch", "response_len", "epochs", "minibatches", "lr", "seed", "rm", "eval_prompts", "eval_samples")


def load(folders: list[str]) -> tuple[list[float], list[dict]]:
    """The initial policy's per-prompt scores and one row per (record, side). A record's runs
    pair with the initial policy's scores of that record, or of the last one before it that
    evaluated it (so runs on one machine share its sampling noise, common random numbers)."""
    first, init, rows, ref = None, None, [], None
    for f in folders:
        d = json.loads((Path(f) / "results.json").read_text())
        args = {k: d["args"].get(k) for k in SETTINGS}
        args["eval_samples"] = args["eval_samples"] or 1
        if ref is None:
            ref = args
        elif args != ref:
            raise SystemExit(f"{f} was run with other settings than {folders[0]}: {args} vs {ref}")
        if "init" in d["eval"]:
            init = d["eval"]["init"]["scores"]
            if first is None:
                first = init
            elif init != first:
                diff = max(abs(a - b) for a, b in zip(init, first))
                print(f"note: {f} evaluated the initial policy again: mean {st.mean(init):.4f} vs {st.mean(first):.4f}, per prompt up to {diff:.2e} apart")
        if init is None:
            raise SystemExit(f"{f}: no initial-policy scores in it or in a record before it (run one without --no-eval-init first)")
        seed = d["args"].get("train_seed")
        for side, e in d["eval"].items():
            if side != "init":
                rows.append({"record": f, "side": side, "train_seed": d["args"]["seed"] if seed is None else seed, "scores": e["scores"], "init": init,
                             "kl": e["eval/kl_to_ref"], "len": e["eval/response_len"], "eos": e["eval/eos_rate"]})
    return first, rows


def summary(init: list[float], rows: list[dict]) -> str:
    lines = [f"held-out score over {len(init)} prompts, gain = final - initial policy, paired by prompt with the initial policy's "
             "scores of the same record or the last one before it (se over prompts)", "",
             f"{'side':<11} {'seed':>4} {'score':>7} {'gain':>7} {'+-se':>6} {'KL':>6} {'len':>6} {'EOS':>5}"]
    m0, _ = mean_se(init)
    lines.append(f"{'init':<11} {'':>4} {m0:>7.3f}")
    gains: dict[str, list[float]] = {}
    for r in rows:
        g, se = mean_se([a - b for a, b in zip(r["scores"], r["init"])])
        gains.setdefault(r["side"], []).append(g)
        lines.append(f"{r['side']:<11} {r['train_seed']:>4} {st.mean(r['scores']):>7.3f} {g:>+7.3f} {se:>6.3f} {r['kl']:>6.2f} {r['len']:>6.1f} {r['eos']:>5.2f}")
    lines.append("")
    for side, gs in gains.items():
        sd = st.stdev(gs) if len(gs) > 1 else float("nan")
        lines.append(f"{side}: {len(gs)} training seed(s), mean gain {st.mean(gs):+.3f}, sd between seeds {sd:.3f}, range {min(gs):+.3f} .. {max(gs):+.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("records", nargs="+", help="benchmarks/ppo.py --record folders")
    ap.add_argument("--out", default=None, help="also write the summary to this file")
    a = ap.parse_args(argv)
    text = summary(*load(a.records))
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
