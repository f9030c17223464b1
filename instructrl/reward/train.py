"""Reward model training on K-way rankings (InstructGPT step 2, method doc §2).

``train(cfg)`` reads top to bottom: load the scalar-head model -> load, split and tokenize
rankings -> plan steps -> resume -> for each step: forward/backward over micro-batches of
prompts (one packed row per prompt, ``model.py``), clip, step -> evaluate / checkpoint ->
held-out metrics + calibration plot -> normalise on demonstrations -> final checkpoint.

Loss scale: a step's loss is the sum of per-prompt losses over the global batch divided by
the number of prompts in it (Eq. 1, ``loss.py``), whatever the split into processes and
micro-batches.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from instructrl.checkpoint import load_trainer_state, load_weights_from_dir, mark_complete, save_model, save_trainer_state
from instructrl.data.io import write_text_atomic
from instructrl.data.schemas import DataError, Prompt, Ranking
from instructrl.data.sources import load_demonstrations
from instructrl.models.heads import load_scalar_model, set_normalization
from instructrl.runs import MetricsLogger, latest_checkpoint, open_accelerated_run, prune_checkpoints, write_provenance
from instructrl.sft.train import cosine_lambda, global_batch, micro_batches

from .config import RewardConfig
from .data import TokenizedRanking, is_heldout, load_rankings, tokenize_ranking
from .loss import pairwise_loss, ranking_loss, ranking_pairs
from .metrics import calibration, ranking_metrics, write_calibration
from .model import CHAT_TEMPLATE_KEY, PackedRewards, RewardModel, pack_groups, score, to_device
from .normalize import normalization_constants


@dataclass
class RewardData:
    train: list[TokenizedRanking]  # the optimizer's examples (pairs in shuffled_pairs mode)
    valid: list[TokenizedRanking]
    top: list[tuple[Prompt, str]]  # top-ranked training responses: the default normalisation set
    n_rankings: int
    n_skipped: int
    n_all_tied: int  # rankings whose responses all tie carry no comparison and are dropped


def _tokenize(cfg: RewardConfig, tok: Any, rows: list[tuple[Ranking, str]]) -> tuple[list[TokenizedRanking], int, int]:
    out, skipped, tied = [], 0, 0
    for r, where in rows:
        if not r.pairs():
            tied += 1
            continue
        try:
            out.append(tokenize_ranking(tok, r, max_seq_len=cfg.data.max_seq_len, use_chat_template=cfg.data.use_chat_template))
        except DataError as e:
            if not cfg.data.skip_bad:
                raise e.located(where) from None
            skipped += 1
    return out, skipped, tied


def expand_pairs(items: list[TokenizedRanking]) -> list[TokenizedRanking]:
    """ABLATION (loss=shuffled_pairs): every untied pair as its own K = 2 example (winner first)."""
    out = []
    for it in items:
        pairs = ranking_pairs([it.ranks])
        for w, l in zip(pairs.winner.tolist(), pairs.loser.tolist()):
            out.append(TokenizedRanking(it.prompt_ids, (it.response_ids[w], it.response_ids[l]), (1, 2), it.category))
    return out


def prepare_data(cfg: RewardConfig, tok: Any) -> RewardData:
    d = cfg.data
    loaded = load_rankings(d.train, columns=d.columns, skip_bad=d.skip_bad, k=d.k)
    rows = list(zip(loaded.records, loaded.sources))  # (ranking, "file:line")
    skipped = loaded.n_skipped
    if d.valid:
        valid_loaded = load_rankings(d.valid, columns=d.columns, skip_bad=d.skip_bad, k=d.k)
        train_rows, valid_rows = rows, list(zip(valid_loaded.records, valid_loaded.sources))
        skipped += valid_loaded.n_skipped
    else:
        held = [is_heldout(r.prompt, d.valid_fraction, d.split_salt) for r, _ in rows]
        train_rows = [x for x, h in zip(rows, held) if not h]
        valid_rows = [x for x, h in zip(rows, held) if h]
    if d.max_train is not None:
        train_rows = train_rows[: d.max_train]
    train, s1, t1 = _tokenize(cfg, tok, train_rows)
    valid, s2, t2 = _tokenize(cfg, tok, valid_rows)
    if not train:
        raise ValueError(f"no usable training rankings in {d.train!r} ({skipped + s1} skipped, {t1} all tied)")
    top = [(r.prompt, r.responses[i]) for r, _ in train_rows for i in range(r.k) if r.ranks[i] == min(r.ranks)]
    if cfg.loss == "shuffled_pairs":
        train = expand_pairs(train)
    return RewardData(train, valid, top, len(train_rows), skipped + s1 + s2, t1 + t2)


def total_steps(cfg: RewardConfig, n: int) -> int:
    if cfg.max_steps is not None:
        return cfg.max_steps
    return max(1, math.ceil(cfg.epochs * n / cfg.batch_size))


def _groups(items: list[TokenizedRanking]) -> list[tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]]:
    return [(it.prompt_ids, it.response_ids) for it in items]


def train_step(step: int, data: RewardData, wrapper, optimizer, scheduler, cfg: RewardConfig, pad_id: int, acc) -> dict[str, float]:
    idx = global_batch(step, len(data.train), cfg.batch_size, cfg.seed)
    n_prompts = len(idx)  # every example has at least one pair, so each weighs 1 / n_prompts
    micros = micro_batches(idx, acc.num_processes, acc.process_index, cfg.micro_batch_size)
    tot = torch.zeros(5, dtype=torch.float64)  # loss sum, correct, margin sum, pairs, tokens
    for j, m in enumerate(micros):
        if not m:
            continue
        items = [data.train[i] for i in m]
        batch = pack_groups(_groups(items), pad_id)
        ctx = acc.no_sync(wrapper) if j < len(micros) - 1 and acc.num_processes > 1 else contextlib.nullcontext()
        with ctx:
            rewards = wrapper(to_device(batch, acc.device))  # (N,)
            if cfg.loss == "grouped":
                rl = ranking_loss(rewards, ranking_pairs([it.ranks for it in items]))
                loss_sum, correct, margin = rl.per_prompt.sum(), rl.correct, rl.margin
            else:  # ablation: K = 2 examples, winner first
                r = rewards.view(-1, 2)
                loss_sum = pairwise_loss(r[:, 0], r[:, 1]) * len(items)
                margin = (r[:, 0] - r[:, 1]).detach()
                correct = (margin > 0).double() + 0.5 * (margin == 0).double()
            # DDP averages gradients over processes: scale back to a global mean over prompts.
            acc.backward(loss_sum * acc.num_processes / n_prompts)
        tot += torch.tensor([loss_sum.item(), correct.sum().item(), margin.sum().item(), margin.numel(), batch.n_tokens], dtype=torch.float64)
    grad_norm = acc.clip_grad_norm_(wrapper.parameters(), cfg.optim.grad_clip) if cfg.optim.grad_clip > 0 else None
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    lr = scheduler.get_last_lr()[0]
    scheduler.step()
    tot = acc.reduce(tot.to(acc.device), reduction="sum").cpu()
    out = {
        "rm/loss": float(tot[0]) / n_prompts,
        "rm/accuracy": float(tot[1] / tot[3].clamp(min=1)),
        "rm/margin": float(tot[2] / tot[3].clamp(min=1)),
        "rm/lr": lr,
        "rm/comparisons": float(tot[3]),
        "rm/tokens": float(tot[4]),
    }
    if grad_norm is not None:
        out["rm/grad_norm"] = float(grad_norm)
    return out


@torch.no_grad()
def rewards_of(wrapper, items: list[TokenizedRanking], micro: int, pad_id: int, acc) -> list[list[float]]:
    """Raw rewards of every response of ``items`` (each process scores a shard)."""
    from accelerate.utils import gather_object

    was = wrapper.training
    wrapper.eval()
    mine = list(range(acc.process_index, len(items), acc.num_processes))
    found: list[tuple[int, list[float]]] = []
    for s in range(0, len(mine), micro):
        chunk = mine[s : s + micro]
        r = wrapper(to_device(pack_groups(_groups([items[i] for i in chunk]), pad_id), acc.device)).cpu().tolist()
        pos = 0
        for i in chunk:
            found.append((i, r[pos : pos + items[i].k]))
            pos += items[i].k
    wrapper.train(was)
    if acc.num_processes > 1:
        found = gather_object(found)
    by_index = dict(found)
    return [by_index[i] for i in range(len(items))]


def evaluate(wrapper, items: list[TokenizedRanking], cfg: RewardConfig, pad_id: int, acc) -> tuple[dict[str, float], dict]:
    """Held-out metrics (``rm/valid_*``) and the calibration table."""
    if not items:
        return {}, {}
    rewards = rewards_of(wrapper, items, cfg.micro_batch_size, pad_id, acc)
    ranks = [it.ranks for it in items]
    m = ranking_metrics(rewards, ranks, [it.category for it in items])
    return {f"rm/valid_{k}": v for k, v in m.items()}, calibration(rewards, ranks)


def _save_checkpoint(run: Path, step: int, wrapper, tok, optimizer, scheduler, cfg: RewardConfig, acc) -> None:
    ck = run / "checkpoints" / f"step-{step}"
    acc.wait_for_everyone()
    if acc.is_main_process:
        save_model(acc.unwrap_model(wrapper).model, tok, ck)
    save_trainer_state(ck, {"step": step, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, rank=acc.process_index, is_main=acc.is_main_process)
    acc.wait_for_everyone()
    if acc.is_main_process:
        mark_complete(ck, {"step": step})
        prune_checkpoints(run, cfg.keep_checkpoints)
    acc.wait_for_everyone()


def _maybe_resume(run: Path, wrapper, optimizer, scheduler, acc) -> int:
    ck = latest_checkpoint(run)
    if ck is None:
        return 0
    load_weights_from_dir(acc.unwrap_model(wrapper).model, ck)
    state = load_trainer_state(ck, rank=acc.process_index)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    acc.print(f"resumed from {ck} (step {state['step']})")
    return int(state["step"])


def normalization_set(cfg: RewardConfig, data: RewardData) -> list[tuple[Prompt, str]]:
    """The demonstrations the bias is fitted on: ``normalize.demonstrations``, or (fallback)
    the top-ranked responses of the training rankings. At most ``max_examples``."""
    n = cfg.normalize.max_examples
    if cfg.normalize.demonstrations:
        demos = load_demonstrations(cfg.normalize.demonstrations).records
        return [(d.prompt, d.response) for d in demos[:n]]
    return data.top[:n]


def normalize_model(model, tok, cfg: RewardConfig, data: RewardData) -> dict[str, Any]:
    """Fit and store gain/bias on the demonstrations (raw scores: the stored pair is reset
    first). Returns what was done, for ``normalization.json``."""
    set_normalization(model, 1.0, 0.0)
    nc = cfg.normalize
    if nc.mode == "none":
        return {"mode": "none", "gain": 1.0, "bias": 0.0}
    demos = normalization_set(cfg, data)
    raw = score(RewardModel(model, tok), [p for p, _ in demos], [r for _, r in demos], batch_size=cfg.micro_batch_size)
    gain, bias = normalization_constants(raw, nc.mode, nc.target_mean, nc.target_std)
    set_normalization(model, gain, bias)
    source = nc.demonstrations or "top-ranked responses of the training rankings"
    return {"mode": nc.mode, "gain": gain, "bias": bias, "n": len(raw), "raw_mean": sum(raw) / len(raw), "source": source}


def _finalize(run: Path, wrapper, tok, cfg: RewardConfig, data: RewardData, final_metrics: dict, acc) -> Path:
    final = run / "final"
    acc.wait_for_everyone()
    if acc.is_main_process:
        model = acc.unwrap_model(wrapper).model
        norm = normalize_model(model, tok, cfg, data)
        shutil.rmtree(final, ignore_errors=True)
        save_model(model, tok, final)
        write_provenance(final, cfg)
        write_text_atomic(final / "normalization.json", json.dumps(norm, indent=2))
        write_text_atomic(run / "eval.json", json.dumps(final_metrics, indent=2))
        mark_complete(final, {"normalization": norm})
        acc.print(f"rm: normalisation {norm['mode']}: gain {norm['gain']:.4g}, bias {norm['bias']:.4g}")
    acc.wait_for_everyone()
    return final


def train(cfg: RewardConfig) -> Path:
    """Train a reward model; returns the directory of the final (normalised) HF checkpoint."""
    from accelerate.utils import set_seed

    acc, run, finished = open_accelerated_run(cfg)
    if finished is not None:
        return finished
    set_seed(cfg.seed)
    model, tok = load_scalar_model(cfg.model.name, dtype=cfg.model.dtype, dropout=cfg.model.dropout, seed=cfg.seed)
    set_normalization(model, 1.0, 0.0)  # training works on raw rewards
    setattr(model.config, CHAT_TEMPLATE_KEY, cfg.data.use_chat_template)
    data = prepare_data(cfg, tok)
    steps = total_steps(cfg, len(data.train))
    o = cfg.optim
    optimizer = torch.optim.AdamW(model.parameters(), lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=o.weight_decay, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_lambda(steps, o.warmup_steps, o.min_lr_ratio))
    wrapper, optimizer = acc.prepare(PackedRewards(model), optimizer)
    if acc.is_main_process:
        write_provenance(run, cfg)
    start = _maybe_resume(run, wrapper, optimizer, scheduler, acc) if cfg.resume else 0
    logger = MetricsLogger(run, enabled=acc.is_main_process, resume_step=start if start else None, tensorboard=cfg.tensorboard)
    acc.print(
        f"rm: {data.n_rankings} training rankings -> {len(data.train)} examples ({cfg.loss}), {len(data.valid)} held out, "
        f"{data.n_skipped} skipped, {data.n_all_tied} all tied (dropped); {steps} steps"
    )
    pad_id = tok.pad_token_id
    bar = _progress(cfg, acc, steps, start)
    wrapper.train()
    final_metrics: dict[str, float] = {}
    t0 = time.perf_counter()
    for step in range(start, steps):
        metrics = train_step(step, data, wrapper, optimizer, scheduler, cfg, pad_id, acc)
        metrics["rm/comparisons_per_s"] = metrics["rm/comparisons"] / max(1e-9, time.perf_counter() - t0)
        eval_due = (cfg.eval_every and (step + 1) % cfg.eval_every == 0) or step + 1 == steps
        if eval_due:
            valid_metrics, table = evaluate(wrapper, data.valid, cfg, pad_id, acc)
            metrics.update(valid_metrics)
            if step + 1 == steps:
                final_metrics = {"step": steps, **valid_metrics}
                if table and acc.is_main_process:
                    write_calibration(table, run, title=f"RM calibration, {len(data.valid)} held-out prompts")
        logger.log(step + 1, metrics)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{metrics['rm/loss']:.3f}", acc=f"{metrics['rm/accuracy']:.2f}")
        save_due = (step + 1) % cfg.save_every == 0 if cfg.save_every else eval_due
        if save_due and step + 1 < steps:
            _save_checkpoint(run, step + 1, wrapper, tok, optimizer, scheduler, cfg, acc)
        t0 = time.perf_counter()
    if bar is not None:
        bar.close()
    logger.close()
    final = _finalize(run, wrapper, tok, cfg, data, final_metrics, acc)
    held = f"held-out accuracy {final_metrics['rm/valid_accuracy']:.4f}" if "rm/valid_accuracy" in final_metrics else "no held-out rankings"
    acc.print(f"rm: {held}; final checkpoint: {final}")
    return final


def _progress(cfg: RewardConfig, acc, total: int, start: int):
    if not cfg.progress or not acc.is_main_process:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, desc="rm", unit="step")
