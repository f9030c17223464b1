"""Per-round evaluation, as the paper's (method doc §7), judged by the held-out panel.

On test prompts from held-out users: win rate of the round's policy against the SFT policy
(both presentation orders, ties half, 95% interval by bootstrap over prompts, or Wilson:
``eval.interval``; the other method's bounds are recorded beside it), mean Likert and the rates of
fails-to-follow, constraint satisfied (prompts with explicit constraints only),
closed-domain hallucination (prompts with a passage: those among the test prompts plus
the extra closed-domain test set, ``data.closed_domain_test``, since the Table 1 mix puts
only ~9% of prompts there) and inappropriate, with Wilson intervals for the rates; the reward
model's accuracy on these fresh comparisons; KL to the SFT reference on T=1 samples; and
the held-out pretraining loss (the alignment tax). Responses are cached per policy, so
rerunning the stage re-judges without generating again (while the policy's weights and the
decoding settings are those the answers were written under), and the SFT policy's answers are
generated once and reused by later rounds (same policy, prompts and decoding settings). For generated prompts it also
breaks the test responses down by task family and constraint type with the spec checks
(no labeler noise), so the report shows where a policy gained and where it lost.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import torch

from instructrl.data import Prompt, read_jsonl
from instructrl.data.io import write_jsonl, write_text_atomic
from instructrl.data.sources import load_texts

from .config import LoopConfig
from .stages import closed_test_prompts, loop_device, mark_done, pretraining_text


def _generation_key(cfg: LoopConfig, policy: Path, prompts: Sequence[Prompt]) -> dict[str, Any]:
    """What a policy's evaluation responses depend on (its weights files by size and mtime,
    decoding settings, prompts): an earlier round's file is reused only if these match."""
    policy = Path(policy).resolve()
    weights = sorted([f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in policy.glob("*.safetensors")) if policy.is_dir() else []
    return {"policy": str(policy), "weights": weights, "max_new_tokens": cfg.eval.max_new_tokens,
            "temperature": cfg.eval.temperature, "seed": cfg.seed, "prompt_ids": [p.id for p in prompts]}


def _read_cache(cache: Path, prompts: Sequence[Prompt], key: dict[str, Any] | None = None) -> list[str] | None:
    """``cache``'s responses if it holds exactly ``prompts`` (and, given ``key``, was written
    under that key), else None."""
    if not cache.exists():
        return None
    meta = cache.with_suffix(".key.json")
    if key is not None and (not meta.exists() or json.loads(meta.read_text()) != key):
        return None
    rows = [json.loads(l) for l in cache.read_text().splitlines()]
    if [r["prompt_id"] for r in rows] != [p.id for p in prompts]:
        return None
    return [r["response"] for r in rows]


def _write_responses(path: Path, prompts: Sequence[Prompt], texts: Sequence[Any]) -> None:
    """One row per prompt: its id and its response(s)."""
    write_jsonl(path, ({"prompt_id": p.id, "response": t} for p, t in zip(prompts, texts)))


def _write_cache(cache: Path, prompts: Sequence[Prompt], texts: Sequence[Any], key: dict[str, Any]) -> None:
    """``texts`` (one per prompt) to ``cache``, with ``key`` beside it for ``_read_cache``."""
    _write_responses(cache, prompts, texts)
    write_text_atomic(cache.with_suffix(".key.json"), json.dumps(key))


def _responses(cfg: LoopConfig, policy: Path, prompts: Sequence[Prompt], cache: Path, earlier: Sequence[Path] = ()) -> list[str]:
    """The policy's evaluation responses: from ``cache`` if there and written under the same
    key (a rerun of the stage with the same policy and settings; an ``--only`` rerun after the
    policy was retrained, or with other decoding settings, generates again), else from an
    ``earlier`` round's file written for the same key (the SFT policy answers the same every
    round), else generated; written to ``cache`` with its key beside it."""
    from .stages import sample_responses

    key = _generation_key(cfg, policy, prompts)
    texts = _read_cache(cache, prompts, key)
    if texts is not None:
        return texts
    for f in earlier:
        texts = _read_cache(f, prompts, key)
        if texts is not None:
            break
    else:
        outs = sample_responses(str(policy), prompts, 1, max_new_tokens=cfg.eval.max_new_tokens, temperature=cfg.eval.temperature,
                                seed=cfg.seed, device=loop_device(cfg))
        texts = [o[0] for o in outs]
    _write_cache(cache, prompts, texts, key)
    return texts


def other_interval(method: str, records: Sequence[dict[str, Any]], seed: int) -> dict[str, float]:
    """The win rate's interval by the method not chosen (``ci_low_wilson``/``ci_high_wilson``
    or ``..._bootstrap``), so a record can quote both."""
    from instructrl.evals.stats import mean_interval

    other = "wilson" if method == "bootstrap" else "bootstrap"
    _, lo, hi = mean_interval([r["score_a"] for r in records], other, seed=seed)
    return {f"ci_low_{other}": lo, f"ci_high_{other}": hi}


def rating_summary(panel: Any, prompts: Sequence[Prompt], responses: Sequence[str],
                   closed_prompts: Sequence[Prompt] = (), closed_responses: Sequence[str] = ()) -> dict[str, float]:
    """Likert and metadata rates from held-out labelers (one per prompt, round robin), with
    Wilson 95% intervals for the constraint and hallucination rates. Hallucination is rated
    on the closed-domain prompts among ``prompts`` plus ``closed_prompts`` (the extra
    closed-domain test set), which count for nothing else.

    A policy can lower the hallucination rate by not doing the task (an off-topic template
    names nothing the passage lacks), so the same closed-domain answers also give
    ``closed_fails_to_follow`` and ``hallucination_attempted``: the rate among the answers
    the labeler did not flag as failing to follow the instruction."""
    from instructrl.evals.stats import wilson_interval

    labelers = panel.labelers
    likert, fails, inappropriate = [], [], []
    sat, halluc, closed_fails = [], [], []
    for i, (p, r) in enumerate(zip(prompts, responses)):
        rating = labelers[i % len(labelers)].rate(p, r)
        spec = p.metadata.get("spec", {})
        likert.append(rating.likert)
        fails.append(rating.flag("fails_to_follow"))
        inappropriate.append(rating.flag("inappropriate"))
        if spec.get("constraints"):
            sat.append(rating.flag("satisfies_constraint"))
        if spec.get("closed_domain"):
            halluc.append(rating.flag("hallucination"))
            closed_fails.append(rating.flag("fails_to_follow"))
    for i, (p, r) in enumerate(zip(closed_prompts, closed_responses), start=len(prompts)):
        rating = labelers[i % len(labelers)].rate(p, r)
        halluc.append(rating.flag("hallucination"))
        closed_fails.append(rating.flag("fails_to_follow"))
    attempted = [h for h, f in zip(halluc, closed_fails) if not f]
    mean = lambda xs: float(sum(xs) / len(xs)) if xs else float("nan")
    ci = lambda xs: list(wilson_interval(mean(xs), len(xs))) if xs else [float("nan"), float("nan")]
    return {
        "likert": mean(likert),
        "fails_to_follow": mean(fails),
        "constraint_satisfied": mean(sat),
        "constraint_satisfied_ci": ci(sat),
        "hallucination": mean(halluc),
        "hallucination_ci": ci(halluc),
        "inappropriate": mean(inappropriate),
        "n_constrained": float(len(sat)),
        "n_closed_domain": float(len(halluc)),
        "closed_fails_to_follow": mean(closed_fails),
        "hallucination_attempted": mean(attempted),
        "n_closed_attempted": float(len(attempted)),
    }


def spec_breakdown(prompts: Sequence[Prompt], responses: Sequence[str]) -> dict[str, dict[str, list[float]]]:
    """Spec checks of each response, without labeler noise: per task family, ``[n, share
    that does the task]``; per constraint type, ``[n, share met]`` over every instance of
    that constraint. Prompts without a generated spec are skipped (real prompt sets)."""
    from instructrl.tasks.grader import grade, spec_of

    tasks: dict[str, list[int]] = {}
    constraints: dict[str, list[int]] = {}
    for p, r in zip(prompts, responses):
        try:
            task = spec_of(p)["task"]
        except ValueError:
            continue
        g = grade(p, r)
        t = tasks.setdefault(task, [0, 0])
        t[0] += 1
        t[1] += g.task_done
        for ctype, ok in g.constraints:
            c = constraints.setdefault(ctype, [0, 0])
            c[0] += 1
            c[1] += ok
    rates = lambda d: {k: [float(n), hits / n] for k, (n, hits) in sorted(d.items())}
    return {"task_done": rates(tasks), "constraint_met": rates(constraints)}


def changed_answers(prompts: Sequence[Prompt], ours: Sequence[str], sft: Sequence[str], scores: Sequence[float]) -> dict[str, Any]:
    """Where a policy's win rate against SFT comes from. On prompts where it gives SFT's own
    answer the comparison is a tie by construction (0.5), so the win rate is
    ``same * 0.5 + (1 - same) * changed_win_rate``. On generated prompts (with a spec), the
    changed answers are split by the grader, without labeler noise or quirks: better, equal
    or worse gold quality than SFT's answer, with the panel's win rate on each part."""
    from instructrl.tasks.grader import grade, spec_of

    changed = [i for i, (a, b) in enumerate(zip(ours, sft)) if a.strip() != b.strip()]
    out: dict[str, Any] = {"same_share": 1.0 - len(changed) / len(ours) if ours else float("nan"), "n_changed": len(changed),
                           "changed_win_rate": sum(scores[i] for i in changed) / len(changed) if changed else float("nan")}
    parts: dict[str, list[float]] = {"better": [], "equal": [], "worse": []}
    for i in changed:
        try:
            spec_of(prompts[i])
        except ValueError:
            continue
        a, b = grade(prompts[i], ours[i]).quality, grade(prompts[i], sft[i]).quality
        parts["better" if a > b + 1e-9 else "worse" if a < b - 1e-9 else "equal"].append(scores[i])
    n = sum(len(v) for v in parts.values())
    if n:
        out["gold"] = {name: {"share": len(v) / n, "n": len(v), "win_rate": sum(v) / len(v) if v else float("nan")}
                       for name, v in parts.items()}
    return out


def rm_accuracy(rm_dir: Path, prompts, a: Sequence[str], b: Sequence[str], verdicts: Sequence[float],
                device: str = "cpu") -> dict[str, float]:
    """Agreement of the RM with held-out labelers on the non-tied comparisons."""
    from instructrl.reward import load_reward_model, score

    rm = load_reward_model(str(rm_dir), device=device)
    ra, rb = score(rm, list(prompts), list(a)), score(rm, list(prompts), list(b))
    hits = [(x > y) == (v > 0.5) for x, y, v in zip(ra, rb, verdicts) if v != 0.5 and x != y]
    return {"rm_accuracy": float(sum(hits) / len(hits)) if hits else float("nan"), "rm_n": float(len(hits))}


@torch.no_grad()
def kl_to_reference(policy: Path, reference: Path, prompts: Sequence[Prompt], max_new_tokens: int, seed: int,
                    device: str = "cpu") -> float:
    """Mean over T=1 samples of sum_t log pi(y_t) - log pi_ref(y_t) (nats per response)."""
    from instructrl.data.render import tokenize_prompt
    from instructrl.models import HFGenerator, load_causal_lm, token_logprobs

    pol, tok = load_causal_lm(str(policy), device=device)
    ref, _ = load_causal_lm(str(reference), device=device)
    pol.eval(), ref.eval()
    ids = [tokenize_prompt(tok, p) for p in prompts]
    g = HFGenerator(pol, tok.eos_token_id, tok.pad_token_id).generate(ids, max_new_tokens=max_new_tokens, temperature=1.0, seed=seed)
    total = 0.0
    for p, r in zip(ids, g.response_ids):
        x = torch.tensor([p + r], device=device)
        tm = torch.zeros_like(x, dtype=torch.bool)
        tm[0, len(p) :] = True
        a, _ = token_logprobs(pol, x, tm)
        b, _ = token_logprobs(ref, x, tm)
        total += float((a - b).sum())
    return total / max(1, len(prompts))


def heldout_loss(policy: Path, texts: Sequence[str], append_eos: bool = True, device: str = "cpu") -> float:
    from instructrl.evals.alignment_tax import hf_nll
    from instructrl.models import load_causal_lm

    model, tok = load_causal_lm(str(policy), device=device)
    nll, n = hf_nll(model, tok, texts, max_seq_len=256, batch_size=16, append_eos=append_eos)
    return nll / max(1, n)


def _vs_previous(cfg: LoopConfig, root: Path, k: int, prompts: Sequence[Prompt], ours: list[str]) -> dict[str, Any]:
    """Round k's policy against round k-1's, head to head, by the held-out judges: "round 2
    is better than round 1" measured directly rather than as two win rates against SFT.
    Round k-1's answers come from its evaluation when they were written for its policy as it
    is now (the generation key), else they are generated."""
    d = root / f"round-{k}" / "eval"
    theirs = _responses(cfg, root / f"round-{k - 1}" / "ppo" / "final", prompts, d / f"responses-ppo-round-{k - 1}.jsonl",
                        [root / f"round-{k - 1}" / "eval" / "responses-ppo.jsonl"])
    wr, _ = _head_to_head(cfg, f"round-{k}/eval-ppo-vs-round-{k - 1}", prompts, ours, theirs, d / "winrate-ppo-vs-previous.jsonl")
    return {**wr, "previous_round": k - 1}


def _head_to_head(cfg: LoopConfig, batch: str, prompts: Sequence[Prompt], a: list[str], b: list[str], out: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Win rate of answers ``a`` over ``b`` by the held-out judges (both presentation orders),
    with both intervals; the per-prompt judgements go to ``out``."""
    from instructrl.evals.judges import BackendJudge
    from instructrl.evals.winrate import judge_win_rate

    from .stages import make_backend

    judge = BackendJudge(make_backend(cfg, pool="heldout"), f"{cfg.name}/{batch}", poll_s=cfg.labelers_poll_s)
    wr, records = judge_win_rate(judge, prompts, a, b, interval=cfg.eval.interval, seed=cfg.seed)
    write_jsonl(out, records)
    return {**wr.to_dict(), "interval": cfg.eval.interval, **other_interval(cfg.eval.interval, records, cfg.seed)}, records


def _reference_prompts(cfg: LoopConfig, prompts: Sequence[Prompt]) -> list[tuple[int, str]]:
    """(index, demonstration) of the test prompts that carry a spec the demonstrator answers."""
    from instructrl.tasks.demonstrator import try_demonstrate

    return [(i, demo) for i, p in enumerate(prompts) if p.metadata.get("spec") and (demo := try_demonstrate(p, seed=cfg.seed)) is not None]


def sft_candidates(cfg: LoopConfig, prompts: Sequence[Prompt], sft_texts: Sequence[str], sft: Path, cache: Path,
                   earlier: Sequence[Path] = ()) -> list[list[str]]:
    """Per prompt, SFT's evaluation answer followed by ``eval.best_of`` of its T=1 samples:
    the candidates the reference's oracle and each round's RM pick from. The samples are
    cached in ``cache`` (or read from an ``earlier`` round's file written under the same key)."""
    n = cfg.eval.best_of
    key = {**_generation_key(cfg, sft, prompts), "sample_temperature": 1.0, "best_of": n}
    samples = _read_cache(cache, prompts, key)
    if samples is None:  # an earlier round's samples, copied; else drawn
        samples = next((got for f in earlier if (got := _read_cache(f, prompts, key)) is not None), None)
        if samples is None:
            from .stages import sample_responses

            samples = sample_responses(str(sft), prompts, n, max_new_tokens=cfg.eval.max_new_tokens, temperature=1.0, seed=cfg.seed + 1,
                                       device=loop_device(cfg))
        _write_cache(cache, prompts, samples, key)
    return [[s0, *ss] for s0, ss in zip(sft_texts, samples)]


def reference_points(cfg: LoopConfig, prompts: Sequence[Prompt], sft_responses: Sequence[str], sft: Path, d: Path) -> dict[str, Any] | None:
    """What the win rate against SFT can reach with this panel, to read the policies' numbers
    by (simulated panel only; None when no test prompt has a demonstration). ``demonstrator``:
    the demonstrator's answers (every check passed) against SFT's, on the prompts it can
    answer: noisy labelers and an SFT policy that is often right already keep even perfect
    answers below 1. ``best_of`` (``eval.best_of`` = N > 0): per prompt the best of SFT's own
    greedy answer and N of its T=1 samples by the grader (the greedy one on ties), an
    oracle reranker of what SFT already says: a policy that beats it answers better than
    anything SFT puts forward in N + 1 tries."""
    from instructrl.tasks import grade

    keep = _reference_prompts(cfg, prompts)
    if not keep:
        return None
    ps, sft_texts = [prompts[i] for i, _ in keep], [sft_responses[i] for i, _ in keep]
    out: dict[str, Any] = {"n_prompts": len(keep)}
    out["demonstrator"], _ = _head_to_head(cfg, "round-1/eval-demonstrator-vs-sft", ps, [demo for _, demo in keep], sft_texts,
                                           d / "winrate-demonstrator.jsonl")
    n = cfg.eval.best_of
    if n > 0:
        cands = sft_candidates(cfg, ps, sft_texts, sft, d / f"samples-sft-t1-{n}.jsonl")
        best = [max(c, key=lambda s, p=p: grade(p, s).quality) for p, c in zip(ps, cands)]
        _write_responses(d / f"responses-sft-best-of-{n}.jsonl", ps, best)
        out["best_of"], _ = _head_to_head(cfg, f"round-1/eval-sft-best-of-{n}-vs-sft", ps, best, sft_texts, d / f"winrate-sft-best-of-{n}.jsonl")
        out["best_of_n"] = n
    return out


def rm_best_of(cfg: LoopConfig, root: Path, k: int, prompts: Sequence[Prompt], sft_responses: Sequence[str], d: Path) -> dict[str, Any] | None:
    """Rejection sampling with round ``k``'s RM, the baseline PPO has to beat to be worth its
    cost: among the reference's candidates (SFT's answer and ``eval.best_of`` T=1 samples,
    same prompts) the one the RM scores highest (SFT's answer on ties), judged against SFT's
    answers by the held-out panel. ``greedy_share``: how often the RM keeps SFT's answer."""
    from instructrl.reward import load_reward_model, score

    n = cfg.eval.best_of
    keep = _reference_prompts(cfg, prompts) if n > 0 else []
    if not keep:
        return None
    ps, sft_texts = [prompts[i] for i, _ in keep], [sft_responses[i] for i, _ in keep]
    name = f"samples-sft-t1-{n}.jsonl"
    cands = sft_candidates(cfg, ps, sft_texts, root / "round-0" / "sft" / "final", d / name,
                           [root / f"round-{j}" / "eval" / name for j in range(k - 1, 0, -1)])
    rm = load_reward_model(str(root / f"round-{k}" / "rm" / "final"), device=loop_device(cfg))
    flat = score(rm, [p for p, c in zip(ps, cands) for _ in c], [t for c in cands for t in c])
    picks, at = [], 0
    for c in cands:
        s = flat[at : at + len(c)]
        picks.append(max(range(len(c)), key=lambda j: (s[j], -j)))  # the first (SFT's answer) on ties
        at += len(c)
    best = [c[j] for c, j in zip(cands, picks)]
    _write_responses(d / f"responses-rm-best-of-{n}.jsonl", ps, best)
    wr, _ = _head_to_head(cfg, f"round-{k}/eval-rm-best-of-{n}-vs-sft", ps, best, sft_texts, d / f"winrate-rm-best-of-{n}.jsonl")
    return {"n": n, "n_prompts": len(ps), "win_rate": wr, "greedy_share": sum(j == 0 for j in picks) / len(picks)}


def evaluate_round(cfg: LoopConfig, root: Path, k: int) -> dict[str, Any]:
    from .stages import make_backend

    d = root / f"round-{k}" / "eval"
    prompts = read_jsonl(root / "data" / "test.jsonl", Prompt).records[: cfg.data.test_prompts]
    sft = root / "round-0" / "sft" / "final"
    policies = {"sft": sft}
    if k >= 1:
        policies["ppo"] = root / f"round-{k}" / "ppo" / "final"
        if (root / f"round-{k}" / "ppo-noptx" / "final").exists():
            policies["ppo-noptx"] = root / f"round-{k}" / "ppo-noptx" / "final"
    earlier = lambda name: [root / f"round-{j}" / "eval" / name for j in range(k - 1, -1, -1)]
    responses = {n: _responses(cfg, p, prompts, d / f"responses-{n}.jsonl", earlier(f"responses-{n}.jsonl") if n == "sft" else ())
                 for n, p in policies.items()}
    panel = make_backend(cfg, pool="heldout") if cfg.labelers == "simulated" else None
    # the extra closed-domain prompts only feed the panel's hallucination rate
    closed = closed_test_prompts(root) if panel is not None else []
    closed_responses = {n: _responses(cfg, p, closed, d / f"responses-{n}-closed.jsonl",
                                      earlier(f"responses-{n}-closed.jsonl") if n == "sft" else ()) if closed else []
                        for n, p in policies.items()}
    text = pretraining_text(cfg, root)
    texts = load_texts(str(text.heldout))
    result: dict[str, Any] = {"round": k, "n_prompts": len(prompts), "n_closed_extra": len(closed), "policies": {}}
    device = loop_device(cfg)
    for name, path in policies.items():
        row: dict[str, Any] = {"heldout_ptx_loss": heldout_loss(path, texts, append_eos=text.append_eos, device=device)}
        if panel is not None:
            row.update(rating_summary(panel, prompts, responses[name], closed, closed_responses[name]))
        row["by_spec"] = spec_breakdown(prompts, responses[name])
        if name != "sft":
            row["win_rate"], records = _head_to_head(cfg, f"round-{k}/eval-{name}-vs-sft", prompts, responses[name], responses["sft"], d / f"winrate-{name}.jsonl")
            scores = [r["score_a"] for r in records]
            row["changed_answers"] = changed_answers(prompts, responses[name], responses["sft"], scores)
            row.update(rm_accuracy(root / f"round-{k}" / "rm" / "final", prompts, responses[name], responses["sft"], scores, device=device))
            row["kl_to_sft"] = kl_to_reference(path, sft, prompts[: cfg.eval.kl_samples], cfg.eval.max_new_tokens, cfg.seed, device=device)
        result["policies"][name] = row
    if k == 1 and panel is not None and cfg.eval.reference:
        ref = reference_points(cfg, prompts, responses["sft"], sft, d)
        if ref is not None:
            result["reference"] = ref
    if k >= 1 and panel is not None and cfg.eval.reference and cfg.eval.best_of > 0:
        bon = rm_best_of(cfg, root, k, prompts, responses["sft"], d)
        if bon is not None:
            result["rm_best_of"] = bon
    if k >= 2 and cfg.eval.vs_previous and "ppo" in policies:
        result["policies"]["ppo"]["win_rate_vs_previous"] = _vs_previous(cfg, root, k, prompts, responses["ppo"])
    sft_loss = result["policies"]["sft"]["heldout_ptx_loss"]
    for name, row in result["policies"].items():
        row["heldout_ptx_loss_vs_sft"] = row["heldout_ptx_loss"] / sft_loss - 1.0 if math.isfinite(sft_loss) else float("nan")
    d.mkdir(parents=True, exist_ok=True)
    write_text_atomic(d / "eval.json", json.dumps(result, indent=2))
    mark_done(d)
    return result
