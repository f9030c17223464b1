"""Reward-model accuracy on preference data: chosen/rejected pairs (HH-RLHF) or K-way
rankings (ties dropped, as in training).

Thin glue over the reward stage, so loading and the metric exist once: data specs are
``instructrl.reward.data.load_rankings``'s (a JSONL(.gz) of HH-RLHF dialogues or Ranking
records, ``hf:<name>@<split>``, ``generated:<n>@<seed>``), and the metrics (accuracy with
ties half, margin, log loss, by K) are ``instructrl.reward.metrics.ranking_metrics``. The
reward is any ``score_fn(prompts, responses) -> scores``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from instructrl.data.schemas import Prompt, Ranking

ScoreFn = Callable[[list[Prompt], list[str]], list[float]]


def load_preferences(spec: str, *, limit: int | None = None) -> tuple[list[Ranking], int]:
    """(rankings, number of malformed rows skipped). Public test splits have a few malformed
    rows (HH-RLHF helpful-base test:169 has an empty turn); they are skipped and counted,
    and the count is reported next to the accuracy."""
    from instructrl.reward.data import load_rankings

    loaded = load_rankings(str(spec), skip_bad=True)
    return (loaded.records[:limit] if limit else loaded.records), loaded.n_skipped


def ranking_accuracy(score_fn: ScoreFn, rankings: Sequence[Ranking]) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Metrics over all non-tied pairs of all rankings, and one record per ranking."""
    from instructrl.reward.metrics import ranking_metrics

    prompts = [r.prompt for r in rankings for _ in r.responses]
    responses = [x for r in rankings for x in r.responses]
    scores = score_fn(prompts, responses)
    if len(scores) != len(responses):
        raise ValueError(f"reward function returned {len(scores)} scores for {len(responses)} responses")
    grouped, i = [], 0
    for r in rankings:
        grouped.append([float(x) for x in scores[i : i + r.k]])
        i += r.k
    metrics = ranking_metrics(grouped, [list(r.ranks) for r in rankings], [r.prompt.category for r in rankings])
    records = [
        {"prompt_id": r.prompt.id, "ranks": list(r.ranks), "scores": s,
         "pair_accuracy": [1.0 if s[w] > s[l] else 0.5 if s[w] == s[l] else 0.0 for w, l in r.pairs()]}
        for r, s in zip(rankings, grouped)
    ]
    return metrics, records


def load_reward_fn(spec: str, *, device: str = "cpu", batch_size: int = 8) -> ScoreFn:
    """A trained reward model by spec, as a score function (``instructrl.reward``)."""
    from instructrl.reward import load_reward_model, score

    rm = load_reward_model(spec, device=device)
    return lambda prompts, responses: list(score(rm, prompts, responses, batch_size=batch_size))
