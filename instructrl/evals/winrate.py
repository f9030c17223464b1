"""Win rate of model A against model B on a prompt set, judged by a pluggable judge.

Position bias is controlled by the evaluator, not the judge. With ``swap="both"`` every
prompt is judged twice, (A, B) and (B, A), and the prompt's score is the mean of
``v_ab`` and ``1 - v_ba``: 1 (A won both), 0.75, 0.5 (tie, or the judge flipped with the
order), 0.25 or 0. With ``swap="random"`` each prompt is judged once, in a seeded random
order, which halves the judge's work and cancels bias only on average. Ties count half.
The interval is Wilson (default) or bootstrap over prompts (see ``stats``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Sequence

from instructrl.data.schemas import Prompt
from instructrl.evals.judges import Comparison, Judge, check_verdict
from instructrl.evals.stats import mean_interval


@dataclass(frozen=True)
class WinRate:
    win_rate: float  # mean per-prompt score of A, ties counted half
    ci_low: float
    ci_high: float
    n: int
    wins: int  # prompts scored > 0.5 for A
    ties: int  # prompts scored exactly 0.5
    losses: int
    first_position_rate: float  # mean verdict for whichever response was shown first; 0.5 = no position bias
    order_agreement: float | None  # share of prompts whose two orders agree (swap="both" only)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def judge_win_rate(
    judge: Judge,
    prompts: Sequence[Prompt],
    responses_a: Sequence[str],
    responses_b: Sequence[str],
    *,
    swap: str = "both",
    interval: str = "wilson",
    seed: int = 0,
) -> tuple[WinRate, list[dict[str, Any]]]:
    """Judge A vs B on every prompt; returns the summary and one record per prompt."""
    n = len(prompts)
    if not (n == len(responses_a) == len(responses_b)):
        raise ValueError(f"win rate needs equal lengths, got {n} prompts, {len(responses_a)} A, {len(responses_b)} B")
    if n == 0:
        raise ValueError("win rate needs at least one prompt")
    if swap == "both":
        items = [Comparison(p, a, b) for p, a, b in zip(prompts, responses_a, responses_b)]
        items += [Comparison(p, b, a) for p, a, b in zip(prompts, responses_a, responses_b)]
        v = [check_verdict(x, judge.name) for x in judge.compare_many(items)]
        v_ab, v_ba = v[:n], v[n:]
        scores = [(x + (1.0 - y)) / 2.0 for x, y in zip(v_ab, v_ba)]
        records = [
            {"prompt_id": p.id, "verdict_ab": x, "verdict_ba": y, "score_a": s}
            for p, x, y, s in zip(prompts, v_ab, v_ba, scores)
        ]
        first_rate = sum(v) / len(v)
        agreement: float | None = sum(1 for x, y in zip(v_ab, v_ba) if x == 1.0 - y) / n
    elif swap == "random":
        rng = random.Random(seed)
        flipped = [rng.random() < 0.5 for _ in range(n)]
        items = [
            Comparison(p, b, a) if f else Comparison(p, a, b)
            for p, a, b, f in zip(prompts, responses_a, responses_b, flipped)
        ]
        v = [check_verdict(x, judge.name) for x in judge.compare_many(items)]
        scores = [1.0 - x if f else x for x, f in zip(v, flipped)]
        records = [
            {"prompt_id": p.id, "a_shown_first": not f, "verdict": x, "score_a": s}
            for p, f, x, s in zip(prompts, flipped, v, scores)
        ]
        first_rate = sum(v) / n
        agreement = None
    else:
        raise ValueError(f"swap must be 'both' or 'random', got {swap!r}")
    mean, lo, hi = mean_interval(scores, interval, seed=seed)
    summary = WinRate(
        win_rate=mean,
        ci_low=lo,
        ci_high=hi,
        n=n,
        wins=sum(s > 0.5 for s in scores),
        ties=sum(s == 0.5 for s in scores),
        losses=sum(s < 0.5 for s in scores),
        first_position_rate=first_rate,
        order_agreement=agreement,
    )
    return summary, records


def generated_prompts(spec: str) -> list[Prompt]:
    """``generated:<n>[@<seed>]`` -> ``instructrl.tasks.generate_prompts(n, seed)`` (prompts
    with task specs, which the simulated panel and the task grader can judge)."""
    import re

    m = re.fullmatch(r"generated:(\d+)(?:@(\d+))?", spec)
    if not m:
        raise ValueError(f"prompt spec {spec!r} is not generated:<n>[@<seed>]")
    from instructrl.tasks import generate_prompts

    return generate_prompts(int(m.group(1)), seed=int(m.group(2) or 0))


def load_prompt_set(path: str) -> list[Prompt]:
    """Prompt JSONL (instructrl ``Prompt`` records), Self-Instruct rows (``instruction`` +
    ``instances[0].input``, as in user_oriented_instructions.jsonl), or ``generated:<n>[@seed]``."""
    import json
    from pathlib import Path

    from instructrl.evals.lm import self_instruct_text

    if path.startswith("generated:"):
        return generated_prompts(path)
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"win-rate prompt file not found: {p}")
    out = []
    for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if "instruction" in row and "instances" in row:
            inp = (row["instances"][0].get("input") or "") if row["instances"] else ""
            out.append(Prompt(id=str(row.get("id", lineno)), text=self_instruct_text(row["instruction"], inp),
                              metadata={"app": row.get("motivation_app", "")}))
        else:
            out.append(Prompt.from_dict(row))
    if not out:
        raise ValueError(f"{p}: no prompts")
    return out
