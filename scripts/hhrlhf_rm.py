"""Real-data check of the reward model: HH-RLHF human preference pairs (issue 3).

The store holds HH-RLHF's four test splits (8,552 pairs, ../shared/datasets/hh-rlhf/).
Each pair loads as a K = 2 ranking: the prompt is the dialogue up to the last
``"\\n\\nAssistant:"``, the responses are the two last replies (``instructrl.reward.data``).

Fixed split: a pair is held out when sha1(salt + prompt text) falls in the lowest
``--valid-fraction`` of the hash range (``split_by_prompt``; salt ``hh-rlhf-v1``), so every
pair of one prompt lands on one side, on any machine, whatever the file order. The
training subset is the first ``--n-train`` training pairs that fit ``--max-seq-len``
tokens, in file order (harmless-base, helpful-base, helpful-online,
helpful-rejection-sampled) shuffled with ``--seed``; the held-out subset is the first
``--n-valid`` held-out pairs that fit, by the same rule. 19 of the 8,552 pairs are not
well-formed dialogues (two Assistant turns in a row, or chosen and rejected differing
before the last reply) and are skipped, counted in ``split.json``.

Trains an RM from ``--model`` (default smollm2-135m) for one epoch and writes held-out
accuracy (overall and by HH subset), log loss, the calibration plot, the metrics log and
the config into ``records/<date>_hh-rlhf-rm/``. The checkpoint stays in ``--run-dir``.

    python scripts/hhrlhf_rm.py                          # ~15 min on 2 CPU cores
    python scripts/hhrlhf_rm.py --n-train 64 --n-valid 64 --model tiny --out /tmp/x   # smoke
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HH = ROOT.parent / "shared" / "datasets" / "hh-rlhf"
SUBSETS = ("harmless-base", "helpful-base", "helpful-online", "helpful-rejection-sampled")
SALT = "hh-rlhf-v1"


def load_hh(root: Path, subsets: tuple[str, ...] = SUBSETS):
    """The test splits as K = 2 rankings; the subset name becomes the prompt category
    (so held-out accuracy is reported per subset). Malformed pairs are skipped and counted."""
    from instructrl.reward.data import load_rankings

    out, skipped = [], {}
    for name in subsets:
        loaded = load_rankings(str(root / name / "test.jsonl.gz"), skip_bad=True)
        skipped[name] = loaded.n_skipped
        out += [dataclasses.replace(r, prompt=dataclasses.replace(r.prompt, category=name)) for r in loaded.records]
    return out, skipped


def first_fitting(rankings, n: int, tok, max_seq_len: int):
    """The first ``n`` rankings whose prompt + longest response fits ``max_seq_len`` tokens."""
    from instructrl.data.schemas import DataError
    from instructrl.reward.data import tokenize_ranking

    out = []
    for r in rankings:
        if len(out) == n:
            break
        try:
            tokenize_ranking(tok, r, max_seq_len=max_seq_len)
        except DataError:
            continue
        out.append(r)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--data", default=str(HH), help="folder with the four <subset>/test.jsonl.gz files")
    ap.add_argument("--subsets", default=",".join(SUBSETS), help="comma-separated HH subsets to use (e.g. the three helpful ones for a helpfulness judge)")
    ap.add_argument("--valid-fraction", type=float, default=0.1)
    ap.add_argument("--n-train", type=int, default=300, help="training pairs used (sized for ~15 min on 2 cores)")
    ap.add_argument("--n-valid", type=int, default=400, help="held-out pairs evaluated")
    ap.add_argument("--max-seq-len", type=int, default=384, help="pairs whose prompt + response is longer are passed over")
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--batch-size", type=int, default=8, help="prompts (pairs) per optimizer step")
    ap.add_argument("--micro-batch-size", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--run-dir", default=str(ROOT / "runs" / "hh-rlhf-rm"))
    ap.add_argument("--out", default=None, help="record folder (default records/<date>_hh-rlhf-rm)")
    args = ap.parse_args()

    from instructrl.config import load_config
    from instructrl.data.io import write_jsonl
    from instructrl.models.loader import load_tokenizer
    from instructrl.reward import RewardConfig, train
    from instructrl.reward.data import split_by_prompt

    subsets = tuple(x.strip() for x in args.subsets.split(",") if x.strip())
    bad = [x for x in subsets if x not in SUBSETS]
    if bad or not subsets:
        raise SystemExit(f"--subsets: unknown HH subset(s) {bad}; choose from {', '.join(SUBSETS)}")
    rankings, skipped = load_hh(Path(args.data), subsets)
    train_r, valid_r = split_by_prompt(rankings, args.valid_fraction, salt=SALT)
    print(f"hh-rlhf: {len(rankings)} pairs ({sum(skipped.values())} malformed skipped) -> {len(train_r)} train / {len(valid_r)} held out", flush=True)
    rng = random.Random(args.seed)
    rng.shuffle(train_r)
    rng.shuffle(valid_r)
    tok = load_tokenizer(args.model)
    train_used = first_fitting(train_r, args.n_train, tok, args.max_seq_len)
    valid_used = first_fitting(valid_r, args.n_valid, tok, args.max_seq_len)
    run = Path(args.run_dir)
    data_dir = run / "data"
    write_jsonl(data_dir / "train.jsonl", train_used)
    write_jsonl(data_dir / "valid.jsonl", valid_used)
    cfg = load_config(
        RewardConfig,
        None,
        {
            "model": {"name": args.model},
            "data": {"train": str(data_dir / "train.jsonl"), "valid": str(data_dir / "valid.jsonl"), "max_seq_len": args.max_seq_len, "skip_bad": True},
            "optim": {"lr": args.lr},
            # the bias is fitted on the chosen replies of the training pairs (the fallback set); 128 are plenty
            "normalize": {"mode": "bias", "max_examples": 128},
            "output_dir": str(run),
            "batch_size": args.batch_size,
            "micro_batch_size": args.micro_batch_size,
            "epochs": 1.0,
            "seed": args.seed,
            "threads": args.threads,
            "resume": False,
            "tensorboard": False,
        },
    )
    t0 = time.time()
    final = train(cfg)
    wall = time.time() - t0
    ev = json.loads((run / "eval.json").read_text())

    out = Path(args.out or ROOT / "records" / f"{time.strftime('%Y-%m-%d')}_hh-rlhf-rm")
    out.mkdir(parents=True, exist_ok=True)
    for f in ("eval.json", "metrics.jsonl", "config.yaml", "calibration.png", "calibration.json", "provenance.json"):
        if (run / f).exists():
            shutil.copy(run / f, out / f)
    (out / "split.json").write_text(json.dumps({
        "rule": f"held out iff int(sha1('{SALT}' + prompt.as_text()).hexdigest()[:8], 16) / 2**32 < {args.valid_fraction}",
        "pairs": len(rankings), "malformed_skipped": skipped, "train_pairs": len(train_r), "heldout_pairs": len(valid_r),
        "heldout_prompt_ids_used": [r.prompt.id for r in valid_used],
    }, indent=1))
    by_subset = "\n".join(f"| {k.rsplit('/', 1)[1]} | {v:.4f} |" for k, v in ev.items() if k.startswith("rm/valid_accuracy_cat/"))
    (out / "README.md").write_text(
        f"# Reward model on HH-RLHF (real human preferences)\n\n"
        f"Held-out pairwise accuracy **{ev['rm/valid_accuracy']:.4f}** on {ev['rm/valid_n_pairs']:.0f} held-out pairs "
        f"(log loss {ev['rm/valid_log_loss']:.4f}, mean margin {ev['rm/valid_margin']:.4f}; chance = 0.5).\n\n"
        f"| HH subset | held-out accuracy |\n|---|---|\n{by_subset}\n\n"
        f"- model: `{args.model}` + scalar head, trained 1 epoch on {len(train_used)} training pairs "
        f"(the first in shuffled order whose prompt + response fits {args.max_seq_len} tokens; the same rule picks the held-out pairs), lr {args.lr} cosine to 10%, batch {args.batch_size}, {args.threads} threads, "
        f"{wall / 60:.1f} min wall\n"
        f"- data: HH-RLHF test splits {', '.join(subsets)} ({len(rankings)} pairs); fixed split by prompt hash (`split.json`): "
        f"{len(train_r)} train / {len(valid_r)} held-out pairs, subsets of them used as above\n"
        f"- files: `eval.json` (all held-out metrics), `metrics.jsonl` (training log), `config.yaml`, `calibration.png`, "
        f"`provenance.json`, `split.json`\n\n"
        f"Command: `python scripts/hhrlhf_rm.py {' '.join(sys.argv[1:])}`\n"
    )
    print(f"held-out accuracy {ev['rm/valid_accuracy']:.4f}; record: {out}; checkpoint: {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
