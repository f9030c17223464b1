"""The loop's stages. Each reads its inputs from the run directory and writes its outputs
there, ending with a ``STAGE_DONE`` marker, so a killed run resumes at the stage where it
stopped and any stage can be rerun alone (delete its marker, or ``--only``).

Layout::

    runs/<name>/data/{train,valid,test,test-closed}.jsonl, ptx.txt, heldout.txt   prompt dataset
    runs/<name>/base/                                                   pretrained base LM (CPU preset)
    runs/<name>/ptx-text/{ptx,heldout}.jsonl                            (data.ptx_text=self) the base's own samples
    runs/<name>/round-0/{data,sft}/                                     demonstrations -> SFT
    runs/<name>/round-<k>/{data,rm,ppo,eval}/                           rankings -> RM -> PPO-ptx -> eval
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

from instructrl.config import load_config
from instructrl.data import Demonstration, Prompt, Ranking, Rating, read_jsonl, write_jsonl
from instructrl.data.io import write_text_atomic
from instructrl.labelers.base import LabelBatch, LabelerBackend, LabelResults, RankingItem

from .config import LoopConfig

MARK = "STAGE_DONE"


def is_done(d: Path) -> bool:
    return (d / MARK).exists()


def mark_done(d: Path, info: dict[str, Any] | None = None) -> None:
    d.mkdir(parents=True, exist_ok=True)
    write_text_atomic(d / MARK, json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **(info or {})}))


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def check_stage_configs(cfg: LoopConfig) -> None:
    """Build every training stage's config as the loop will, before any stage runs, so that a
    bad ``sft:``, ``rm:`` or ``ppo:`` key or value is an error now, naming the stage and the
    key, not after the stages before it have run (an hour on the smollm2 preset); so is a
    stage device torch cannot see. Paths need not exist yet: the configs only name them."""
    from instructrl.ppo import PPOConfig
    from instructrl.reward import RewardConfig
    from instructrl.runtime import resolve_device
    from instructrl.sft import SFTConfig

    root = cfg.root
    checks: list[tuple[str, type, Callable[[], dict[str, Any]]]] = [("round-0/sft", SFTConfig, lambda: sft_overrides(cfg, root))]
    for k in range(1, min(cfg.rounds, 2) + 1):  # round 2 on differs from round 1 only with ppo_init=last
        checks.append((f"round-{k}/rm", RewardConfig, lambda k=k: rm_overrides(cfg, root, k)))
        for ptx in (True, False) if cfg.ptx_ablation else (True,):
            name = f"round-{k}/" + ("ppo" if ptx else "ppo-noptx")
            checks.append((name, PPOConfig, lambda k=k, ptx=ptx: ppo_overrides(cfg, root, k, ptx)))
    for name, config_type, overrides in checks:
        try:
            stage = load_config(config_type, None, overrides())
            resolve_device(stage.device)  # a stage's own device (sft.device=cuda:1) that torch cannot see
        except (ValueError, TypeError) as e:
            key = name.rsplit("/", 1)[-1].replace("ppo-noptx", "ppo")
            raise ValueError(f"stage {name} (the loop's `{key}:` overrides): {e}") from e


# ------------------------------------------------------------------------------ data


def prepare_data(cfg: LoopConfig, root: Path) -> None:
    """Generate prompts, then the paper's processing: prefix dedup, per-user cap, split by
    user, PII filtered from the training split; plus pretraining text for the mix."""
    from instructrl.tasks import generate_pretraining_corpus, generate_prompts
    from instructrl.tasks.processing import process_prompts

    d = root / "data"
    dc = cfg.data
    if dc.prompts is None:
        prompts = generate_prompts(dc.n_prompts, seed=dc.seed, n_users=dc.n_users, difficulty=dc.difficulty)
    else:
        prompts = own_prompts(dc.prompts, cfg.labelers)
    train, valid, test = process_prompts(prompts, cap=dc.user_cap, fractions=tuple(dc.split), seed=dc.seed)
    write_jsonl(d / "train.jsonl", train)
    write_jsonl(d / "valid.jsonl", valid)
    write_jsonl(d / "test.jsonl", test)
    # the extra closed-domain set is generated: it measures the simulated panel's hallucination rate
    closed = closed_domain_test_set(dc.closed_domain_test, dc.seed, test, prompts, dc.difficulty) if dc.prompts is None else []
    write_jsonl(d / "test-closed.jsonl", closed)
    if "generated" in (dc.ptx_text, dc.sft_mix_text):  # with ptx_text=self the ptx-text stage samples PPO-ptx's text
        docs = generate_pretraining_corpus(dc.ptx_docs + dc.heldout_docs, seed=dc.seed + 7, reading=dc.corpus_reading, case=dc.corpus_case)
        write_text_atomic(d / "ptx.txt", "\n\n".join(docs[: dc.ptx_docs]))
        write_text_atomic(d / "heldout.txt", "\n\n".join(docs[dc.ptx_docs :]))
    info = {"source": dc.prompts or "generated", "prompts": len(prompts), "train": len(train), "valid": len(valid), "test": len(test), "test_closed": len(closed)}
    need = dc.sft_prompts + cfg.rounds * dc.rank_prompts
    if len(train) < need:
        raise ValueError(f"data: {len(train)} training prompts after processing, {need} needed (sft_prompts + rounds * rank_prompts); raise data.n_prompts")
    if len(test) < dc.test_prompts:
        raise ValueError(f"data: {len(test)} test prompts after processing, {dc.test_prompts} needed; raise data.n_prompts or lower data.test_prompts")
    mark_done(d, info)


def own_prompts(spec: str, labelers: str) -> list[Prompt]:
    """The user's prompt set (``data.prompts``). The simulated panel (and the demonstrator)
    work from a prompt's machine-checkable spec, so with them every prompt needs one."""
    from instructrl.data.sources import load_prompts
    from instructrl.tasks.grader import has_spec

    prompts = load_prompts(spec)
    if not prompts:
        raise ValueError(f"data.prompts={spec!r} holds no prompts")
    if labelers == "simulated":
        bare = [p.id for p in prompts if not has_spec(p)]
        if bare:
            raise ValueError(f"data.prompts={spec!r}: {len(bare)} of {len(prompts)} prompts have no metadata['spec'] "
                             f"(first: {bare[0]!r}); the simulated labelers can only write for and judge generated "
                             "prompts: serve your own to people with labelers=<labeling app URL> (docs/labelapp.md)")
    return prompts


CLOSED_DOMAIN_CATEGORIES = ("summarization", "closed_qa", "extraction")  # the tasks with a passage


def closed_domain_test_set(n: int, seed: int, test: Sequence[Prompt], existing: Sequence[Prompt],
                           difficulty: str = "medium") -> list[Prompt]:
    """``n`` extra closed-domain prompts (the passage tasks, in Table 1's proportions) for
    measuring hallucination: sent by the held-out test users (round robin over them, so no
    training user sees them), ids ``closed-...``, and none sharing a 100-character prefix
    with any generated prompt (the paper's dedup) or with each other."""
    from instructrl.tasks import TABLE1_MIX, generate_prompts
    from instructrl.tasks.processing import prefix_key

    if n <= 0:
        return []
    users = sorted({p.user_id for p in test if p.user_id is not None})
    if not users:
        raise ValueError("data: no test users to send the closed-domain test prompts")
    seen = {prefix_key(p) for p in existing}
    out: list[Prompt] = []
    mix = {c: TABLE1_MIX[c] for c in CLOSED_DOMAIN_CATEGORIES}
    for draw in range(1, 9):  # each draw of 2n usually fills the set; prefix collisions cost the rest
        for p in generate_prompts(2 * n, seed=seed + 7919 * draw, mix=mix, difficulty=difficulty):
            if len(out) < n and prefix_key(p) not in seen:
                seen.add(prefix_key(p))
                out.append(p)
        if len(out) == n:
            break
    if len(out) < n:
        raise ValueError(f"data: only {len(out)} of data.closed_domain_test={n} closed-domain prompts are distinct "
                         "from the generated ones by prefix; lower data.closed_domain_test")
    return [dataclasses.replace(p, id=f"closed-{i:05d}", user_id=users[i % len(users)]) for i, p in enumerate(out)]


def closed_test_prompts(root: Path) -> list[Prompt]:
    """The extra closed-domain test prompts (none for runs made before they existed)."""
    path = root / "data" / "test-closed.jsonl"
    return read_jsonl(path, Prompt).records if path.exists() else []


def train_prompts(root: Path) -> list[Prompt]:
    return read_jsonl(root / "data" / "train.jsonl", Prompt).records


def pretrain_base(cfg: LoopConfig, root: Path) -> None:
    """The CPU preset's base LM: a fresh tiny model pretrained on the generated corpus."""
    from instructrl.sft import SFTConfig, train

    train(load_config(SFTConfig, None, base_overrides(cfg, root)))
    mark_done(root / "base")


def base_overrides(cfg: LoopConfig, root: Path) -> dict[str, Any]:
    """The base pretraining's config (SFT's trainer on text): ``base.*``, the loop's paths and seed."""
    b = cfg.base
    return {
        "model": {"name": b.model},
        "data": {"kind": "text", "train": str(root / "data" / "ptx.txt"), "valid": str(root / "data" / "heldout.txt"), "max_seq_len": b.max_seq_len},
        "optim": {"lr": b.pretrain_lr, "warmup_steps": 20},
        "output_dir": str(root / "base"),
        "epochs": b.pretrain_epochs,
        "batch_size": b.pretrain_batch_size,
        "micro_batch_size": b.pretrain_batch_size,
        "select_by": "last",
        "seed": cfg.seed,
        "device": cfg.device,
        "progress": cfg.progress,
        "threads": cfg.threads,
    }


def base_spec(cfg: LoopConfig, root: Path) -> str:
    return str(root / "base" / "final") if cfg.base.pretrain else cfg.base.model


@dataclasses.dataclass(frozen=True)
class PretrainingText:
    """Where the loop's pretraining text is: ``train`` feeds SFT's mix and PPO-ptx,
    ``heldout`` the alignment-tax loss. ``append_eos`` is false for documents sampled from the
    base, which carry the EOS where the model emitted one and are otherwise cut mid-text."""

    train: Path
    heldout: Path
    append_eos: bool


def pretraining_text(cfg: LoopConfig, root: Path) -> PretrainingText:
    if cfg.data.ptx_text == "self":
        return PretrainingText(root / "ptx-text" / "ptx.jsonl", root / "ptx-text" / "heldout.jsonl", append_eos=False)
    return PretrainingText(root / "data" / "ptx.txt", root / "data" / "heldout.txt", append_eos=True)


def sample_ptx_text(cfg: LoopConfig, root: Path) -> None:
    """``data.ptx_text=self``: the pretraining text is documents sampled from the base model
    itself (``instructrl.models.generation.sample_documents``), the stand-in for a pretrained
    base's own pretraining data; held-out ones measure the alignment tax."""
    from instructrl.models import load_causal_lm, sample_documents

    dc = cfg.data
    d = root / "ptx-text"
    t = time.time()
    base = base_spec(cfg, root)
    model, tok = load_causal_lm(base, dropout=0.0, device=loop_device(cfg))
    docs = sample_documents(model, tok, dc.ptx_docs + dc.heldout_docs, max_new_tokens=dc.self_text_tokens, seed=cfg.seed + 7)
    write_jsonl(d / "ptx.jsonl", [{"text": x} for x in docs[: dc.ptx_docs]])
    write_jsonl(d / "heldout.jsonl", [{"text": x} for x in docs[dc.ptx_docs :]])
    ended = sum(x.endswith(tok.eos_token) for x in docs)
    print(f"ptx-text: {len(docs)} documents of <= {dc.self_text_tokens} tokens sampled from {base} "
          f"({ended} ended with EOS) in {time.time() - t:.0f} s", flush=True)
    mark_done(d, {"base": base, "docs": len(docs), "ptx": dc.ptx_docs, "heldout": dc.heldout_docs,
                  "max_tokens": dc.self_text_tokens, "ended_with_eos": ended})


# ----------------------------------------------------------------------- labelers


def make_backend(cfg: LoopConfig, pool: str = "train") -> LabelerBackend:
    if cfg.labelers == "simulated":
        from instructrl.labelers import heldout_panel, training_panel

        # the run's name prefixes its batch ids but not the panel's draws (SimulatedPanel)
        return training_panel(seed=cfg.seed, run=cfg.name) if pool == "train" else heldout_panel(seed=cfg.eval.heldout_seed, run=cfg.name)
    import os

    from instructrl.labelapp.client import HttpLabelers

    token = cfg.labelers_token or os.environ.get("INSTRUCTRL_LABELAPP_TOKEN")
    if not token:
        raise ValueError("labelers is a URL: give labelers_token (or set INSTRUCTRL_LABELAPP_TOKEN)")
    return HttpLabelers(cfg.labelers, token)


def labeling_batch(d: Path, make: Callable[[], LabelBatch]) -> LabelBatch:
    """The batch a labeling stage in ``d`` submits. A stage resumed after being killed while
    its batch was out (people take hours) gets back ``batch.json``, the batch as first
    submitted, instead of a new sample that might differ and would then be refused, or labeled
    twice. Otherwise ``make()`` builds it; when an ``--only`` rerun left the stage's earlier
    batch in ``previous-batch.json``, the same content keeps its id (the labeling app hands
    back the labels it has) and new content, e.g. samples of a retrained SFT policy, gets the
    next revision of the id (``<id>-r2``, ``-r3``...), a new labeling job."""
    from instructrl.labelapp.wire import batch_from_json, batch_to_json

    saved = d / "batch.json"
    if saved.exists():
        return batch_from_json(json.loads(saved.read_text()))[0]
    batch = make()
    prev_file = d / "previous-batch.json"
    if prev_file.exists():
        prev = batch_from_json(json.loads(prev_file.read_text()))[0]
        same = {**batch_to_json(prev), "id": batch.id} == batch_to_json(batch)
        batch = dataclasses.replace(batch, id=prev.id if same else next_revision(prev.id))
    write_text_atomic(saved, json.dumps(batch_to_json(batch)))
    return batch


def next_revision(batch_id: str) -> str:
    """``x`` -> ``x-r2`` -> ``x-r3``: the id of a rerun's batch with new content."""
    base, sep, n = batch_id.rpartition("-r")
    return f"{base}-r{int(n) + 1}" if sep and n.isdigit() and int(n) >= 2 else f"{batch_id}-r2"


def label(cfg: LoopConfig, backend: LabelerBackend, batch: LabelBatch) -> LabelResults:
    """Submit (idempotent: a resumed run re-attaches to its batch), wait, fetch."""
    batch_id = backend.submit(batch)
    start = time.time()
    shown = -1
    while True:
        st = backend.status(batch_id)
        if st.complete:
            return backend.results(batch_id)
        if cfg.labelers_deadline_s is not None and time.time() - start > cfg.labelers_deadline_s:
            print(f"labelers: deadline reached with {st.n_done}/{st.n_items} labeled; proceeding with a partial batch")
            return backend.results(batch_id, partial=True)
        if st.n_done != shown:
            print(f"labelers: batch {batch_id}: {st.n_done}/{st.n_items} labeled; waiting")
            shown = st.n_done
        time.sleep(cfg.labelers_poll_s)


def collect_demonstrations(cfg: LoopConfig, root: Path) -> None:
    d = root / "round-0" / "data"
    batch = labeling_batch(d, lambda: LabelBatch(id=f"{cfg.name}/round-0/demonstrations", kind="demonstrations",
                                                 prompts=tuple(train_prompts(root)[: cfg.data.sft_prompts])))
    res = label(cfg, make_backend(cfg), batch)
    if not res.demonstrations:
        raise ValueError("labelers returned no demonstrations")
    write_jsonl(d / "demonstrations.jsonl", res.demonstrations)
    mark_done(d, {"demonstrations": len(res.demonstrations), "skipped": res.skipped})


def sft_mix_text(cfg: LoopConfig, root: Path) -> tuple[Path, bool]:
    """SFT's pretraining mix (path, append EOS): PPO-ptx's text, or with
    ``data.sft_mix_text=generated`` the generated corpus the data stage wrote."""
    if cfg.data.sft_mix_text == "generated":
        return root / "data" / "ptx.txt", True
    text = pretraining_text(cfg, root)
    return text.train, text.append_eos


def sft_overrides(cfg: LoopConfig, root: Path) -> dict[str, Any]:
    """The SFT stage's config: the loop's paths and seed, then the user's ``sft:`` keys."""
    mix, mix_eos = sft_mix_text(cfg, root)
    return merge(
        {
            "model": {"name": base_spec(cfg, root)},
            "data": {"train": str(root / "round-0" / "data" / "demonstrations.jsonl"), "pretrain": str(mix),
                     "pretrain_fraction": 0.1, "pretrain_append_eos": mix_eos},
            "output_dir": str(root / "round-0" / "sft"),
            "seed": cfg.seed,
            "device": cfg.device,
            "progress": cfg.progress,
            "threads": cfg.threads,
        },
        cfg.sft,
    )


def train_sft(cfg: LoopConfig, root: Path) -> None:
    from instructrl.sft import SFTConfig, train

    train(load_config(SFTConfig, None, sft_overrides(cfg, root)))
    mark_done(root / "round-0" / "sft")


# ------------------------------------------------------------------------ rankings


def policy_dirs(root: Path, k: int) -> list[Path]:
    """Policies up to round k-1: the SFT model, then each round's PPO policy."""
    out = [root / "round-0" / "sft" / "final"]
    out += [root / f"round-{j}" / "ppo" / "final" for j in range(1, k)]
    return [p for p in out if p.exists()]


def loop_device(cfg: LoopConfig) -> str:
    """``cfg.device`` resolved (``auto``: a CUDA GPU when torch sees one, else the CPU)."""
    from instructrl.runtime import resolve_device

    return str(resolve_device(cfg.device))


def sample_responses(policy: str, prompts: Sequence[Prompt], n: int, *, max_new_tokens: int, temperature: float, seed: int,
                     device: str = "cpu") -> list[list[str]]:
    """``n`` samples per prompt from ``policy`` (an HF dir), generated on ``device``."""
    from instructrl.data.render import render_prompt
    from instructrl.models import generate_text, load_causal_lm

    model, tok = load_causal_lm(policy, device=device)
    model.eval()
    texts = [render_prompt(tok, p) for p in prompts for _ in range(n)]
    outs = generate_text(model, tok, texts, max_new_tokens=max_new_tokens, temperature=temperature, batch_size=64, seed=seed)
    return [outs[i * n : (i + 1) * n] for i in range(len(prompts))]


def collect_rankings(cfg: LoopConfig, root: Path, k: int) -> None:
    d = root / f"round-{k}" / "data"
    batch = labeling_batch(d, lambda: ranking_batch(cfg, root, k))
    policies = sorted({s for it in batch.items for s in it.sources})
    backend = make_backend(cfg)
    res = label(cfg, backend, batch)
    write_jsonl(d / "rankings.jsonl", res.rankings)
    write_jsonl(d / "ratings.jsonl", res.ratings)
    info: dict[str, Any] = {"batch": batch.id, "rankings": len(res.rankings), "skipped": res.skipped, "policies": policies}
    if hasattr(backend, "agreement"):
        rep = backend.agreement(batch.id)
        info["agreement"] = rep if isinstance(rep, dict) else rep.to_dict() if hasattr(rep, "to_dict") else vars(rep)
    write_text_atomic(d / "labeling.json", json.dumps(info, indent=2, default=str))
    mark_done(d, {"rankings": len(res.rankings)})


def sample_groups(policies: Sequence[Path], k: int, temperatures: Sequence[float]) -> list[tuple[Path, float, int]]:
    """How a prompt's K responses are drawn: (policy, temperature, count) per sampling pass.

    The K slots are split over ``policies`` in contiguous runs (the first ones get the
    remainder) and take ``temperatures`` in turn; slots with the same policy and temperature
    are one pass. One policy at one temperature is a single pass of K samples.
    """
    per = [k // len(policies) + (1 if i < k % len(policies) else 0) for i in range(len(policies))]
    owner = [i for i, n in enumerate(per) for _ in range(n)]  # the policy of each slot
    groups = Counter((i, float(temperatures[slot % len(temperatures)])) for slot, i in enumerate(owner))
    return [(policies[i], t, n) for (i, t), n in groups.items()]


def ranking_batch(cfg: LoopConfig, root: Path, k: int) -> LabelBatch:
    """Round k's prompts, each with K samples from the policies ``sample_from`` names."""
    dc = cfg.data
    start = dc.sft_prompts + (k - 1) * dc.rank_prompts
    prompts = train_prompts(root)[start : start + dc.rank_prompts]
    policies = policy_dirs(root, k)
    if cfg.sample_from == "current":
        policies = policies[-1:]
    samples: list[list[str]] = [[] for _ in prompts]
    sources: list[list[str]] = [[] for _ in prompts]
    max_new = int(cfg.ppo.get("max_new_tokens", 64))
    temps = list(dict.fromkeys(float(t) for t in dc.rank_temperature))
    device = loop_device(cfg)
    for pol, temperature, n in sample_groups(policies, dc.k, dc.rank_temperature):
        seed = cfg.seed + 1000 * k + temps.index(temperature)  # one temperature: the seed it always had
        outs = sample_responses(str(pol), prompts, n, max_new_tokens=max_new, temperature=temperature, seed=seed, device=device)
        for i, o in enumerate(outs):
            samples[i] += o
            sources[i] += [pol.parent.parent.name + "/" + pol.parent.name] * n
    items = tuple(RankingItem(prompt=p, responses=tuple(s), sources=tuple(src)) for p, s, src in zip(prompts, samples, sources))
    return LabelBatch(id=f"{cfg.name}/round-{k}/rankings", kind="rankings", items=items)


def all_rankings_path(root: Path, k: int) -> Path:
    return root / f"round-{k}" / "rm-data" / "rankings.jsonl"


def all_rankings(root: Path, k: int) -> Path:
    """Rankings of rounds 1..k in one file (the RM trains on all comparisons so far)."""
    out = all_rankings_path(root, k)
    rows: list[Ranking] = []
    for j in range(1, k + 1):
        rows += read_jsonl(root / f"round-{j}" / "data" / "rankings.jsonl", Ranking).records
    write_jsonl(out, rows)
    return out


def rm_overrides(cfg: LoopConfig, root: Path, k: int) -> dict[str, Any]:
    """Round k's reward-model config: the loop's paths and seed, then the user's ``rm:`` keys."""
    init = str(root / "round-0" / "sft" / "final") if cfg.rm_init == "sft" else base_spec(cfg, root)
    return merge(
        {
            "model": {"name": init},
            "data": {"train": str(all_rankings_path(root, k))},
            "normalize": {"mode": "bias", "demonstrations": str(root / "round-0" / "data" / "demonstrations.jsonl")},
            "output_dir": str(root / f"round-{k}" / "rm"),
            "seed": cfg.seed + k,
            "device": cfg.device,
            "progress": cfg.progress,
            "threads": cfg.threads,
        },
        cfg.rm,
    )


def train_rm(cfg: LoopConfig, root: Path, k: int) -> None:
    from instructrl.reward import RewardConfig, train

    all_rankings(root, k)
    train(load_config(RewardConfig, None, rm_overrides(cfg, root, k)))
    mark_done(root / f"round-{k}" / "rm")


def ppo_overrides(cfg: LoopConfig, root: Path, k: int, ptx: bool = True) -> dict[str, Any]:
    """Round k's PPO config (PPO-ptx, or plain PPO with ``ptx=False``): the loop's paths and
    seed, then the user's ``ppo:`` keys."""
    d = root / f"round-{k}" / ("ppo" if ptx else "ppo-noptx")
    sft = str(root / "round-0" / "sft" / "final")
    init = sft if cfg.ppo_init == "sft" or k == 1 else str(root / f"round-{k - 1}" / "ppo" / "final")
    rm = str(root / f"round-{k}" / "rm" / "final")
    # `ppo.reward.kind` other than "model" (e.g. "task", the spec grader the panel judges by)
    # replaces the learned RM as PPO's reward: the ceiling a perfect RM would give. The RM
    # still trains and initialises the value function.
    reward_kind = (cfg.ppo.get("reward") or {}).get("kind") or "model"
    # the paper initialises the value function from the RM; a value head or none (rloo) has no init
    value_kind = (cfg.ppo.get("value") or {}).get("kind") or "separate"
    text = pretraining_text(cfg, root)
    over = merge(
        {
            "model": {"name": init},
            "reference": None if init == sft else sft,
            "reward": {"kind": "model", "model": rm} if reward_kind == "model" else {},
            "value": {"init": rm} if value_kind == "separate" else {},
            "ptx": {"data": str(text.train), "append_eos": text.append_eos},
            "data": {"prompts": str(root / "data" / "train.jsonl"), "valid_prompts": str(root / "data" / "valid.jsonl")},
            "output_dir": str(d),
            "seed": cfg.seed + k,
            "device": cfg.device,
            "progress": cfg.progress,
            "threads": cfg.threads,
            # a killed run resumes inside the stage, not from its start (24 min on smollm2)
            "save_every": 4,
        },
        cfg.ppo,
    )
    return merge(over, {"ptx": {"coef": 0.0}}) if not ptx else over


def train_ppo(cfg: LoopConfig, root: Path, k: int, ptx: bool = True) -> None:
    from instructrl.ppo import PPOConfig, train

    d = root / f"round-{k}" / ("ppo" if ptx else "ppo-noptx")
    train(load_config(PPOConfig, None, ppo_overrides(cfg, root, k, ptx)))
    mark_done(d)
    # the resumable checkpoints (policy, value and both optimizers: ~3 GB each on smollm2)
    # are dead weight once final/ and value/ are written
    shutil.rmtree(d / "checkpoints", ignore_errors=True)
