"""Supervised fine-tuning on demonstrations (InstructGPT step 1, method doc §1).

``train(cfg)`` reads top to bottom: load model -> tokenize data -> plan steps -> resume ->
for each step: forward/backward over micro-batches, clip, step -> evaluate / checkpoint ->
pick the final checkpoint. Runs under ``accelerate`` (1 CPU process, DDP, DeepSpeed, FSDP).

Loss normalisation: the loss of a step is the summed token cross-entropy over the whole
global batch divided by the number of loss tokens in it, whatever the split into
processes and micro-batches, so N processes give the same update as one (tested).
"""

from __future__ import annotations

import math
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from instructrl.checkpoint import load_trainer_state, load_weights_from_dir, mark_complete, save_model, save_trainer_state
from instructrl.data.collate import Batch, pack_batch, pad_batch
from instructrl.data.render import Example, tokenize_demonstration, tokenize_text
from instructrl.data.schemas import DataError
from instructrl.data.sources import load_demonstrations, load_texts
from instructrl.models.attention import is_enabled as attention_is_enabled
from instructrl.models.loader import load_causal_lm
from instructrl.models.logprobs import lm_loss_sum
from instructrl.runs import MetricsLogger, latest_checkpoint, open_accelerated_run, prune_checkpoints, write_provenance

from .config import SFTConfig

ScoreFn = Callable[[Any, Any], float]  # (model, tokenizer) -> higher is better


class SelectiveLMLoss(torch.nn.Module):
    """Wraps a causal LM so DDP sees one forward that returns (summed loss, n tokens),
    with the lm head applied only at positions that carry a loss."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model
        # Padding-free attention makes a row's length free: pack a micro-batch into one row.
        self.single_row = attention_is_enabled(model)

    def forward(self, input_ids, labels, attention_mask=None, position_ids=None):
        return lm_loss_sum(self.model, input_ids, labels, attention_mask, position_ids)


@dataclass
class SFTData:
    train: list[Example]
    valid: list[Example]
    n_demos: int
    n_pretrain: int
    n_skipped: int


def _tokenize_all(cfg: SFTConfig, tok: Any, spec: str) -> tuple[list[Example], int]:
    if cfg.data.kind == "text":
        out = [e for text in load_texts(spec) for e in tokenize_text(tok, text, cfg.data.max_seq_len)]
        if not out:
            raise ValueError(f"no text in {spec!r}")
        return out, 0
    loaded = load_demonstrations(spec, columns=cfg.data.columns, skip_bad=cfg.data.skip_bad)
    out, skipped = [], loaded.n_skipped
    for i, demo in enumerate(loaded.records):
        try:
            out.append(
                tokenize_demonstration(
                    tok, demo, max_seq_len=cfg.data.max_seq_len, mask_prompt=cfg.data.mask_prompt, use_chat_template=cfg.data.use_chat_template
                )
            )
        except DataError as e:
            where = loaded.sources[i] if i < len(loaded.sources) else f"{spec}#{i}"
            if not cfg.data.skip_bad:
                raise e.located(where) from None
            skipped += 1
    if not out:
        raise ValueError(f"no usable demonstrations in {spec!r} ({skipped} skipped)")
    return out, skipped


def prepare_data(cfg: SFTConfig, tok: Any) -> SFTData:
    train, skipped = _tokenize_all(cfg, tok, cfg.data.train)
    if cfg.data.valid:
        valid, s2 = _tokenize_all(cfg, tok, cfg.data.valid)
        skipped += s2
    else:
        rng = random.Random(cfg.seed)
        order = list(range(len(train)))
        rng.shuffle(order)
        n_valid = int(round(cfg.data.valid_fraction * len(train)))
        valid = [train[i] for i in order[:n_valid]]
        train = [train[i] for i in sorted(order[n_valid:])]
    n_demos = len(train)
    n_pre = 0
    if cfg.data.pretrain_fraction > 0:
        f = cfg.data.pretrain_fraction
        want = int(round(f / (1 - f) * n_demos))
        pre: list[Example] = []
        for text in load_texts(cfg.data.pretrain):  # type: ignore[arg-type]
            pre.extend(tokenize_text(tok, text, cfg.data.max_seq_len, cfg.data.pretrain_append_eos))
            if len(pre) >= want:
                break
        if len(pre) < want:
            raise ValueError(f"data.pretrain {cfg.data.pretrain!r} yields {len(pre)} examples, {want} needed for pretrain_fraction={f}")
        train = train + pre[:want]
        n_pre = want
    return SFTData(train=train, valid=valid, n_demos=n_demos, n_pretrain=n_pre, n_skipped=skipped)


def total_steps(cfg: SFTConfig, n_examples: int) -> int:
    if cfg.max_steps is not None:
        return cfg.max_steps
    return max(1, math.ceil(cfg.epochs * n_examples / cfg.batch_size))


def global_batch(step: int, n_examples: int, batch_size: int, seed: int) -> list[int]:
    """Example indices of optimizer step ``step``: a stream of per-epoch permutations
    (seeded by seed + epoch), cut into consecutive batches. Pure, so resume is exact."""
    out: list[int] = []
    pos = step * batch_size
    while len(out) < batch_size:
        epoch, offset = divmod(pos, n_examples)
        perm = list(range(n_examples))
        random.Random(seed * 100_003 + epoch).shuffle(perm)
        take = perm[offset : offset + batch_size - len(out)]
        out.extend(take)
        pos += len(take)
    return out


def micro_batches(indices: list[int], world: int, rank: int, micro: int) -> list[list[int]]:
    """This rank's micro-batches of a global batch (contiguous chunks, rank-major)."""
    accum = max(1, math.ceil(len(indices) / (world * micro)))
    per = math.ceil(len(indices) / (world * accum))
    chunks = [indices[i * per : (i + 1) * per] for i in range(world * accum)]
    return [c for c in chunks[rank * accum : (rank + 1) * accum]]


def cosine_lambda(total: int, warmup: int, min_ratio: float) -> Callable[[int], float]:
    """LR multiplier: linear warmup from 0, then cosine from 1 down to ``min_ratio``
    at the last step (the paper: cosine to 10% of the initial LR)."""

    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        span = max(1, total - warmup - 1)
        progress = min(1.0, (step - warmup) / span)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


def make_batch(examples: list[Example], cfg: SFTConfig, pad_id: int, single_row: bool = False) -> Batch:
    """Packed rows of at most ``data.max_seq_len`` tokens, or, with per-example attention
    (``single_row``), the whole micro-batch in one row with no padding at all."""
    if cfg.pack:
        cap = sum(len(e) for e in examples) if single_row else cfg.data.max_seq_len
        return pack_batch(examples, cap, pad_id)
    return pad_batch(examples, pad_id, side="right")


def _loss_on(wrapper: torch.nn.Module, batch: Batch, device: torch.device) -> tuple[torch.Tensor, int]:
    mask = None if batch.attention_mask is None else batch.attention_mask.to(device)
    return wrapper(batch.input_ids.to(device), batch.labels.to(device), mask, batch.position_ids.to(device))


@torch.no_grad()
def validation_loss(wrapper, examples: list[Example], cfg: SFTConfig, pad_id: int, acc) -> float:
    if not examples:
        return float("nan")
    was = wrapper.training
    wrapper.eval()
    mine = examples[acc.process_index :: acc.num_processes]
    tot = torch.zeros(2, dtype=torch.float64, device=acc.device)
    for s in range(0, len(mine), cfg.micro_batch_size):
        loss, n = _loss_on(wrapper, make_batch(mine[s : s + cfg.micro_batch_size], cfg, pad_id, _single_row(wrapper, acc)), acc.device)
        tot += torch.tensor([loss.item(), n], dtype=torch.float64, device=acc.device)
    tot = acc.reduce(tot, reduction="sum")
    wrapper.train(was)
    return float(tot[0] / tot[1].clamp(min=1))


def train_step(step: int, data: SFTData, wrapper, optimizer, scheduler, cfg: SFTConfig, pad_id: int, acc) -> dict[str, float]:
    idx = global_batch(step, len(data.train), cfg.batch_size, cfg.seed)
    n_loss_tokens = sum(data.train[i].n_loss_tokens for i in idx)  # global, known on every rank
    micros = micro_batches(idx, acc.num_processes, acc.process_index, cfg.micro_batch_size)
    loss_sum, n_tok = 0.0, 0
    for j, m in enumerate(micros):
        batch = make_batch([data.train[i] for i in m], cfg, pad_id, _single_row(wrapper, acc))
        n_tok += batch.n_tokens
        sync = j == len(micros) - 1
        ctx = acc.no_sync(wrapper) if not sync and acc.num_processes > 1 else _null()
        with ctx:
            loss, _ = _loss_on(wrapper, batch, acc.device)
            # DDP averages gradients over processes: scale back to a global token mean.
            acc.backward(loss * acc.num_processes / max(1, n_loss_tokens))
        loss_sum += loss.item()
    grad_norm = acc.clip_grad_norm_(wrapper.parameters(), cfg.optim.grad_clip) if cfg.optim.grad_clip > 0 else None
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    lr = scheduler.get_last_lr()[0]
    scheduler.step()
    totals = acc.reduce(torch.tensor([loss_sum, n_tok], dtype=torch.float64, device=acc.device), reduction="sum")
    out = {"sft/loss": float(totals[0]) / max(1, n_loss_tokens), "sft/lr": lr, "sft/tokens": float(totals[1])}
    if grad_norm is not None:
        out["sft/grad_norm"] = float(grad_norm)
    return out


def _single_row(wrapper, acc) -> bool:
    return bool(getattr(acc.unwrap_model(wrapper), "single_row", False))


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _save_checkpoint(run: Path, step: int, wrapper, tok, optimizer, scheduler, best: dict, cfg: SFTConfig, acc) -> None:
    ck = run / "checkpoints" / f"step-{step}"
    acc.wait_for_everyone()
    if acc.is_main_process:
        save_model(acc.unwrap_model(wrapper).model, tok, ck, merged=False, base_spec=cfg.model.name)
    state = {"step": step, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "best": best}
    save_trainer_state(ck, state, rank=acc.process_index, is_main=acc.is_main_process)
    acc.wait_for_everyone()
    if acc.is_main_process:
        mark_complete(ck, {"step": step})
        prune_checkpoints(run, cfg.keep_checkpoints)
    acc.wait_for_everyone()


def _maybe_resume(run: Path, wrapper, optimizer, scheduler, acc) -> tuple[int, dict]:
    ck = latest_checkpoint(run)
    if ck is None:
        return 0, {"score": None, "step": None}
    load_weights_from_dir(acc.unwrap_model(wrapper).model, ck)
    state = load_trainer_state(ck, rank=acc.process_index)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    acc.print(f"resumed from {ck} (step {state['step']})")
    return int(state["step"]), state["best"]


def _evaluate(step, wrapper, data, cfg, pad_id, acc, tok, score_fn, best, run) -> dict[str, float]:
    metrics = {"sft/valid_loss": validation_loss(wrapper, data.valid, cfg, pad_id, acc)}
    if cfg.select_by == "score":
        if score_fn is None:
            raise ValueError("select_by='score' needs a score_fn (train(cfg, score_fn=...))")
        metrics["sft/score"] = float(score_fn(acc.unwrap_model(wrapper).model, tok))
    score = {"valid_loss": -metrics["sft/valid_loss"], "score": metrics.get("sft/score"), "last": float(step)}[cfg.select_by]
    if cfg.select_by != "last" and (best["score"] is None or score > best["score"]):
        best.update(score=score, step=step)
        acc.wait_for_everyone()
        if acc.is_main_process:
            shutil.rmtree(run / "best", ignore_errors=True)
            save_model(acc.unwrap_model(wrapper).model, tok, run / "best", merged=cfg.model.lora.merge_on_save, base_spec=cfg.model.name)
    return metrics


def _finalize(run: Path, wrapper, tok, cfg: SFTConfig, best: dict, acc) -> Path:
    final = run / "final"
    acc.wait_for_everyone()
    if acc.is_main_process:
        shutil.rmtree(final, ignore_errors=True)
        if cfg.select_by != "last" and (run / "best").exists():
            shutil.copytree(run / "best", final)
        else:
            save_model(acc.unwrap_model(wrapper).model, tok, final, merged=cfg.model.lora.merge_on_save, base_spec=cfg.model.name)
        write_provenance(final, cfg)
        mark_complete(final, {"selected_step": best.get("step"), "select_by": cfg.select_by})
    acc.wait_for_everyone()
    return final


def _eval_due(step: int, total: int, cfg: SFTConfig, steps_per_epoch: int) -> bool:
    every = cfg.eval_every or steps_per_epoch
    return (step + 1) % every == 0 or step + 1 == total


def train(cfg: SFTConfig, *, score_fn: ScoreFn | None = None) -> Path:
    """Run SFT; returns the directory of the final HF checkpoint."""
    from accelerate.utils import set_seed

    acc, run, finished = open_accelerated_run(cfg)
    if finished is not None:
        return finished
    set_seed(cfg.seed)
    model, tok = load_causal_lm(cfg.model)
    data = prepare_data(cfg, tok)
    steps = total_steps(cfg, len(data.train))
    steps_per_epoch = max(1, math.ceil(len(data.train) / cfg.batch_size))
    params = [p for p in model.parameters() if p.requires_grad]
    o = cfg.optim
    # fused: one kernel over all tensors (much faster on CPU than the per-tensor loop)
    optimizer = torch.optim.AdamW(params, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=o.weight_decay, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_lambda(steps, o.warmup_steps, o.min_lr_ratio))
    wrapper, optimizer = acc.prepare(SelectiveLMLoss(model), optimizer)
    if acc.is_main_process:
        write_provenance(run, cfg)
    set_seed(cfg.seed + acc.process_index)  # distinct dropout masks per process
    start, best = _maybe_resume(run, wrapper, optimizer, scheduler, acc) if cfg.resume else (0, {"score": None, "step": None})
    logger = MetricsLogger(run, enabled=acc.is_main_process, resume_step=start if start else None, tensorboard=cfg.tensorboard)
    what = "text examples" if cfg.data.kind == "text" else "demonstrations"
    acc.print(f"sft: {data.n_demos} {what} + {data.n_pretrain} pretraining examples, {len(data.valid)} valid, {data.n_skipped} skipped; {steps} steps")
    pad_id = tok.pad_token_id
    bar = _progress(cfg, acc, steps, start)
    wrapper.train()
    for step in range(start, steps):
        t0 = time.perf_counter()
        metrics = train_step(step, data, wrapper, optimizer, scheduler, cfg, pad_id, acc)
        metrics["sft/step_time"] = time.perf_counter() - t0
        metrics["sft/tokens_per_s"] = metrics["sft/tokens"] / max(1e-9, metrics["sft/step_time"])
        if _eval_due(step, steps, cfg, steps_per_epoch):
            metrics.update(_evaluate(step + 1, wrapper, data, cfg, pad_id, acc, tok, score_fn, best, run))
        logger.log(step + 1, metrics)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{metrics['sft/loss']:.3f}")
        save_due = (step + 1) % cfg.save_every == 0 if cfg.save_every else _eval_due(step, steps, cfg, steps_per_epoch)
        if save_due and step + 1 < steps:
            _save_checkpoint(run, step + 1, wrapper, tok, optimizer, scheduler, best, cfg, acc)
    if bar is not None:
        bar.close()
    logger.close()
    final = _finalize(run, wrapper, tok, cfg, best, acc)
    acc.print(f"sft: final checkpoint ({cfg.select_by}, step {best.get('step') or steps}): {final}")
    return final


def _progress(cfg: SFTConfig, acc, total: int, start: int):
    if not cfg.progress or not acc.is_main_process:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, desc="sft", unit="step")
