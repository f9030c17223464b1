"""JSON shapes shared by the server and the HTTP client (standard library only).

A batch travels as ``LabelBatch`` fields plus optional per-item ``gold`` answers; results
travel as lists of ``Demonstration`` / ``Rating`` / ``Ranking`` dicts, so the loop gets
the same typed records the simulated panel returns.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from instructrl.data.schemas import DataError, Demonstration, Prompt, Ranking, Rating
from instructrl.labelers.base import BatchStatus, LabelBatch, LabelResults, RankingItem

SCHEMA_VERSION = 1


def batch_to_json(batch: LabelBatch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "kind": batch.kind,
        "pool": batch.pool,
        "overlap": batch.overlap,
        "metadata": batch.metadata,
        "prompts": [p.to_dict() for p in batch.prompts],
        "items": [
            {"prompt": it.prompt.to_dict(), "responses": list(it.responses), "sources": list(it.sources)}
            for it in batch.items
        ],
    }


def batch_from_json(d: Any) -> tuple[LabelBatch, list[dict | None]]:
    """Parse and validate a batch; returns it with the per-item gold answers (or Nones)."""
    if not isinstance(d, dict):
        raise DataError(f"a batch must be a JSON object, got {type(d).__name__}")
    allowed = {"id", "kind", "pool", "overlap", "metadata", "prompts", "items", "purpose", "priority"}
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise DataError(f"unknown batch field(s) {unknown}; allowed: {sorted(allowed)}", field=unknown[0])
    for key in ("id", "kind"):
        if not isinstance(d.get(key), str) or not d[key]:
            raise DataError("must be a non-empty string", field=key)
    prompts = tuple(Prompt.from_dict(p, f"prompts[{i}].") for i, p in enumerate(d.get("prompts") or []))
    items, golds = [], []
    for i, it in enumerate(d.get("items") or []):
        if not isinstance(it, dict):
            raise DataError("expected an object", field=f"items[{i}]")
        extra = sorted(set(it) - {"prompt", "responses", "sources", "gold"})
        if extra:
            raise DataError(f"unknown field(s) {extra}", field=f"items[{i}].{extra[0]}")
        responses = it.get("responses")
        if not isinstance(responses, list) or not all(isinstance(r, str) for r in responses):
            raise DataError("must be a list of strings", field=f"items[{i}].responses")
        if not 2 <= len(responses) <= Ranking.MAX_K:
            raise DataError(f"K must be in 2..{Ranking.MAX_K}, got {len(responses)}", field=f"items[{i}].responses")
        sources = it.get("sources") or []
        if sources and len(sources) != len(responses):
            raise DataError(f"{len(sources)} sources for {len(responses)} responses", field=f"items[{i}].sources")
        items.append(RankingItem(Prompt.from_dict(it.get("prompt"), f"items[{i}].prompt."), tuple(responses),
                                 tuple(str(x) for x in sources)))
        golds.append(_check_gold(it.get("gold"), len(responses), f"items[{i}].gold"))
    if d["kind"] == "demonstrations":
        golds = [None] * len(prompts)
    overlap = d.get("overlap", 1)
    if isinstance(overlap, bool) or not isinstance(overlap, int):
        raise DataError(f"must be an integer, got {overlap!r}", field="overlap")
    try:
        batch = LabelBatch(id=d["id"], kind=d["kind"], prompts=prompts, items=tuple(items),
                           pool=d.get("pool", "train"), overlap=overlap, metadata=d.get("metadata") or {})
    except ValueError as e:
        raise DataError(str(e)) from None
    if batch.pool not in ("train", "heldout"):
        raise DataError(f"pool must be 'train' or 'heldout', got {batch.pool!r}", field="pool")
    return batch, golds


def _check_gold(g: Any, k: int, where: str) -> dict | None:
    if g is None:
        return None
    if not isinstance(g, dict) or set(g) - {"ranks", "likert", "flags"}:
        raise DataError("gold must be an object with ranks / likert / flags", field=where)
    for key in ("ranks", "likert", "flags"):
        if g.get(key) is not None and (not isinstance(g[key], list) or len(g[key]) != k):
            raise DataError(f"must be a list of {k} entries", field=f"{where}.{key}")
    return g


def payload_sha(d: dict[str, Any]) -> str:
    """Content hash of a batch payload: resubmitting the same id with other content is a conflict."""
    return hashlib.sha256(json.dumps(d, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def results_to_json(r: LabelResults) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "batch_id": r.batch_id,
        "demonstrations": [x.to_dict() for x in r.demonstrations],
        "ratings": [x.to_dict() for x in r.ratings],
        "rankings": [x.to_dict() for x in r.rankings],
        "skipped": r.skipped,
    }


def results_from_json(d: dict[str, Any]) -> LabelResults:
    return LabelResults(
        batch_id=d["batch_id"],
        demonstrations=[Demonstration.from_dict(x) for x in d.get("demonstrations", [])],
        ratings=[Rating.from_dict(x) for x in d.get("ratings", [])],
        rankings=[Ranking.from_dict(x) for x in d.get("rankings", [])],
        skipped=int(d.get("skipped", 0)),
    )


def status_from_json(d: dict[str, Any]) -> BatchStatus:
    return BatchStatus(batch_id=d["batch_id"], n_items=int(d["n_items"]), n_done=int(d["n_done"]))
