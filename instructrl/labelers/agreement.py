"""Inter-labeler agreement on pairwise comparisons (method doc §6: training labelers agree
72.6 +- 1.5% of the time, held-out labelers 77.3 +- 1.3%).

Two rankings of the same K responses give C(K,2) comparisons each. A comparison counts when
both labelers state a strict preference (a tie is "no comparison", as in the reward model's
training pairs); they agree when they prefer the same response.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from instructrl.data.schemas import Ranking


@dataclass(frozen=True)
class AgreementReport:
    agreement: float | None  # None when no comparison was shared
    n_pairs: int  # comparisons judged strictly by both labelers
    n_items: int  # items ranked by two or more labelers

    def to_dict(self) -> dict[str, float | int | None]:
        return {"agreement": self.agreement, "n_pairs": self.n_pairs, "n_items": self.n_items}


def pair_counts(a: Ranking, b: Ranking) -> tuple[int, int]:
    """(agreeing, compared) over the comparisons that both rankings make strictly.
    The rankings must be of the same responses in the same order."""
    if a.responses != b.responses:
        raise ValueError("rankings compared for agreement must rank the same responses in the same order")
    agree = compared = 0
    for i, j in itertools.combinations(range(a.k), 2):
        da, db = a.ranks[i] - a.ranks[j], b.ranks[i] - b.ranks[j]
        if da != 0 and db != 0:
            compared += 1
            agree += (da < 0) == (db < 0)
    return agree, compared


def pairwise_agreement(rankings_a: list[Ranking], rankings_b: list[Ranking]) -> AgreementReport:
    """Agreement between two aligned lists of rankings (``rankings_a[n]`` and ``rankings_b[n]``
    rank the same item)."""
    if len(rankings_a) != len(rankings_b):
        raise ValueError(f"need aligned lists of rankings, got {len(rankings_a)} and {len(rankings_b)}")
    agree = compared = 0
    for a, b in zip(rankings_a, rankings_b):
        x, n = pair_counts(a, b)
        agree, compared = agree + x, compared + n
    return AgreementReport(agree / compared if compared else None, compared, len(rankings_a))


def inter_labeler_agreement(rankings: list[Ranking]) -> AgreementReport:
    """Agreement over every pair of distinct labelers that ranked the same item (same prompt
    id and responses), e.g. the results of a batch labeled with ``overlap > 1``."""
    groups: dict[tuple[str, tuple[str, ...]], list[Ranking]] = {}
    for r in rankings:
        groups.setdefault((r.prompt.id, r.responses), []).append(r)
    agree = compared = items = 0
    for group in groups.values():
        if len({r.labeler_id for r in group}) < 2:
            continue
        items += 1
        for a, b in itertools.combinations(group, 2):
            if a.labeler_id != b.labeler_id:
                x, n = pair_counts(a, b)
                agree, compared = agree + x, compared + n
    return AgreementReport(agree / compared if compared else None, compared, items)
