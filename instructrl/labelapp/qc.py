"""Quality control math: tie normalisation, agreement metrics, gold scoring. Pure functions.

Agreement follows the paper [P §3.4]: "pairwise preference agreement" is, over items two
labelers both ranked and over the C(K,2) response pairs that *both* ranked strictly, the
share on which they prefer the same response (InstructGPT: 72.6% train, 77.3% held-out).
Also reported: Kendall's tau-b and Krippendorff's alpha (Krippendorff 2011, "Computing
Krippendorff's Alpha-Reliability"; ordinal for Likert, nominal for flags).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Hashable, Iterable, Mapping, Sequence


def dense_ranks(ranks: Sequence[int]) -> list[int]:
    """Normalise tier numbers to dense ranks 1..m, keeping order and ties.

    ``[2, 2, 5, 1] -> [2, 2, 3, 1]``: a labeler may leave gaps (1, 1, 3 is "two tied
    for first, then third"); what matters is only the order.
    """
    if not ranks:
        raise ValueError("ranks must not be empty")
    for r in ranks:
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            raise ValueError(f"ranks must be positive integers, got {list(ranks)!r}")
    order = {v: i + 1 for i, v in enumerate(sorted(set(ranks)))}
    return [order[r] for r in ranks]


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def pair_agreement(a: Sequence[int], b: Sequence[int]) -> tuple[int, int]:
    """(agreements, pairs) over response pairs both rankings order strictly (ties dropped)."""
    if len(a) != len(b):
        raise ValueError(f"rankings of different length: {len(a)} vs {len(b)}")
    agree = total = 0
    for i, j in itertools.combinations(range(len(a)), 2):
        sa, sb = _sign(a[j] - a[i]), _sign(b[j] - b[i])
        if sa and sb:
            total += 1
            agree += sa == sb
    return agree, total


def pair_agreement_with_ties(a: Sequence[int], b: Sequence[int]) -> tuple[int, int]:
    """(agreements, pairs) over all C(K,2) pairs with "tie" as a third class."""
    if len(a) != len(b):
        raise ValueError(f"rankings of different length: {len(a)} vs {len(b)}")
    pairs = list(itertools.combinations(range(len(a)), 2))
    agree = sum(_sign(a[j] - a[i]) == _sign(b[j] - b[i]) for i, j in pairs)
    return agree, len(pairs)


def kendall_tau_b(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b = (C - D) / sqrt((n0 - n1)(n0 - n2)); NaN if either is all ties."""
    if len(a) != len(b):
        raise ValueError(f"sequences of different length: {len(a)} vs {len(b)}")
    conc = disc = ties_a = ties_b = 0
    for i, j in itertools.combinations(range(len(a)), 2):
        sa, sb = _sign(a[i] - a[j]), _sign(b[i] - b[j])
        if sa == 0:
            ties_a += 1
        if sb == 0:
            ties_b += 1
        if sa and sb:
            conc += sa == sb
            disc += sa != sb
    n0 = len(a) * (len(a) - 1) // 2
    denom = math.sqrt((n0 - ties_a) * (n0 - ties_b))
    return (conc - disc) / denom if denom else float("nan")


def krippendorff_alpha(units: Iterable[Sequence[Hashable | None]], level: str = "nominal") -> float:
    """Krippendorff's alpha over units, each a list of the values its coders gave (None = missing).

    alpha = 1 - D_o / D_e from the coincidence matrix o_ck (pairable values only: units
    with >= 2 values). ``level``: "nominal" (delta = [c != k]), "interval" ((c-k)^2) or
    "ordinal" (squared rank-sum distance over the value marginals n_g).
    """
    if level not in ("nominal", "ordinal", "interval"):
        raise ValueError(f"level must be nominal, ordinal or interval, got {level!r}")
    o: dict[tuple, float] = defaultdict(float)
    for unit in units:
        vals = [v for v in unit if v is not None]
        m = len(vals)
        if m < 2:
            continue
        for x, y in itertools.permutations(range(m), 2):
            o[(vals[x], vals[y])] += 1.0 / (m - 1)
    n_c: Counter = Counter()
    for (c, _k), w in o.items():
        n_c[c] += w
    n = sum(n_c.values())
    if n <= 1:
        return float("nan")
    values = sorted(n_c)

    def delta(c, k) -> float:
        if level == "nominal":
            return float(c != k)
        if level == "interval":
            return float(c - k) ** 2
        lo, hi = sorted((values.index(c), values.index(k)))
        s = sum(n_c[values[g]] for g in range(lo, hi + 1)) - (n_c[c] + n_c[k]) / 2
        return s * s

    d_o = sum(w * delta(c, k) for (c, k), w in o.items())
    d_e = sum(n_c[c] * n_c[k] * delta(c, k) for c in values for k in values) / (n - 1)
    return 1.0 - d_o / d_e if d_e else float("nan")


# ---------------------------------------------------------------- gold scoring

def score_against_gold(
    gold: Mapping, ranks: Sequence[int] | None, likerts: Sequence[int] | None,
    flags: Sequence[Mapping[str, bool | None]] | None,
) -> dict[str, float]:
    """Score one rate-and-rank answer against a gold answer, all in response-idx order.

    ``gold`` may hold ``ranks`` (scored by pairwise agreement over gold-strict pairs; a
    labeler tie counts as a miss), ``likert`` (share within +-1) and ``flags`` (per
    response, per flag; accuracy on the flags gold sets). ``score`` is the mean of the
    parts present.
    """
    out: dict[str, float] = {}
    if gold.get("ranks") is not None and ranks is not None:
        g = gold["ranks"]
        hits = total = 0
        for i, j in itertools.combinations(range(len(g)), 2):
            sg = _sign(g[j] - g[i])
            if sg:
                total += 1
                hits += _sign(ranks[j] - ranks[i]) == sg
        if total:
            out["ranking"] = hits / total
    if gold.get("likert") is not None and likerts is not None:
        g = gold["likert"]
        out["likert"] = sum(abs(x - y) <= 1 for x, y in zip(g, likerts)) / len(g)
    if gold.get("flags") is not None and flags is not None:
        hits = total = 0
        for gf, lf in zip(gold["flags"], flags):
            for name, value in gf.items():
                if value is None:
                    continue
                total += 1
                hits += bool(lf.get(name)) == bool(value)
        if total:
            out["flags"] = hits / total
    parts = [v for k, v in out.items()]
    out["score"] = sum(parts) / len(parts) if parts else float("nan")
    return out


def rolling_score(scores: Sequence[float], window: int) -> float:
    """Mean of the last ``window`` scores (NaN when there are none)."""
    recent = [s for s in scores if not math.isnan(s)][-window:]
    return sum(recent) / len(recent) if recent else float("nan")


# ---------------------------------------------------------------- agreement reports

@dataclass(frozen=True)
class RankedItem:
    """One labeler's ranking of one item (ranks in response-idx order)."""

    item: Hashable
    labeler: str
    ranks: tuple[int, ...]
    group: str = ""  # e.g. "train" or "heldout"


def agreement_report(rows: Sequence[RankedItem]) -> dict:
    """Agreement over items ranked by >= 2 labelers: overall, per labeler vs the rest, per group.

    Returns ``{"pairwise": p, "pairwise_ties": p3, "kendall_tau": mean tau, "n_items",
    "n_pairs", "per_labeler": {lab: {"pairwise", "n_pairs"}}, "per_group": {g: {...}}}``;
    a group's agreement uses only pairs of labelers within the group.
    """
    by_item: dict[Hashable, list[RankedItem]] = defaultdict(list)
    for r in rows:
        by_item[r.item].append(r)
    tot = _Acc()
    per_lab: dict[str, _Acc] = defaultdict(_Acc)
    per_group: dict[str, _Acc] = defaultdict(_Acc)
    n_items = 0
    for rs in by_item.values():
        if len(rs) < 2:
            continue
        n_items += 1
        for x, y in itertools.combinations(rs, 2):
            acc = _Acc.of(x.ranks, y.ranks)
            tot.add(acc)
            per_lab[x.labeler].add(acc)
            per_lab[y.labeler].add(acc)
            if x.group == y.group:
                per_group[x.group].add(acc)
    return {
        **tot.summary(),
        "n_items": n_items,
        "per_labeler": {k: v.summary() for k, v in sorted(per_lab.items())},
        "per_group": {k: v.summary() for k, v in sorted(per_group.items())},
    }


class _Acc:
    def __init__(self) -> None:
        self.agree = self.pairs = self.agree3 = self.pairs3 = 0
        self.taus: list[float] = []

    @classmethod
    def of(cls, a: Sequence[int], b: Sequence[int]) -> "_Acc":
        acc = cls()
        acc.agree, acc.pairs = pair_agreement(a, b)
        acc.agree3, acc.pairs3 = pair_agreement_with_ties(a, b)
        tau = kendall_tau_b(a, b)
        acc.taus = [] if math.isnan(tau) else [tau]
        return acc

    def add(self, o: "_Acc") -> None:
        self.agree += o.agree
        self.pairs += o.pairs
        self.agree3 += o.agree3
        self.pairs3 += o.pairs3
        self.taus += o.taus

    def summary(self) -> dict:
        return {
            "pairwise": self.agree / self.pairs if self.pairs else None,
            "pairwise_ties": self.agree3 / self.pairs3 if self.pairs3 else None,
            "kendall_tau": sum(self.taus) / len(self.taus) if self.taus else None,
            "n_pairs": self.pairs,
        }
