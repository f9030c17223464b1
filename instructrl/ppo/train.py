"""PPO and PPO-ptx against a reward (InstructGPT step 3, method doc §3).

``train(cfg)`` reads top to bottom, one straight-line loop like CleanRL's ``ppo.py``::

    for each iteration:
        rollout   sample B responses at temperature T (KV-cached, stops when all rows end)
        score     reference log-probs, values and the reward on the same padded batch
        rewards   -beta * KL per token + score at the last response token; GAE; whitening
                  (ppo.advantage=rloo: no value function; the return minus the mean return
                  of the other responses to the same prompt)
        update    epochs x minibatches: clipped policy + value loss (+ gamma * ptx loss)
        log       metrics, evaluation, checkpoint

Where time goes on a CPU (issue 7): the training forward/backward, then the scoring
forwards, then generation. So the lm head runs only at response positions (never for the
value or reward models), old log-probs are the sampling-time ones by default, the scoring
forwards share one padded batch, and a minibatch is trimmed to its own longest rows.

PPO-ptx normalisation: for each minibatch the loss is
``ppo_loss + gamma * ptx_loss`` where ``ptx_loss`` is the mean next-token cross-entropy
per predicted token over ``ratio * minibatch_size`` pretraining sequences. The two are
backpropagated one after the other into the same gradient buffers (the paper's
"consecutive steps ... accumulated"), then one optimizer step (tested equal to the
gradient of the sum).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from instructrl.data.collate import pad_batch
from instructrl.data.io import append_log, read_log, write_jsonl
from instructrl.data.render import Example, render_prompt, tokenize_text
from instructrl.data.schemas import Prompt
from instructrl.data.sources import load_prompts, load_texts
from instructrl.models.generation import GenerationBackend, HFGenerator
from instructrl.models.loader import load_causal_lm
from instructrl.models.logprobs import lm_loss_sum, token_logprobs
from instructrl.ops import masked_mean, masked_whiten
from instructrl.runs import MetricsLogger, open_run, write_provenance
from instructrl.runtime import resolve_device, set_up_process
from instructrl.sft.train import global_batch

from .advantages import gae, rloo
from .config import PPOConfig
from .kl import kl_controller, kl_penalty_rewards
from .losses import clipped_policy_loss, clipped_value_loss, explained_variance, ptx_loss
from .rollout import PolicyWithValue, Rollout, pad_episodes, pad_response_values, response_values
from .scorers import ScoreBatch, Scorer, build_scorer
from .state import EMA, finalize, maybe_resume, save_checkpoint


# ------------------------------------------------------------------------ setup


@dataclass
class Models:
    policy: PolicyWithValue  # the policy (+ value head when value.kind=head)
    tokenizer: Any
    reference: Any | None  # None: the LoRA policy with adapters disabled
    value: Any | None  # separate value network (value.kind=separate); none with kind head or none
    scorer: Scorer
    generator: GenerationBackend


@dataclass
class PromptData:
    train: list[Prompt]
    train_ids: list[list[int]]
    valid: list[Prompt]
    valid_ids: list[list[int]]
    n_skipped: int


@dataclass
class PtxData:
    train: list[Example]
    valid: list[Example]


def build_models(cfg: PPOConfig, device: torch.device, scorer: Scorer | None = None, generator: GenerationBackend | None = None) -> Models:
    """Policy (+ value head), reference, value network, scorer and generation backend.
    ``scorer`` and ``generator`` replace the configured ones (a remote reward service, a
    vLLM backend); a backend with ``load_weights(policy)`` is handed the policy after each update."""
    from instructrl.models.heads import load_scalar_model

    policy, tok = load_causal_lm(cfg.model, dropout=0.0, device=device)
    reference = None
    if not cfg.model.lora.enabled:
        reference, _ = load_causal_lm(cfg.reference or cfg.model.name, dtype=cfg.model.dtype, dropout=0.0, lora=_no_lora(cfg), device=device)
        reference.eval().requires_grad_(False)
    value = None
    if cfg.value.kind == "separate":
        spec = cfg.value.init or (cfg.reward.model if cfg.reward.kind == "model" else cfg.model.name)
        value, _ = load_scalar_model(spec, dtype=cfg.model.dtype, head_init=cfg.value.head_init, seed=cfg.seed, device=device)
    wrapped = PolicyWithValue(policy, value_head=cfg.value.kind == "head", head_init=cfg.value.head_init)
    scorer = scorer or build_scorer(cfg.reward, tok, device, cfg.forward_batch_size)
    generator = generator or HFGenerator(policy, tok.eos_token_id, tok.pad_token_id)
    return Models(policy=wrapped, tokenizer=tok, reference=reference, value=value, scorer=scorer, generator=generator)


def _no_lora(cfg: PPOConfig):
    from instructrl.models.loader import LoraConfig

    return LoraConfig(enabled=False)


def prepare_prompts(cfg: PPOConfig, tok: Any) -> PromptData:
    d = cfg.data
    prompts = load_prompts(d.prompts, columns=d.columns)
    if d.valid_prompts:
        valid = load_prompts(d.valid_prompts, columns=d.columns)
    else:
        order = list(range(len(prompts)))
        random.Random(cfg.seed).shuffle(order)
        valid = [prompts[i] for i in order[: d.valid_size]]
        prompts = [prompts[i] for i in sorted(order[d.valid_size :])]
    if d.valid_max is not None and len(valid) > d.valid_max:
        keep = sorted(random.Random(cfg.seed + 1).sample(range(len(valid)), d.valid_max))
        valid = [valid[i] for i in keep]

    def tokenize(ps: list[Prompt]) -> tuple[list[Prompt], list[list[int]], int]:
        keep, ids, skipped = [], [], 0
        for p in ps:
            x = tok(render_prompt(tok, p, d.use_chat_template), add_special_tokens=False)["input_ids"]
            if len(x) > d.max_prompt_len or not x:
                skipped += 1
                continue
            keep.append(p)
            ids.append(x)
        return keep, ids, skipped

    train, train_ids, s1 = tokenize(prompts)
    valid, valid_ids, s2 = tokenize(valid)
    if len(train) < cfg.batch_size:
        raise ValueError(f"data.prompts {d.prompts!r} gives {len(train)} usable prompts, fewer than batch_size={cfg.batch_size}")
    return PromptData(train, train_ids, valid, valid_ids, s1 + s2)


def prepare_ptx(cfg: PPOConfig, tok: Any) -> PtxData | None:
    """Pretraining sequences for PPO-ptx and held-out ones for the alignment tax."""
    if not cfg.ptx.data:
        return None
    docs = load_texts(cfg.ptx.data)
    n_valid = min(cfg.ptx.valid_docs, len(docs) // 2)

    def chunks(ds: list[str]) -> list[Example]:
        return [ex for t in ds for ex in tokenize_text(tok, t, cfg.ptx.max_seq_len, cfg.ptx.append_eos)]

    train, valid = chunks(docs[n_valid:]), chunks(docs[:n_valid])
    if not train:
        raise ValueError(f"ptx.data {cfg.ptx.data!r} yields no pretraining sequences")
    return PtxData(train=train, valid=valid)


def make_optimizers(cfg: PPOConfig, models: Models) -> tuple[torch.optim.Optimizer, ...]:
    """Policy and value on separate Adam optimizers with their own learning rates (the
    policy's alone when there is no value function, value.kind=none)."""
    o = cfg.optim
    pol = [p for p in models.policy.policy.parameters() if p.requires_grad]
    # fused: one kernel over all tensors; on a CPU ~10x faster than the per-tensor loop,
    # which matters when every weight of a 135M policy and value network steps each minibatch
    kw = dict(betas=(o.beta1, o.beta2), eps=o.eps, weight_decay=0.0, fused=True)
    policy_opt = torch.optim.AdamW(pol, lr=o.lr, **kw)
    if cfg.value.kind == "none":
        return (policy_opt,)
    val = list(models.value.parameters()) if models.value is not None else list(models.policy.v_head.parameters())  # type: ignore[union-attr]
    return policy_opt, torch.optim.AdamW(val, lr=cfg.value.lr, **kw)


def tf_style_eps(eps: float, beta2: float, step: int) -> float:
    """The torch-Adam epsilon that makes step ``step`` (1-based) equal to TF's Adam.

    TF: lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t); update = lr_t * m / (sqrt(v) + eps).
    torch: update = lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps').
    They agree when eps' = eps / sqrt(1 - b2^t) (method doc §3b.14, [N] "Adam")."""
    return eps / math.sqrt(1.0 - beta2**step)


def set_tf_eps(opt: torch.optim.Optimizer, eps: float) -> None:
    """Before ``opt.step()``: set each group's eps for the step about to be taken."""
    for group in opt.param_groups:
        state = opt.state.get(group["params"][0], {})
        step = int(state["step"]) + 1 if "step" in state else 1
        group["eps"] = tf_style_eps(eps, group["betas"][1], step)


def warmup_warning(total: int, warmup: int, start: float) -> str | None:
    """A warning when the warmup takes up half the run or more: the paper's 10 iterations
    are 2% of its ~500, but of a 16-iteration run they are most of it."""
    if total <= 0 or warmup <= 0 or warmup * 2 < total:
        return None
    mean = sum(lr_multiplier(i, total, warmup, start, "constant") for i in range(total)) / total
    return (f"ppo: warning: optim.warmup_iterations={warmup} covers {min(warmup, total)} of {total} iterations "
            f"(mean lr {mean:.2f}x the peak); set it lower for a run this short")


def lr_multiplier(iteration: int, total: int, warmup: int, start: float, decay: str) -> float:
    """Warmup linearly from ``start`` x peak to the peak over ``warmup`` iterations (paper:
    10 iterations from 0.1x), then constant (paper) or linear to 0 ([LHP])."""
    if warmup and iteration < warmup:
        return start + (1.0 - start) * iteration / warmup
    if decay == "linear":
        return max(0.0, 1.0 - (iteration - warmup) / max(1, total - warmup))
    return 1.0


# ---------------------------------------------------------------------- rollout


def _chunks(n: int, size: int):
    for s in range(0, n, size):
        yield slice(s, min(n, s + size))


def sample(cfg: PPOConfig, models: Models, prompts: list[Prompt], prompt_ids: list[list[int]], seed: int, max_new_tokens: int) -> Rollout:
    """Generate one response per prompt; truncation after the first EOS is the backend's."""
    resp: list[list[int]] = []
    lps: list[list[float]] = []
    fin: list[bool] = []
    for k, sl in enumerate(_chunks(len(prompts), cfg.generation_batch_size)):
        g = models.generator.generate(prompt_ids[sl], max_new_tokens=max_new_tokens, temperature=cfg.temperature, top_k=0, top_p=1.0, seed=seed * 1000 + k)
        resp += g.response_ids
        lps += g.logprobs
        fin += g.finished
    ids, mask, P, rmask = pad_episodes(prompt_ids, resp, models.tokenizer.pad_token_id)
    return Rollout(
        prompts=list(prompts),
        input_ids=ids,
        attention_mask=mask,
        prompt_width=P,
        response_mask=rmask,
        finished=torch.tensor(fin, dtype=torch.bool),
        logprobs=pad_response_values(lps, rmask.shape[1]),
    )


@torch.no_grad()
def score_rollout(cfg: PPOConfig, models: Models, ro: Rollout, device: torch.device) -> None:
    """Reference log-probs, old values (and old log-probs when recomputed) and scores,
    all forwards on the same padded batch, chunked only for memory. With
    ``cfg.old_values_from_training`` the values are left to the training forward
    (``ro.values = None``)."""
    with_values = not cfg.old_values_from_training and cfg.value.kind != "none"
    R = ro.response_mask.shape[1]
    ref, vals, olds = [], [], []
    for sl in _chunks(len(ro), cfg.forward_batch_size):
        ids, mask = ro.input_ids[sl].to(device), ro.attention_mask[sl].to(device)
        target = ro.target_mask[sl].to(device)
        pos = ro.position_ids[sl].to(device)
        ref.append(reference_logprobs(cfg, models, ids, mask, target, pos)[:, ro.prompt_width :].cpu())
        v = None
        if cfg.recompute_old_logprobs:  # one policy forward gives log-probs (and head values)
            lp, _, v = models.policy(ids, mask, target, cfg.temperature)
            olds.append(lp[:, ro.prompt_width :].cpu())
        if not with_values:
            pass
        elif models.value is not None:
            from instructrl.models.heads import scalar_values

            v = scalar_values(models.value, ids, mask, pos)
        elif v is None:  # value head, sampling-time log-probs: backbone only, no lm head
            v = models.policy.values_only(ids, mask)
        if with_values:
            vals.append(response_values(v, ro.prompt_width, R).cpu())
    m = ro.response_mask
    ro.ref_logprobs = torch.cat(ref) * m
    ro.values = torch.cat(vals) * m if with_values else None
    if olds:
        ro.logprobs = torch.cat(olds) * m
    texts = [models.tokenizer.decode(r[: int(n)][:-1] if f else r[: int(n)], skip_special_tokens=True) for r, n, f in zip(ro.input_ids[:, ro.prompt_width :], m.sum(1), ro.finished)]
    prompt_texts = [render_prompt(models.tokenizer, p, cfg.data.use_chat_template) for p in ro.prompts]
    batch = ScoreBatch(ro.prompts, texts, ro.input_ids, ro.attention_mask, ro.position_ids, ro.last_index, prompt_texts)
    ro.raw_scores = models.scorer.score(batch).float().cpu()
    ro.scores = apply_missing_eos_penalty(ro.raw_scores, ro.finished, cfg.reward.missing_eos_penalty)


def reference_logprobs(cfg: PPOConfig, models: Models, ids, mask, target, pos) -> torch.Tensor:
    if models.reference is not None:
        return token_logprobs(models.reference, ids, target, mask, pos, cfg.temperature)[0]
    from instructrl.models.lora import disabled_adapters

    with disabled_adapters(models.policy.policy):  # the LoRA base: one copy of the weights
        return token_logprobs(models.policy.policy, ids, target, mask, pos, cfg.temperature)[0]


def apply_missing_eos_penalty(scores: torch.Tensor, finished: torch.Tensor, penalty: float | None) -> torch.Tensor:
    """A response that never emitted EOS scores ``penalty`` instead (method doc §3b.4)."""
    if penalty is None:
        return scores.clone()
    return torch.where(finished, scores, torch.full_like(scores, penalty))


def compute_advantages(cfg: PPOConfig, ro: Rollout, beta: float) -> None:
    """Per-token rewards, GAE, optional reward and advantage whitening (method doc §3b.7-10).
    ppo.advantage=rloo: each episode's return (score - beta * its summed KL, gamma = 1)
    minus the mean return of the other responses to its prompt, on every response token;
    no values or returns are kept."""
    m = ro.response_mask
    ro.rewards, ro.kl = kl_penalty_rewards(ro.logprobs, ro.ref_logprobs, ro.scores, m, beta)
    rewards = masked_whiten(ro.rewards, m, shift_mean=False) if cfg.ppo.whiten_rewards else ro.rewards
    if cfg.ppo.advantage == "rloo":
        adv = rloo(rewards.sum(1), cfg.ppo.group_size)[:, None] * m
        ro.values = ro.returns = None
    else:
        adv, ro.returns = gae(rewards, ro.values, m, cfg.ppo.gamma, cfg.ppo.lam)
    ro.advantages = masked_whiten(adv, m) if cfg.ppo.whiten_advantages else adv


# ----------------------------------------------------------------------- update


def minibatch_order(cfg: PPOConfig, iteration: int, epoch: int, n: int) -> torch.Tensor:
    """A fresh permutation per (iteration, epoch): pure, so a resumed run reshuffles alike."""
    g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + iteration * 1_009 + epoch)
    return torch.randperm(n, generator=g)


def ptx_backward(cfg: PPOConfig, models: Models, ptx: PtxData, step: int, n_seqs: int, device: torch.device) -> float:
    """Backpropagate gamma * (mean per-token LM loss) over ``n_seqs`` pretraining sequences
    into the policy's gradient buffers, in micro-batches; returns the loss value."""
    idx = global_batch(step, len(ptx.train), n_seqs, cfg.seed + 17)
    exs = [ptx.train[i] for i in idx]
    n_tokens = sum(e.n_loss_tokens for e in exs)
    total = 0.0
    for s in range(0, len(exs), cfg.ptx.micro_batch_size):
        b = pad_batch(exs[s : s + cfg.ptx.micro_batch_size], models.tokenizer.pad_token_id, side="right")
        loss_sum, _ = lm_loss_sum(models.policy.policy, b.input_ids.to(device), b.labels.to(device), b.attention_mask.to(device), b.position_ids.to(device))
        (cfg.ptx.coef * ptx_loss(loss_sum, n_tokens)).backward()
        total += loss_sum.item() / n_tokens
    return total


def ppo_minibatch_loss(cfg: PPOConfig, models: Models, mb: Rollout, device: torch.device, beta: float | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped policy loss + value.coef * clipped value loss on one minibatch (the policy
    loss alone with value.kind=none: rloo's advantages were computed after scoring).

    ``mb.values is None`` (``ppo.old_values=auto``, one epoch of one minibatch): V_old is this
    forward's values, detached, and the advantages are computed here, before the backward,
    with KL coefficient ``beta``."""
    ids, mask, target = mb.input_ids.to(device), mb.attention_mask.to(device), mb.target_mask.to(device)
    lp, ent, head_v = models.policy(ids, mask, target, cfg.temperature, with_entropy=True)
    new_lp = lp[:, mb.prompt_width :]
    m = mb.response_mask.to(device)
    with_value = cfg.value.kind != "none"
    if with_value:
        if models.value is not None:
            from instructrl.models.heads import scalar_values

            head_v = scalar_values(models.value, ids, mask, mb.position_ids.to(device))
        values = response_values(head_v, mb.prompt_width, mb.response_mask.shape[1])
        if mb.values is None:
            if beta is None:
                raise ValueError("old values from the training forward need the KL coefficient (beta)")
            mb.values = values.detach().cpu() * mb.response_mask
            compute_advantages(cfg, mb, beta)
    pl = clipped_policy_loss(new_lp, mb.logprobs.to(device), mb.advantages.to(device), m, cfg.ppo.clip)
    stats = {
        "ppo/policy_loss": pl.loss.detach(),
        "ppo/approx_kl": pl.approx_kl,
        "ppo/clipfrac": pl.clipfrac,
        "ppo/ratio": pl.ratio_mean,
        "ppo/entropy": masked_mean(ent[:, mb.prompt_width :], m).detach(),
    }
    if not with_value:
        return pl.loss, stats
    vl = clipped_value_loss(values, mb.values.to(device), mb.returns.to(device), m, cfg.value.clip)
    stats |= {"ppo/value_loss": vl.loss.detach(), "ppo/value_clipfrac": vl.clipfrac}
    return pl.loss + cfg.value.coef * vl.loss, stats


def update(cfg: PPOConfig, models: Models, optimizers, ro: Rollout, ptx: PtxData | None, iteration: int, device: torch.device, ema: EMA | None, beta: float | None = None) -> dict[str, float]:
    """epochs x minibatches of PPO (+ ptx) steps on one batch of episodes. With
    ``cfg.old_values_from_training`` (one minibatch of the whole batch) the minibatch is ``ro`` itself,
    so the values and advantages computed in its forward land on ``ro``."""
    sums: dict[str, float] = {}
    n = 0
    mb_size = len(ro) // cfg.ppo.minibatches
    n_ptx = max(1, round(cfg.ptx.ratio * mb_size))
    for epoch in range(cfg.ppo.epochs):
        order = minibatch_order(cfg, iteration, epoch, len(ro))
        for k in range(cfg.ppo.minibatches):
            mb = ro if cfg.old_values_from_training else ro.select(order[k * mb_size : (k + 1) * mb_size])
            loss, stats = ppo_minibatch_loss(cfg, models, mb, device, beta)
            loss.backward()
            if cfg.ptx.coef > 0 and ptx is not None:
                step = (iteration * cfg.ppo.epochs + epoch) * cfg.ppo.minibatches + k
                stats["ppo/ptx_loss"] = torch.tensor(ptx_backward(cfg, models, ptx, step, n_ptx, device))
            if cfg.optim.grad_clip > 0:
                for opt in optimizers:
                    ps = [p for group in opt.param_groups for p in group["params"]]
                    stats[f"ppo/grad_norm_{'policy' if opt is optimizers[0] else 'value'}"] = torch.nn.utils.clip_grad_norm_(ps, cfg.optim.grad_clip)
            for opt in optimizers:
                if cfg.optim.eps_style == "tf":
                    set_tf_eps(opt, cfg.optim.eps)
                opt.step()
                opt.zero_grad(set_to_none=True)
            if ema is not None:
                ema.update()
            for key, v in stats.items():
                sums[key] = sums.get(key, 0.0) + float(v)
            n += 1
    return {k: v / n for k, v in sums.items()}


# --------------------------------------------------------------------- evaluate


@torch.no_grad()
def evaluate(cfg: PPOConfig, models: Models, data: PromptData, ptx: PtxData | None, device: torch.device, iteration: int, run: Path) -> dict[str, float]:
    """Mean reward and KL on validation prompts (fixed sampling seed, so iterations compare),
    held-out pretraining LM loss (the alignment tax), and sample responses written as text."""
    out: dict[str, float] = {}
    if data.valid:
        ro = sample(cfg, models, data.valid, data.valid_ids, seed=cfg.seed + 999_983, max_new_tokens=cfg.eval_max_new_tokens or cfg.max_new_tokens)
        score_rollout(cfg, models, ro, device)
        m = ro.response_mask
        out["eval/score_mean"] = float(ro.scores.mean())  # after the missing-EOS penalty
        out["eval/raw_score_mean"] = float(ro.raw_scores.mean())
        out["eval/kl_to_ref"] = float(((ro.logprobs - ro.ref_logprobs) * m).sum(1).mean())
        out["eval/response_len"] = float(m.sum(1).float().mean())
        out["eval/eos_rate"] = float(ro.finished.float().mean())
        rows = []
        for i in range(len(ro)):  # every validation sample: the loop grades them for the over-optimisation curve
            n = int(m[i].sum())
            text = models.tokenizer.decode(ro.input_ids[i, ro.prompt_width : ro.prompt_width + n], skip_special_tokens=True)
            rows.append({"iteration": iteration, "prompt": ro.prompts[i].as_text(), "response": text, "raw_score": float(ro.raw_scores[i]), "score": float(ro.scores[i]), "finished": bool(ro.finished[i])})
        append_log(run / "samples.jsonl", rows)
    if ptx is not None and ptx.valid:
        tot, n_tok = 0.0, 0
        for s in range(0, len(ptx.valid), cfg.ptx.micro_batch_size):
            b = pad_batch(ptx.valid[s : s + cfg.ptx.micro_batch_size], models.tokenizer.pad_token_id, side="right")
            loss, k = lm_loss_sum(models.policy.policy, b.input_ids.to(device), b.labels.to(device), b.attention_mask.to(device), b.position_ids.to(device))
            tot, n_tok = tot + float(loss), n_tok + k
        out["eval/ptx_loss"] = tot / max(1, n_tok)
    return out


# ------------------------------------------------------------------------ train


def batch_prompts(cfg: PPOConfig, iteration: int, n_prompts: int) -> list[int]:
    """The prompt index of each episode of an iteration: batch_size / group_size prompts,
    each repeated group_size times in a row (rloo's groups are consecutive rows)."""
    k = cfg.ppo.group_size
    return [i for i in global_batch(iteration, n_prompts, cfg.batch_size // k, cfg.seed) for _ in range(k)]


def flat_groups_warning(cfg: PPOConfig, ro: Rollout, iteration: int) -> str | None:
    """rloo: a warning when every response in every group got the same return, so every
    advantage is 0 and the batch cannot move the policy (e.g. ``reward.missing_eos_penalty``
    on a model that never ends its responses within ``max_new_tokens``)."""
    if cfg.ppo.advantage != "rloo" or ro.advantages is None or bool(ro.advantages.abs().gt(0).any()):
        return None
    every = "responses never emitted EOS, so all scored reward.missing_eos_penalty" if not bool(ro.finished.any()) else "responses to each prompt scored alike"
    return (f"ppo: warning: iteration {iteration + 1}: every advantage is 0 ({every}); with ppo.advantage=rloo only differences "
            f"within a prompt's {cfg.ppo.group_size} responses teach, so this batch leaves the policy as it was")


def rollout_metrics(ro: Rollout, kl_coef: float) -> dict[str, float]:
    m = ro.response_mask
    lengths = m.sum(1).float()
    out = {
        "reward/mean": float(ro.rewards.sum(1).mean()),  # score + KL penalty, per episode
        "reward/score_mean": float(ro.scores.mean()),  # what PPO optimises: after the missing-EOS penalty
        "reward/score_std": float(ro.scores.std()) if len(ro) > 1 else 0.0,
        "reward/raw_score_mean": float(ro.raw_scores.mean()),  # the scorer's output
        "ppo/kl_to_ref": float(ro.kl.sum(1).mean()),  # nats per episode
        "ppo/kl_coef": kl_coef,
        "gen/response_len": float(lengths.mean()),
        "gen/eos_rate": float(ro.finished.float().mean()),
    }
    if ro.values is not None:  # rloo has no value function
        out["ppo/explained_variance"] = float(explained_variance(ro.values, ro.returns, m))
    return out


def train(cfg: PPOConfig, *, scorer: Scorer | None = None, generator: GenerationBackend | None = None) -> Path:
    """Run PPO (ptx.coef = 0) or PPO-ptx; returns the directory of the final policy.
    ``scorer`` / ``generator`` override the configured reward and the HF sampling backend."""
    set_up_process(cfg.threads, cfg.progress)
    run = Path(cfg.output_dir)
    finished = open_run(run, cfg)
    if finished is not None:
        print(f"{run} is already complete; final checkpoint: {finished}")
        return finished
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    models = build_models(cfg, device, scorer, generator)
    data = prepare_prompts(cfg, models.tokenizer)
    ptx = prepare_ptx(cfg, models.tokenizer)
    optimizers = make_optimizers(cfg, models)
    kl_ctl = kl_controller(cfg.kl.coef, cfg.kl.adaptive, cfg.kl.target, cfg.kl.horizon)
    ema = EMA(models.policy.policy, cfg.ema_decay) if cfg.ema_decay else None
    write_provenance(run, cfg)
    start = maybe_resume(run, models, optimizers, kl_ctl, ema) if cfg.resume else 0
    logger = MetricsLogger(run, resume_step=start if start else None, tensorboard=cfg.tensorboard)
    _truncate_samples(run / "samples.jsonl", start)
    total = cfg.iterations
    print(f"ppo: {len(data.train)} prompts ({len(data.valid)} valid, {data.n_skipped} skipped), {total} iterations of {cfg.batch_size} episodes")
    if start == 0 and (note := warmup_warning(total, cfg.optim.warmup_iterations, cfg.optim.warmup_start)):
        print(note)
    bar = _progress(cfg, total, start)
    warned_flat = False
    for it in range(start, total):
        mult = lr_multiplier(it, total, cfg.optim.warmup_iterations, cfg.optim.warmup_start, cfg.optim.decay)
        optimizers[0].param_groups[0]["lr"] = cfg.optim.lr * mult  # the value LR stays fixed (paper, §3a)
        idx = batch_prompts(cfg, it, len(data.train))
        t0 = time.perf_counter()
        ro = sample(cfg, models, [data.train[i] for i in idx], [data.train_ids[i] for i in idx], seed=cfg.seed * 100_003 + it, max_new_tokens=cfg.max_new_tokens)
        t1 = time.perf_counter()
        score_rollout(cfg, models, ro, device)
        if not cfg.old_values_from_training:  # else the training forward supplies V_old (ppo.old_values=auto)
            compute_advantages(cfg, ro, kl_ctl.value)
        if not warned_flat and (note := flat_groups_warning(cfg, ro, it)):
            print(note)
            warned_flat = True
        t2 = time.perf_counter()
        metrics = update(cfg, models, optimizers, ro, ptx, it, device, ema, beta=kl_ctl.value)
        metrics.update(rollout_metrics(ro, kl_ctl.value))
        if hasattr(models.generator, "load_weights"):  # an external backend (vLLM) holds its own copy
            models.generator.load_weights(models.policy.policy)
        t3 = time.perf_counter()
        kl_ctl.update(metrics["ppo/kl_to_ref"], len(ro))
        n_gen = int(ro.response_mask.sum())
        metrics.update(_timing(t0, t1, t2, t3, n_gen, len(ro), cfg.optim.lr * mult))
        if (cfg.eval_every and (it + 1) % cfg.eval_every == 0) or it + 1 == total:
            metrics.update(evaluate(cfg, models, data, ptx, device, it + 1, run))
        logger.log(it + 1, metrics)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(score=f"{metrics['reward/score_mean']:.3f}", kl=f"{metrics['ppo/kl_to_ref']:.2f}")
        if cfg.save_every and (it + 1) % cfg.save_every == 0 and it + 1 < total:
            save_checkpoint(cfg, run, it + 1, models, optimizers, kl_ctl, ema)
    if bar is not None:
        bar.close()
    logger.close()
    final = finalize(cfg, run, models, ema)
    print(f"ppo: final checkpoint: {final}")
    return final


def _truncate_samples(path: Path, start: int) -> None:
    """Drop samples logged after iteration ``start`` (a killed run's tail), all on a fresh run."""
    if path.exists():
        write_jsonl(path, [r for r in read_log(path) if start and r["iteration"] <= start])


def _timing(t0: float, t1: float, t2: float, t3: float, n_gen: int, n_episodes: int, lr: float) -> dict[str, float]:
    total = max(1e-9, t3 - t0)
    return {
        "gen/tokens_per_s": n_gen / max(1e-9, t1 - t0),
        "time/generation_s": t1 - t0,
        "time/scoring_s": t2 - t1,
        "time/training_s": t3 - t2,
        "time/generation_frac": (t1 - t0) / total,
        "time/scoring_frac": (t2 - t1) / total,
        "time/training_frac": (t3 - t2) / total,
        "time/episodes_per_s": n_episodes / total,
        "ppo/lr": lr,
    }


def _progress(cfg: PPOConfig, total: int, start: int):
    if not cfg.progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, desc="ppo", unit="it")
