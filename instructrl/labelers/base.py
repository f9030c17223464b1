"""The labeler interface shared by the simulated panel and human labeling (the web app).

The loop hands a ``LabelBatch`` to a ``LabelerBackend`` and later collects the results.
A simulated panel answers at once; a human backend (``instructrl.labelapp``) answers
asynchronously, so the loop submits (idempotently, by ``batch.id``), polls, and fetches.
A resumed loop re-submits the same batch id and so re-attaches instead of duplicating.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from instructrl.data.schemas import Demonstration, Prompt, Ranking, Rating

BatchKind = Literal["demonstrations", "rankings"]
Pool = Literal["train", "heldout"]


@dataclass(frozen=True)
class RankingItem:
    """K responses to rate and rank. ``sources`` names the producing policy of each
    response (kept from labelers: shown shuffled, with the policy hidden)."""

    prompt: Prompt
    responses: tuple[str, ...]
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelBatch:
    """A unit of labeling work. ``id`` must be stable across resumes (e.g. run/round/stage)."""

    id: str
    kind: BatchKind
    prompts: tuple[Prompt, ...] = ()  # kind == "demonstrations"
    items: tuple[RankingItem, ...] = ()  # kind == "rankings"
    pool: Pool = "train"  # "heldout": evaluation labelers, never training data
    overlap: int = 1  # labelers per item (>1 lets agreement be measured)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("demonstrations", "rankings"):
            raise ValueError(f"LabelBatch.kind must be 'demonstrations' or 'rankings', got {self.kind!r}")
        if self.kind == "demonstrations" and (not self.prompts or self.items):
            raise ValueError("a demonstrations batch needs prompts and no ranking items")
        if self.kind == "rankings" and (not self.items or self.prompts):
            raise ValueError("a rankings batch needs ranking items and no prompts")
        if self.overlap < 1:
            raise ValueError(f"LabelBatch.overlap must be >= 1, got {self.overlap}")

    def __len__(self) -> int:
        return len(self.prompts) if self.kind == "demonstrations" else len(self.items)


@dataclass(frozen=True)
class BatchStatus:
    batch_id: str
    n_items: int
    n_done: int

    @property
    def complete(self) -> bool:
        return self.n_done >= self.n_items


@dataclass
class LabelResults:
    """What labelers produced for a batch. Rankings carry ties; ratings one per response."""

    batch_id: str
    demonstrations: list[Demonstration] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    rankings: list[Ranking] = field(default_factory=list)
    skipped: int = 0


@runtime_checkable
class LabelerBackend(Protocol):
    """Anything that labels: the simulated panel, the HTTP client of the labeling app."""

    def submit(self, batch: LabelBatch) -> str:
        """Queue the batch (idempotent by ``batch.id``); returns the batch id."""
        ...

    def status(self, batch_id: str) -> BatchStatus: ...

    def results(self, batch_id: str, *, partial: bool = False) -> LabelResults:
        """Labels for a batch; raises if incomplete unless ``partial``."""
        ...
