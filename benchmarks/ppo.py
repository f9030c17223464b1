"""instructrl PPO vs TRL 1.12's PPO trainer, same models and settings, in one invocation.

    python benchmarks/ppo.py                       # defaults: batch 8, 64-token responses, 3 updates
    python benchmarks/ppo.py --updates 5 --record records/2026-11-24_ppo-vs-trl

Both sides get the same policy and reference (``smollm2-135m``), the same reward model
(SmolLM2-135M with a seeded N(0, 1/sqrt(d+1)) scalar head, saved once and loaded by both),
a value function initialised from that reward model, the same prompts (chat-templated,
left-padded), temperature 1, truncation at the first EOS, no missing-EOS penalty, beta 0.02,
clip 0.2, value clip 0.2, value coefficient 0.1, GAE gamma 1 / lambda 0.95, advantage
whitening, Adam (0.9, 0.95, eps 1e-5) at one constant learning rate, no gradient clipping,
fp32, the same thread count. TRL runs in its own virtualenv (``benchmarks/trl_venv.sh``),
each configuration in its own process so peak memory (max RSS) is per configuration.

instructrl keeps freed memory in the process on glibc (``instructrl/runtime.py``; on a CPU
this spares every step the page faults of re-mapping its activations and gradients). So
that the ratio measures the code and not only the allocator, ``trl_malloc`` runs TRL with
the same allocator settings and ``instructrl_nomalloc`` runs instructrl without them:

    python benchmarks/ppo.py --updates 6 --configs trl,trl_malloc,instructrl,instructrl_nomalloc,lora,head

Then instructrl's cheaper configurations: a LoRA policy whose reference is its own base
with adapters disabled (one copy of the weights), and a value head on the policy (one
backbone forward serves log-probs and values), alone and together.
``rloo`` drops the value network instead (``ppo.advantage=rloo``, groups of
``--rloo-group`` responses per prompt; not the paper's method):

    python benchmarks/ppo.py --updates 4 --configs instructrl,rloo

Speed is the mean over updates after the first (which pays one-off allocation costs);
the training score is the mean RM score of the sampled episodes over all updates; both sides
get exactly batch x updates prompts, so each samples every prompt once and the means are over
the same prompts.

"Mean reward after the same number of episodes": ``--rm <dir>`` gives both sides a trained
reward model (e.g. ``runs/hh-helpful-rm/final`` from ``scripts/hhrlhf_rm.py``; its stored
normalisation is applied on both sides, TRL's through a wrapper of its ``get_reward``), and
``--eval-prompts N`` then scores the initial policy and each side's final policy on N
held-out prompts (drawn with another seed, none of them a training prompt): one sample per
prompt at T = 1 with the same sampling seed for every policy (common random numbers), by
instructrl's PPO evaluation, the same RM for all. The report gives each policy's mean score
with its standard error, the paired difference to the initial policy, and instructrl - TRL.

    python benchmarks/ppo.py --updates 6 --lr 1e-5 --configs trl,instructrl,lora,head \
        --rm runs/hh-helpful-rm/final --eval-prompts 32 --record records/<date>_ppo-vs-trl-hh-rm

One sample per prompt leaves a standard error of ~0.3 on the difference at 32 prompts;
``--eval-samples K`` samples every held-out prompt K times (a prompt's score is the mean of
its K samples, the pairing and standard errors stay per prompt). Each launch's training
results are saved in ``--work``, so ``--eval-only`` redoes the evaluation of the last run
with the same settings without retraining (e.g. with more prompts or samples):

    python benchmarks/ppo.py --updates 40 --lr 1e-5 --configs trl,instructrl \
        --eval-prompts 128 --eval-samples 4 --record records/<date>_ppo-vs-trl-40-updates-eval512
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("trl", "instructrl", "lora", "head", "lora_head", "trl_malloc", "instructrl_nomalloc", "rloo")
# instructrl keeps freed memory in the process on glibc (``instructrl.runtime.tune_cpu_allocator``).
# ``trl_malloc`` runs TRL with the same allocator settings (through glibc's environment
# variables), ``instructrl_nomalloc`` runs instructrl without them: the ratio between
# ``instructrl`` and ``trl_malloc`` is the code's own speed-up, with the allocator equalised.
# (``trl_malloc`` writes TRL's run directory, ``run-trl``, again; the allocator does not change
# what is computed, so the evaluated TRL policy is the same either way.)
WORKER = {"trl_malloc": "trl", "instructrl_nomalloc": "instructrl"}



# ------------------------------------------------------------------ shared setup (instructrl venv)


def prepare(work: Path, model: str, n_prompts: int, seed: int, rm: str | None = None, n_eval: int = 0, eval_samples: int = 1) -> dict:
    """The policy and reward-model directories, prompts (JSONL for instructrl, token ids for TRL),
    and held-out evaluation prompts (drawn with another seed) when ``n_eval`` > 0, each written
    ``eval_samples`` times in a row (one sample per copy)."""
    from instructrl.data.io import write_jsonl
    from instructrl.data.render import tokenize_prompt
    from instructrl.models.heads import load_scalar_model
    from instructrl.models.loader import load_causal_lm, load_tokenizer, smollm2_dir
    from instructrl.tasks import generate_prompts

    work = work / model.replace(":", "_").replace("/", "_")
    work.mkdir(parents=True, exist_ok=True)
    if model in ("smollm2-135m", "smollm2"):
        policy_dir = smollm2_dir()
    else:  # e.g. `tiny`, to check the harness in seconds: saved once so both sides load the same weights
        policy_dir = work / "policy"
        if not (policy_dir / "config.json").exists():
            lm, t = load_causal_lm(model)
            lm.save_pretrained(policy_dir, safe_serialization=True)
            t.save_pretrained(policy_dir)
    rm_dir = Path(rm) if rm else work / "rm"
    if not (rm_dir / "config.json").exists():
        rm, t = load_scalar_model(str(policy_dir), head_init="normal", seed=seed)
        rm.save_pretrained(rm_dir, safe_serialization=True)
        t.save_pretrained(rm_dir)
    tok = load_tokenizer(str(policy_dir))
    prompts = generate_prompts(n_prompts, seed=seed)
    write_jsonl(work / "prompts.jsonl", prompts)
    ids = [tokenize_prompt(tok, p) for p in prompts]
    (work / "prompt_ids.json").write_text(json.dumps(ids))
    paths = {"rm": str(rm_dir), "policy": str(policy_dir), "prompts": str(work / "prompts.jsonl"), "prompt_ids": str(work / "prompt_ids.json"), "work": str(work)}
    if n_eval:
        seen = {p.as_text() for p in prompts}
        held = [p for p in generate_prompts(4 * n_eval, seed=seed + 1) if p.as_text() not in seen][:n_eval]
        write_jsonl(work / "eval_prompts.jsonl", [p for p in held for _ in range(eval_samples)])
        paths["eval_prompts"] = str(work / "eval_prompts.jsonl")
    return paths


# --------------------------------------------------------------------------- instructrl worker


def run_instructrl(a: argparse.Namespace, paths: dict, variant: str) -> dict:
    import torch

    torch.set_num_threads(a.threads)
    from instructrl.config import load_config
    from instructrl.ppo import PPOConfig, train
    from instructrl.runs import read_metrics

    over = {
        "model": {"name": paths["policy"]},
        "reward": {"kind": "model", "model": paths["rm"], "missing_eos_penalty": None},
        "value": {"lr": a.lr, "coef": 0.1, "clip": 0.2},
        "kl": {"coef": 0.02},
        "optim": {"lr": a.lr, "warmup_iterations": 0, "beta2": 0.95, "eps": a.adam_eps, "grad_clip": 0.0},
        "ppo": {"epochs": a.epochs, "minibatches": a.minibatches, "whiten_rewards": False},
        "data": {"prompts": paths["prompts"], "valid_size": 0, "max_prompt_len": 1024},
        "episodes": a.batch * a.updates,
        "batch_size": a.batch,
        "generation_batch_size": a.batch,
        "forward_batch_size": a.batch,
        "max_new_tokens": a.response_len,
        "temperature": 1.0,
        "seed": _train_seed(a),
        "output_dir": str(Path(paths["work"]) / f"run-{variant}{_seed_suffix(a)}"),
        "resume": False,
        "progress": False,
        "tensorboard": False,
        "device": "cpu",
    }
    if variant in ("lora", "lora_head"):
        over["model"]["lora"] = {"enabled": True, "r": 16, "alpha": 32, "merge_on_save": False}
        over["optim"]["lr"] = a.lora_lr
    if variant in ("head", "lora_head"):
        over["value"]["kind"] = "head"
    if variant == "rloo":  # REINFORCE leave-one-out, no value network (not the paper's method)
        over["value"]["kind"] = "none"
        over["ppo"] |= {"advantage": "rloo", "group_size": a.rloo_group}
    cfg = load_config(PPOConfig, None, over)
    t0 = time.perf_counter()
    final = train(cfg, generator=ReplayGenerator(a.replay) if a.replay else None)
    wall = time.perf_counter() - t0
    rows = read_metrics(cfg.output_dir)
    steady = rows[1:] if len(rows) > 1 else rows
    per_update = [r["time/generation_s"] + r["time/scoring_s"] + r["time/training_s"] for r in steady]
    gen = sum(r["time/generation_s"] for r in steady)
    tokens = sum(r["gen/tokens_per_s"] * r["time/generation_s"] for r in steady)
    return {
        "seconds_per_update": sum(per_update) / len(per_update),
        "episodes_per_s": a.batch * len(per_update) / sum(per_update),
        "gen_tokens_per_s": tokens / max(gen, 1e-9),
        "tokens_per_s_overall": tokens / sum(per_update),
        "split": {k: sum(r[f"time/{k}_s"] for r in steady) / sum(per_update) for k in ("generation", "scoring", "training")},
        "score_mean": sum(r["reward/score_mean"] for r in rows) / len(rows),
        "score_last": rows[-1]["reward/score_mean"],
        "response_len": sum(r["gen/response_len"] for r in rows) / len(rows),
        "wall_s_including_load": wall,
        "final_policy": str(final),
    }


class ReplayGenerator:
    """A generation backend that returns the episodes of a file instead of sampling (the same
    responses and sampling-time log-probs on both sides; ``benchmarks/ppo_same_update.py``).
    The file: ``{"episodes": [{"prompt_ids", "response_ids", "logprobs", "finished"}, ...]}``."""

    def __init__(self, path: str):
        self.by_prompt = {tuple(e["prompt_ids"]): e for e in json.loads(Path(path).read_text())["episodes"]}

    def generate(self, prompt_ids, *, max_new_tokens: int, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, seed: int | None = None):
        from instructrl.models.generation import Generation

        missing = [i for i, p in enumerate(prompt_ids) if tuple(p) not in self.by_prompt]
        if missing:
            raise KeyError(f"replay: {len(missing)} of {len(prompt_ids)} prompts have no episode in the file")
        es = [self.by_prompt[tuple(p)] for p in prompt_ids]
        if any(len(e["response_ids"]) > max_new_tokens for e in es):
            raise ValueError(f"replay: a response is longer than max_new_tokens={max_new_tokens}")
        return Generation([list(e["response_ids"]) for e in es], [list(e["logprobs"]) for e in es], [bool(e["finished"]) for e in es])


# ---------------------------------------------------------------------------------- TRL worker


def run_trl(a: argparse.Namespace, paths: dict) -> dict:
    """TRL 1.12 ``trl.experimental.ppo`` (runs in the TRL virtualenv; no instructrl import)."""
    import torch

    torch.set_num_threads(a.threads)
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer, TrainerCallback
    from trl.experimental.ppo import PPOConfig, PPOTrainer
    from trl.experimental.ppo import ppo_trainer as T

    torch.manual_seed(_train_seed(a))
    tok = AutoTokenizer.from_pretrained(paths["policy"])
    tok.padding_side = "left"
    ids = json.loads(Path(paths["prompt_ids"]).read_text())
    ds = Dataset.from_dict({"input_ids": ids})
    policy = AutoModelForCausalLM.from_pretrained(paths["policy"], dtype=torch.float32)
    ref = AutoModelForCausalLM.from_pretrained(paths["policy"], dtype=torch.float32)
    rm = AutoModelForSequenceClassification.from_pretrained(paths["rm"], dtype=torch.float32)
    value = AutoModelForSequenceClassification.from_pretrained(paths["rm"], dtype=torch.float32)

    clock = {"gen": 0.0, "gen_tokens": 0, "score": 0.0}
    orig_gen, orig_reward, orig_forward = T.batch_generation, T.get_reward, T.forward
    if a.replay:  # the episodes of a file instead of sampling (benchmarks/ppo_same_update.py)
        orig_gen = replayed_trl_generation(a.replay, tok.pad_token_id, orig_forward)

    def timed_generation(model, queries, *args, **kw):
        t = time.perf_counter()
        qr, logits = orig_gen(model, queries, *args, **kw)
        clock["gen"] += time.perf_counter() - t
        resp = qr[:, queries.shape[1] :]
        for row in resp.tolist():  # response tokens up to and including the first EOS
            n = next((i + 1 for i, x in enumerate(row) if x == tok.eos_token_id), None)
            clock["gen_tokens"] += n if n is not None else sum(1 for x in row if x != tok.pad_token_id)
        return qr, logits

    def timed(fn):
        def wrapper(*args, **kw):
            if torch.is_grad_enabled():
                return fn(*args, **kw)
            t = time.perf_counter()
            out = fn(*args, **kw)
            clock["score"] += time.perf_counter() - t
            return out

        return wrapper

    # the checkpoint's stored reward normalisation (instructrl applies it to every score): same rewards on both sides
    gain = float(getattr(rm.config, "instructrl_reward_gain", 1.0) or 1.0)
    bias = float(getattr(rm.config, "instructrl_reward_bias", 0.0) or 0.0)

    def normalised_reward(model, *args, **kw):
        logits, score, lengths = orig_reward(model, *args, **kw)
        return (logits, gain * score + bias, lengths) if model is rm else (logits, score, lengths)

    T.batch_generation, T.get_reward, T.forward = timed_generation, timed(normalised_reward), timed(orig_forward)
    marks: list[dict] = []

    class Marks(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            marks.append({"t": time.perf_counter(), **clock})

        def on_step_end(self, args, state, control, **kw):
            marks.append({"t": time.perf_counter(), **clock})

    cfg = PPOConfig(
        output_dir=str(Path(paths["work"]) / f"run-trl{_seed_suffix(a)}"),
        per_device_train_batch_size=a.batch,
        gradient_accumulation_steps=1,
        num_mini_batches=a.minibatches,
        num_ppo_epochs=a.epochs,
        total_episodes=a.batch * a.updates,
        local_rollout_forward_batch_size=a.batch,
        response_length=a.response_len,
        stop_token="eos",
        temperature=1.0,
        missing_eos_penalty=None,
        kl_coef=0.02,
        kl_estimator="k1",
        cliprange=0.2,
        cliprange_value=0.2,
        vf_coef=0.1,
        gamma=1.0,
        lam=0.95,
        whiten_rewards=False,
        learning_rate=a.lr,
        lr_scheduler_type="constant",
        adam_beta1=0.9,
        adam_beta2=0.95,
        adam_epsilon=a.adam_eps,
        weight_decay=0.0,
        num_sample_generations=0,
        save_strategy="no",
        report_to=[],
        logging_steps=1,
        seed=_train_seed(a),
        use_cpu=True,
        bf16=False,
        fp16=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = PPOTrainer(args=cfg, processing_class=tok, model=policy, ref_model=ref, reward_model=rm, train_dataset=ds, value_model=value, callbacks=[Marks()])
    t0 = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - t0
    final = Path(paths["work"]) / f"run-trl{_seed_suffix(a)}" / "final"
    trainer.save_model(str(final))
    tok.save_pretrained(final)
    if a.replay:  # the trained value network too, beside final/ as instructrl keeps it (ppo_same_update.py compares both)
        value.save_pretrained(final.parent / "value", safe_serialization=True)
    steps = [(marks[i - 1], marks[i]) for i in range(1, len(marks))]
    steady = steps[1:] if len(steps) > 1 else steps
    dur = sum(b["t"] - a_["t"] for a_, b in steady)
    gen = sum(b["gen"] - a_["gen"] for a_, b in steady)
    score = sum(b["score"] - a_["score"] for a_, b in steady)
    toks = sum(b["gen_tokens"] - a_["gen_tokens"] for a_, b in steady)
    scores = [h["objective/scores"] for h in trainer.state.log_history if "objective/scores" in h]
    return {
        "seconds_per_update": dur / len(steady),
        "episodes_per_s": a.batch * len(steady) / dur,
        "gen_tokens_per_s": toks / max(gen, 1e-9),
        "tokens_per_s_overall": toks / dur,
        "split": {"generation": gen / dur, "scoring": score / dur, "training": 1 - (gen + score) / dur},
        "score_mean": sum(scores) / len(scores),
        "score_last": scores[-1],
        "wall_s_including_load": wall,
        "final_policy": str(final),
    }


def replayed_trl_generation(path: str, pad_token_id: int, forward):
    """A stand-in for TRL's ``batch_generation`` that returns the episodes of a file: each
    query's response (right-padded to the batch's longest) and, as generation's scores, the
    policy's logits over it from one forward divided by the temperature, as generate's
    temperature warper does. Runs in the TRL virtualenv (no instructrl import)."""
    import torch

    by_prompt = {tuple(e["prompt_ids"]): e["response_ids"] for e in json.loads(Path(path).read_text())["episodes"]}

    def generation(model, queries, local_rollout_forward_batch_size, pad_id, generation_config):
        rows = [by_prompt[tuple(t for t in q if t != pad_token_id)] for q in queries.tolist()]  # queries are left-padded
        width = max(len(r) for r in rows)
        qr = torch.cat([queries, torch.tensor([r + [pad_token_id] * (width - len(r)) for r in rows], dtype=queries.dtype)], 1)
        with torch.no_grad():
            logits = forward(model, qr, pad_token_id).logits[:, queries.shape[1] - 1 : -1] / generation_config.temperature
        return qr, logits

    return generation


# ------------------------------------------------------------------------ held-out evaluation


def run_eval(a: argparse.Namespace, paths: dict, policy: str, name: str) -> dict:
    """One policy on the held-out prompts, by instructrl's PPO evaluation: same sampling seed
    (common random numbers across policies), same RM and normalisation, KL to the initial policy."""
    import torch

    torch.set_num_threads(a.threads)
    from instructrl.config import load_config
    from instructrl.ppo import PPOConfig
    from instructrl.ppo.train import build_models, evaluate, prepare_prompts
    from instructrl.runtime import resolve_device

    out = Path(paths["work"]) / "eval" / name
    cfg = load_config(
        PPOConfig,
        None,
        {
            "model": {"name": policy},
            "reference": paths["policy"],
            "reward": {"kind": "model", "model": paths["rm"], "missing_eos_penalty": None},
            "value": {"kind": "head"},
            "ppo": {"epochs": 1, "minibatches": 1},
            "data": {"prompts": paths["prompts"], "valid_prompts": paths["eval_prompts"], "max_prompt_len": 1024},
            "episodes": a.batch,
            "batch_size": a.batch,
            "generation_batch_size": a.eval_batch,
            "forward_batch_size": a.eval_batch,
            "max_new_tokens": a.response_len,
            "temperature": 1.0,
            "seed": a.seed,
            "output_dir": str(out),
            "resume": False,
            "progress": False,
            "tensorboard": False,
            "device": "cpu",
        },
    )
    device = resolve_device("cpu")
    models = build_models(cfg, device)
    out.mkdir(parents=True, exist_ok=True)
    (out / "samples.jsonl").unlink(missing_ok=True)
    m = evaluate(cfg, models, prepare_prompts(cfg, models.tokenizer), None, device, 0, out)
    rows = [json.loads(l) for l in (out / "samples.jsonl").read_text().splitlines()]
    return {**m, **prompt_means(rows, paths["eval_prompts"])}


def prompt_means(rows: list[dict], prompts_file: str) -> dict:
    """Per-prompt mean scores in the order of the held-out prompt file (one entry per distinct
    prompt, so every policy's list pairs up by prompt), and the raw per-sample scores."""
    from instructrl.data.sources import load_prompts

    order = list(dict.fromkeys(p.as_text() for p in load_prompts(prompts_file)))
    by: dict[str, list[float]] = {t: [] for t in order}
    for r in rows:
        by[r["prompt"]].append(r["score"])
    if any(not v for v in by.values()):
        raise RuntimeError(f"evaluation samples miss {sum(not v for v in by.values())} of the {len(order)} held-out prompts")
    return {"scores": [sum(by[t]) / len(by[t]) for t in order], "sample_scores": [r["score"] for r in rows], "samples_per_prompt": len(rows) / len(order)}


# ------------------------------------------------------------------------------------- driver


def _peak_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB (Linux)


def worker(a: argparse.Namespace) -> None:
    paths = json.loads(a.paths)
    if a.worker == "eval":
        out = run_eval(a, paths, a.policy, a.eval_name)
    else:
        out = run_trl(a, paths) if a.worker == "trl" else run_instructrl(a, paths, a.run_name or a.worker)
    out["peak_rss_gb"] = _peak_rss_gb()
    print("RESULT " + json.dumps(out), flush=True)


def trl_python() -> str:
    py = ROOT / ".bench-venvs" / "trl-1.12" / "bin" / "python"
    if not (py.parent.parent / ".ok").exists():
        out = subprocess.run(["bash", str(ROOT / "benchmarks" / "trl_venv.sh")], capture_output=True, text=True, check=True)
        py = Path(out.stdout.strip().splitlines()[-1])
    return str(py)


def launch(name: str, a: argparse.Namespace, paths: dict, extra: list[str] | None = None) -> dict:
    kind = WORKER.get(name, name.split(":")[0])
    py = trl_python() if kind == "trl" else sys.executable
    run_name = [f"--run-name={name}"] if name in WORKER and kind != "trl" else []
    cmd = [py, __file__, "--worker", kind, "--paths", json.dumps(paths)] + [f"--{k.replace('_', '-')}={v}" for k, v in _shared(a).items() if v is not None] + run_name + (extra or [])
    env = {**os.environ, "OMP_NUM_THREADS": str(a.threads), "MKL_NUM_THREADS": str(a.threads), "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    if name == "trl_malloc":
        from instructrl.runtime import GLIBC_MALLOC_ENV

        env.update(GLIBC_MALLOC_ENV)
    elif name == "instructrl_nomalloc":
        env["INSTRUCTRL_MALLOC_TUNING"] = "0"
    print(f"[{name}] running ...", flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if a.record:
        Path(a.record).mkdir(parents=True, exist_ok=True)
        (Path(a.record) / f"{name.replace(':', '-')}.log").write_text(" ".join(cmd) + "\n\n" + p.stdout + "\n--- stderr ---\n" + p.stderr[-20000:])
    lines = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
    if p.returncode != 0 or not lines:
        sys.stderr.write(p.stderr[-4000:])
        raise SystemExit(f"[{name}] failed with exit code {p.returncode}")
    return json.loads(lines[-1][len("RESULT ") :])


def _saved_results(saved: Path, a: argparse.Namespace, configs: list[str]) -> dict:
    """``--eval-only``: the training results of the last run of ``configs`` with these settings."""
    if not saved.exists():
        raise SystemExit(f"--eval-only: no {saved} from an earlier run in --work {a.work}")
    old = json.loads(saved.read_text())
    missing = [c for c in configs if c not in old["results"]]
    same = lambda d: {k: v for k, v in d.items() if k != "eval_batch"}  # noqa: E731 (the batch does not change a trained policy)
    if missing or same({"adam_eps": 1e-5, "train_seed": None, **old["args"]}) != same(_shared(a)):  # older runs: no such keys
        raise SystemExit(f"--eval-only: {saved} has configs {sorted(old['results'])} with args {old['args']}; asked for {configs} with {_shared(a)}")
    return {c: old["results"][c] for c in configs}


def _train_seed(a: argparse.Namespace) -> int:
    return a.seed if a.train_seed is None else a.train_seed


def _seed_suffix(a: argparse.Namespace) -> str:
    """Run folders of another training seed sit beside the default ones (``run-trl-s1``)."""
    return "" if _train_seed(a) == a.seed else f"-s{_train_seed(a)}"


def _shared(a: argparse.Namespace) -> dict:
    keys = ("model", "updates", "batch", "response_len", "epochs", "minibatches", "threads", "lr", "lora_lr", "adam_eps", "seed", "train_seed", "work", "eval_batch")
    return {k: getattr(a, k) for k in keys}


def report(results: dict, a: argparse.Namespace, evals: dict | None = None) -> str:
    lines = [
        f"PPO benchmark: {a.model} policy/reference/reward/value, batch {a.batch}, {a.response_len}-token responses, "
        f"{a.epochs} epoch x {a.minibatches} minibatch, fp32, {a.threads} threads, {a.updates} updates (speed: updates 2..N)",
        "",
        f"{'config':<20} {'episodes/s':>10} {'s/update':>9} {'gen tok/s':>9} {'peak GB':>8} {'score':>8}  split gen/score/train",
    ]
    for name, r in results.items():
        s = r["split"]
        lines.append(
            f"{name:<20} {r['episodes_per_s']:>10.3f} {r['seconds_per_update']:>9.1f} {r['gen_tokens_per_s']:>9.1f} {r['peak_rss_gb']:>8.2f} "
            f"{r['score_mean']:>8.3f}  {s['generation']:.0%} / {s['scoring']:.0%} / {s['training']:.0%}"
        )
    if "trl" in results and "instructrl" in results:
        t, i = results["trl"], results["instructrl"]
        lines += ["", f"instructrl / TRL episodes/s: {i['episodes_per_s'] / t['episodes_per_s']:.2f}x (target >= 1.5x); "
                  f"mean training score {i['score_mean']:.3f} vs {t['score_mean']:.3f}; peak memory {i['peak_rss_gb']:.2f} vs {t['peak_rss_gb']:.2f} GB"]
    if "trl_malloc" in results and "instructrl" in results:
        t, i = results["trl_malloc"], results["instructrl"]
        lines += [f"instructrl / TRL with the same allocator settings (trl_malloc): {i['episodes_per_s'] / t['episodes_per_s']:.2f}x"]
    if "instructrl_nomalloc" in results and "instructrl" in results:
        u, i = results["instructrl_nomalloc"], results["instructrl"]
        lines += [f"instructrl's allocator tuning alone (instructrl / instructrl_nomalloc): {i['episodes_per_s'] / u['episodes_per_s']:.2f}x"]
    if "rloo" in results and "instructrl" in results:
        r, i = results["rloo"], results["instructrl"]
        lines += [f"RLOO (group of {a.rloo_group}, no value network) / PPO episodes/s: {r['episodes_per_s'] / i['episodes_per_s']:.2f}x; "
                  f"peak memory {r['peak_rss_gb']:.2f} vs {i['peak_rss_gb']:.2f} GB; its score column is over other prompts "
                  f"(1/{a.rloo_group} as many per batch, each sampled {a.rloo_group} times) and does not compare with the others'"]
    if evals:
        first = next(iter(evals.values()))
        n, k = len(first["scores"]), first.get("samples_per_prompt", 1)
        each = "one sample each" if k == 1 else f"{k:g} samples each (a prompt's score is their mean)"
        lines += ["", f"Held-out evaluation after training: {n} prompts not used in training, {each} at T = 1 with the same "
                  "sampling seed for every policy, scored by the same RM (normalised); standard errors over prompts; KL to the initial policy in nats per episode",
                  "", f"{'policy':<11} {'score':>7} {'+-se':>6} {'vs init':>8} {'+-se':>6} {'KL':>6} {'len':>6} {'EOS':>5}"]
        base = evals.get("init")
        for name, e in evals.items():
            sc = e["scores"]
            mean, se = _mean_se(sc)
            d, dse = _mean_se([x - y for x, y in zip(sc, base["scores"])]) if base and name != "init" else (float("nan"), float("nan"))
            lines.append(f"{name:<11} {mean:>7.3f} {se:>6.3f} {d:>+8.3f} {dse:>6.3f} {e['eval/kl_to_ref']:>6.2f} {e['eval/response_len']:>6.1f} {e['eval/eos_rate']:>5.2f}")
        if "trl" in evals and "instructrl" in evals:
            d, dse = _mean_se([x - y for x, y in zip(evals["instructrl"]["scores"], evals["trl"]["scores"])])
            lines += ["", f"instructrl - TRL held-out score (paired by prompt): {d:+.3f} +- {dse:.3f} (se)"]
    return "\n".join(lines)


def _mean_se(xs: list[float]) -> tuple[float, float]:
    n = len(xs)
    m = sum(xs) / n
    var = sum((x - m) ** 2 for x in xs) / max(1, n - 1)
    return m, (var / n) ** 0.5


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m", help="policy/reference/reward/value base (`tiny` checks the harness quickly)")
    ap.add_argument("--updates", type=int, default=3, help="PPO updates per configuration (speed is measured on updates 2..N)")
    ap.add_argument("--batch", type=int, default=8, help="episodes per update")
    ap.add_argument("--response-len", type=int, default=64, help="max response tokens")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--minibatches", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=3e-6, help="policy and value learning rate (both sides)")
    ap.add_argument("--rloo-group", type=int, default=4, help="responses per prompt of the rloo configuration (it must divide --batch)")
    ap.add_argument("--lora-lr", type=float, default=1e-4, help="policy learning rate of the LoRA configurations")
    ap.add_argument("--adam-eps", type=float, default=1e-5, help="Adam epsilon of policy and value (both sides)")
    ap.add_argument("--seed", type=int, default=0, help="prompts, the RM's head, held-out sampling, and training unless --train-seed")
    ap.add_argument("--train-seed", type=int, default=None, help="the sides' training seed (sampling, order) alone: same prompts, RM and held-out evaluation as --seed, another training run")
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated subset of {CONFIGS}")
    ap.add_argument("--work", default=str(ROOT / "runs" / "bench-ppo"), help="scratch directory (RM, prompts, runs; runs/ is git-ignored)")
    ap.add_argument("--record", default=None, help="write README-ready results (results.json, report.txt) to this records/ folder")
    ap.add_argument("--rm", default=None, help="a trained reward model for both sides (and the value init); default: a seeded random head on the policy")
    ap.add_argument("--eval-prompts", type=int, default=0, help="after training, score the initial policy and each side's final policy on this many held-out prompts")
    ap.add_argument("--eval-samples", type=int, default=1, help="samples per held-out prompt (their mean is the prompt's score; more samples, smaller standard errors)")
    ap.add_argument("--eval-batch", type=int, default=16, help="generation batch of the held-out evaluation")
    ap.add_argument("--no-eval-init", action="store_true", help="evaluate the final policies only, not the initial one (its scores do not depend on --train-seed)")
    ap.add_argument("--eval-only", action="store_true", help="skip training: evaluate the final policies of the last run of these configs in --work")
    ap.add_argument("--replay", default=None, help="episodes file to train on instead of sampling, both sides (benchmarks/ppo_same_update.py writes one)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--run-name", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--policy", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--eval-name", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--paths", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        worker(a)
        return 0
    configs = [c for c in a.configs.split(",") if c]
    bad = [c for c in configs if c not in CONFIGS]
    if bad:
        raise SystemExit(f"unknown configs {bad}; known: {CONFIGS}")
    # exactly batch x updates prompts: each side samples every prompt once (in its own order),
    # so the mean score is over the same prompts
    if a.eval_samples < 1:
        raise SystemExit(f"--eval-samples must be >= 1, got {a.eval_samples}")
    paths = prepare(Path(a.work), a.model, a.batch * a.updates, a.seed, rm=a.rm, n_eval=a.eval_prompts, eval_samples=a.eval_samples)
    saved = Path(paths["work"]) / f"train_results{_seed_suffix(a)}.json"  # so an evaluation can be redone without retraining
    if a.eval_only:
        results = _saved_results(saved, a, configs)
    else:
        results = {}
        for name in configs:
            results[name] = launch(name, a, paths)
            saved.write_text(json.dumps({"args": _shared(a), "results": results}, indent=2))
    evals = {}
    if a.eval_prompts:
        for name, policy in ([] if a.no_eval_init else [("init", paths["policy"])]) + [(n, r["final_policy"]) for n, r in results.items() if n in ("trl", "instructrl")]:
            evals[name] = launch(f"eval:{name}", a, paths, ["--policy", policy, "--eval-name", name + ("" if name == "init" else _seed_suffix(a))])
    text = report(results, a, evals)
    print(text)
    if a.record:
        rec = Path(a.record)
        rec.mkdir(parents=True, exist_ok=True)
        (rec / "results.json").write_text(json.dumps({"args": {**_shared(a), "rm": a.rm, "eval_prompts": a.eval_prompts, "eval_samples": a.eval_samples}, "results": results, "eval": evals}, indent=2))
        (rec / "report.txt").write_text(text + "\n")
        for name in results:  # the resolved instructrl configs
            cfg = Path(paths["work"]) / f"run-{name}{_seed_suffix(a)}" / "config.yaml"
            if cfg.exists():
                shutil.copy(cfg, rec / f"{name}.config.yaml")
        argv_text = " ".join(sys.argv[1:])
        (rec / "README.md").write_text(
            f"# PPO speed: instructrl vs TRL 1.12\n\nCommand: `python benchmarks/ppo.py {argv_text}`\n\n"
            f"Settings (identical on both sides): see the docstring of `benchmarks/ppo.py`.\n\n```\n{text}\n```\n\n"
            "Files: `results.json` (all numbers), `report.txt`, `<config>.log` (each worker's output), "
            "`<config>.config.yaml` (instructrl's resolved configs).\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
