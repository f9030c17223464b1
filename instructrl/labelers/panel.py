"""Simulated labelers and the panel that implements ``LabelerBackend`` with them.

A labeler judges a response by a latent quality: the grader's gold quality (task done,
constraints met, faithful to the passage, appropriate, fluent), plus the labeler's quirks
(one likes long answers, one punishes hedging ...), plus its own noise. From that latent it
gives a Likert score 1-7, the Table 3 flags (from the grade, with occasional slips), and a
ranking of K responses with ties when latents are within ``tie_margin``.

Noise is a deterministic function of (labeler, prompt, response): asked twice, a labeler
answers the same. The training panel's noise is calibrated so that two training labelers
agree on ~73% of the comparisons a loop actually asks for, K samples of the policy being
trained (the default preset's SFT policy; method doc §6); the held-out panel is a little
more consistent (~77%) and never produces training data. Agreement depends on how far apart
the responses are: on a wider spread (the synthetic ``response_mix``) it is higher.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

from instructrl.data.schemas import Demonstration, Prompt, Ranking, Rating
from instructrl.labelers.agreement import AgreementReport, inter_labeler_agreement
from instructrl.labelers.base import BatchStatus, LabelBatch, LabelResults, Pool
from instructrl.tasks.constraints import count_words, list_format
from instructrl.tasks.demonstrator import demonstrate, try_demonstrate
from instructrl.tasks.grader import Grade, grade, spec_of

_POLITE = ("please", "thank you", "happy to help", "sure", "glad")


def _clip(x: float, lo: float = -1.0, hi: float = 1.0) -> float:
    return max(lo, min(hi, x))


# quirk name -> (grade, response) -> preference shift in [-1, 1], scaled by the quirk's strength
QUIRKS: dict[str, Callable[[Grade, str], float]] = {
    "verbose": lambda g, r: _clip((count_words(r) - 15) / 20),  # likes longer answers
    "concise": lambda g, r: -_clip((count_words(r) - 15) / 20),  # likes shorter answers
    "hedging_averse": lambda g, r: -1.0 if g.hedged else 0.0,  # punishes hedging
    "humble": lambda g, r: 1.0 if g.hedged else 0.0,  # rewards epistemic humility
    "structure": lambda g, r: 1.0 if list_format(r) or r.strip().startswith("{") else 0.0,
    "lenient_constraints": lambda g, r: 1.0 - g.constraint_fraction,  # cares less about constraints
    "strict_constraints": lambda g, r: -(1.0 - g.constraint_fraction),
    "misses_hallucination": lambda g, r: 1.0 if g.hallucination else 0.0,
    "polite": lambda g, r: 1.0 if any(p in r.lower() for p in _POLITE) else 0.0,
    "tolerates_repetition": lambda g, r: 1.0 if g.degenerate else 0.0,
}
_SLIPPABLE_FLAGS = ("fails_to_follow", "hallucination", "satisfies_constraint")


def _seed(*parts: object) -> int:
    return zlib.crc32(":".join(map(str, parts)).encode())


@dataclass(frozen=True)
class SimulatedLabeler:
    """One labeler. ``noise``: std of its judgement noise on the [0, 1] quality scale;
    ``quirks``: name in QUIRKS -> strength; ``flag_slip``: chance of flipping a task flag."""

    id: str
    noise: float = 0.1
    quirks: dict[str, float] = field(default_factory=dict, hash=False)
    tie_margin: float = 0.03
    flag_slip: float = 0.03
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.quirks) - set(QUIRKS))
        if unknown:
            raise ValueError(f"labeler {self.id!r}: unknown quirks {unknown}; known: {sorted(QUIRKS)}")
        if self.noise < 0 or self.tie_margin < 0 or not 0 <= self.flag_slip <= 1:
            raise ValueError(f"labeler {self.id!r}: bad noise={self.noise}, tie_margin={self.tie_margin} "
                             f"or flag_slip={self.flag_slip}")

    def _rng(self, prompt: Prompt, response: str) -> random.Random:
        return random.Random(f"labeler:{self.seed}:{self.id}:{prompt.id}:{response}")

    def latent(self, prompt: Prompt, response: str, g: Grade | None = None) -> float:
        """Perceived quality: gold + quirks + noise (unbounded; about [0, 1])."""
        g = grade(prompt, response) if g is None else g
        shift = sum(s * QUIRKS[name](g, response) for name, s in self.quirks.items())
        return g.quality + shift + self._rng(prompt, response).gauss(0.0, self.noise)

    def rate(self, prompt: Prompt, response: str) -> Rating:
        """Likert 1-7 from the latent quality, and Table 3's flags."""
        return self._rate(prompt, response, grade(prompt, response))[0]

    def _rate(self, prompt: Prompt, response: str, g: Grade) -> tuple[Rating, float]:
        latent = self.latent(prompt, response, g)
        likert = int(round(1 + 6 * _clip(latent, 0.0, 1.0)))
        flags = g.flags()
        rng = random.Random(f"flags:{self.seed}:{self.id}:{prompt.id}:{response}")
        for name in _SLIPPABLE_FLAGS:
            if rng.random() < self.flag_slip:
                flags[name] = not flags[name]
        rating = Rating(prompt=prompt, response=response, likert=likert, flags=flags, labeler_id=self.id)
        return rating, latent

    def rate_and_rank(self, prompt: Prompt, responses: Sequence[str]) -> tuple[list[Rating], Ranking]:
        """The paper's interface: rate each response on its own, then rank them all."""
        judged = [self._rate(prompt, r, grade(prompt, r)) for r in responses]
        ratings = [rating for rating, _ in judged]
        ranks = rank_with_ties([latent for _, latent in judged], self.tie_margin)
        ranking = Ranking(prompt=prompt, responses=tuple(responses), ranks=tuple(ranks), labeler_id=self.id,
                          metadata={"likert": [r.likert for r in ratings]})
        return ratings, ranking

    def rank(self, prompt: Prompt, responses: Sequence[str]) -> Ranking:
        """Rank by latent quality, best = 1; a response within ``tie_margin`` of the one ranked
        just above it shares its rank (competition ranking: 1, 1, 3, 4). ``metadata["likert"]``
        holds the Likert score of each response."""
        return self.rate_and_rank(prompt, responses)[1]


def rank_with_ties(scores: Sequence[float], tie_margin: float) -> list[int]:
    """Competition ranks (1 = highest score); a score within ``tie_margin`` of the previous
    (next higher) score ties with it. E.g. ``([0.9, 0.5, 0.88, 0.1], 0.05) -> [1, 3, 1, 4]``."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    ranks = [0] * len(scores)
    for pos, i in enumerate(order):
        prev = order[pos - 1] if pos else None
        if prev is not None and scores[prev] - scores[i] < tie_margin:
            ranks[i] = ranks[prev]
        else:
            ranks[i] = pos + 1
    return ranks


class SimulatedPanel:
    """A ``LabelerBackend`` answering at once from simulated labelers.

    ``pool`` is "train" (its labels may train models) or "heldout" (evaluation only); a batch
    for the other pool is refused. Submitting a batch id again returns the stored results;
    a different batch under a used id is an error. Prompts without a spec (not generated)
    are counted as ``skipped``.

    Agreement is measurable every round even when each item gets one labeler: a random
    ``audit_fraction`` of ranking items is ranked once more by a second labeler; those audit
    rankings only feed ``agreement(batch_id)``, never the results (no training data).

    The panel's draws (which labelers take an item, which items are audited) are keyed by
    ``seed`` and the batch id. ``run``: the run name a loop prefixes its batch ids with
    (``<run>/round-1/rankings``; a labeling app needs ids unique across runs). It does not
    enter the draws, nor does the revision an ``--only`` rerun adds (``-r2``): two runs that
    differ only in name get the same labels, and a stage rerun from the same inputs the
    labels a fresh run gets. Their ids are drawn as ``default/<stage>``, the ids of a run
    named ``default``, so that every run recorded under that name keeps its draws.
    """

    def __init__(self, labelers: Sequence[SimulatedLabeler], pool: Pool = "train", seed: int = 0,
                 audit_fraction: float = 0.1, run: str | None = None):
        if not labelers:
            raise ValueError("a panel needs at least one labeler")
        if pool not in ("train", "heldout"):
            raise ValueError(f"pool must be 'train' or 'heldout', got {pool!r}")
        ids = [lab.id for lab in labelers]
        if len(set(ids)) != len(ids):
            raise ValueError(f"labeler ids must be unique, got {ids}")
        if not 0.0 <= audit_fraction <= 1.0:
            raise ValueError(f"audit_fraction must be in [0, 1], got {audit_fraction}")
        self.labelers = tuple(labelers)
        self.audit_fraction = audit_fraction
        self._audits: dict[str, list[Ranking]] = {}
        self.pool = pool
        self.seed = seed
        self.run = run
        self._batches: dict[str, LabelBatch] = {}
        self._results: dict[str, LabelResults] = {}

    def submit(self, batch: LabelBatch) -> str:
        if batch.pool != self.pool:
            raise ValueError(f"batch {batch.id!r} is for pool {batch.pool!r}, this panel is {self.pool!r}")
        if batch.id in self._batches:
            if self._batches[batch.id] != batch:
                raise ValueError(f"batch id {batch.id!r} was already submitted with different content")
            return batch.id
        if batch.overlap > len(self.labelers):
            raise ValueError(f"batch {batch.id!r}: overlap {batch.overlap} > {len(self.labelers)} labelers")
        label = self._demonstrations if batch.kind == "demonstrations" else self._rankings
        self._results[batch.id] = label(batch)
        self._batches[batch.id] = batch
        return batch.id

    def status(self, batch_id: str) -> BatchStatus:
        batch = self._known(batch_id)
        return BatchStatus(batch_id=batch_id, n_items=len(batch), n_done=len(batch))

    def results(self, batch_id: str, *, partial: bool = False) -> LabelResults:
        self._known(batch_id)
        return self._results[batch_id]

    def agreement(self, batch_id: str) -> AgreementReport:
        """Inter-labeler agreement on the batch's items labeled by several labelers (its
        overlap, and the audit rankings)."""
        return inter_labeler_agreement(self.results(batch_id).rankings + self._audits.get(batch_id, []))

    def _known(self, batch_id: str) -> LabelBatch:
        if batch_id not in self._batches:
            raise KeyError(f"unknown batch id {batch_id!r}; submit it first")
        return self._batches[batch_id]

    def draw_key(self, batch_id: str) -> str:
        """The batch id the panel's draws are keyed by: without the run's name and revision."""
        if self.run is None or not batch_id.startswith(self.run + "/"):
            return batch_id
        return "default/" + re.sub(r"-r\d+$", "", batch_id[len(self.run) + 1 :])

    def _assign(self, batch: LabelBatch, index: int) -> list[SimulatedLabeler]:
        rng = random.Random(f"assign:{self.seed}:{self.draw_key(batch.id)}:{index}")
        return rng.sample(list(self.labelers), batch.overlap)

    def _demonstrations(self, batch: LabelBatch) -> LabelResults:
        out = LabelResults(batch_id=batch.id)
        for i, prompt in enumerate(batch.prompts):
            if "spec" not in prompt.metadata:
                out.skipped += 1
                continue
            for lab in self._assign(batch, i):
                # each labeler writes its own (good) variant of the demonstration; when its
                # variants cannot meet every constraint it falls back to the canonical one,
                # and a prompt with no satisfiable demonstration is skipped, as a person would
                text = try_demonstrate(prompt, seed=_seed(self.seed, lab.id, lab.seed)) or try_demonstrate(prompt, seed=0)
                if text is None:
                    out.skipped += 1
                    continue
                out.demonstrations.append(Demonstration(prompt=prompt, response=text, labeler_id=lab.id))
        return out

    def _rankings(self, batch: LabelBatch) -> LabelResults:
        out = LabelResults(batch_id=batch.id)
        audits: list[Ranking] = []
        audit_rng = random.Random(f"audit:{self.seed}:{self.draw_key(batch.id)}")
        for i, item in enumerate(batch.items):
            if "spec" not in item.prompt.metadata:
                out.skipped += 1
                continue
            spec_of(item.prompt)  # raises on a malformed spec
            assigned = self._assign(batch, i)
            for lab in assigned:
                ratings, ranking = lab.rate_and_rank(item.prompt, item.responses)
                if item.sources:
                    ranking.metadata["sources"] = list(item.sources)
                out.ratings.extend(ratings)
                out.rankings.append(ranking)
            others = [lab for lab in self.labelers if lab not in assigned]
            if batch.overlap == 1 and others and audit_rng.random() < self.audit_fraction:
                audits.append(audit_rng.choice(others).rank(item.prompt, item.responses))
        self._audits[batch.id] = audits
        return out


# ---- panels -------------------------------------------------------------------------------

# Calibrated on 200 prompts x 4 T=1 samples of the default preset's SFT policy
# (tests/labelers/data/sft_samples.jsonl.gz, tests/labelers/test_calibration.py).
TRAIN_NOISE = 0.09  # ~72% pairwise agreement, as the paper's training labelers (72.6%)
HELDOUT_NOISE = 0.06  # ~77%, as the paper's held-out labelers (77.3%)
QUIRK_STRENGTH = 0.12


def make_labelers(prefix: str, n: int, noise: float, seed: int) -> list[SimulatedLabeler]:
    """``n`` labelers named ``{prefix}-00`` ..., each with its own noise (``noise`` +-20%)
    and two random quirks."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = random.Random(f"labelers:{prefix}:{seed}")
    names = sorted(QUIRKS)
    return [SimulatedLabeler(id=f"{prefix}-{k:02d}", noise=noise * rng.uniform(0.8, 1.2), seed=seed,
                             quirks={q: QUIRK_STRENGTH * rng.uniform(0.5, 1.5) for q in rng.sample(names, 2)})
            for k in range(n)]


def training_panel(seed: int = 0, n: int = 8, noise: float = TRAIN_NOISE, run: str | None = None) -> SimulatedPanel:
    """The training labelers: ~73% pairwise agreement (the paper's 72.6 +- 1.5%)."""
    return SimulatedPanel(make_labelers("train", n, noise, seed), pool="train", seed=seed, run=run)


def heldout_panel(seed: int = 0, n: int = 4, noise: float = HELDOUT_NOISE, run: str | None = None) -> SimulatedPanel:
    """Held-out labelers for evaluation only (the paper's 77.3 +- 1.3%)."""
    return SimulatedPanel(make_labelers("heldout", n, noise, seed), pool="heldout", seed=seed, run=run)
