"""Results for the loop, JSONL exports and agreement reports, read from the database.

Exports are training data, so by default they leave out held-out labelers (evaluation
only, paper §3.4), labelers on probation / rejected / disabled, and gold or screening
items; ``include`` opts back in ("heldout", "probation", "gold"). Labeler names are
replaced by a keyed hash unless ``include`` has "names".

demos and rankings are ``Demonstration`` / ``Ranking`` records (``read_jsonl`` loads them,
so SFT and the RM train on them unchanged; rankings keep ties). Comparisons drop ties and
carry ``metadata.group_id`` per ranking so all C(K,2) pairs of one prompt can be batched
together (method doc §2). Ratings are flat rows, since their n/a flags (null) and policy
tags do not fit the ``Rating`` record.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from instructrl.data.schemas import RATING_FLAGS, Demonstration, Prompt, Ranking, Rating
from instructrl.labelapp import qc
from instructrl.labelapp.db import Assignment, Batch, DemoRow, Item, RankingRow, RatingRow, Response, User
from instructrl.labelapp.security import anonymize
from instructrl.labelapp.wire import SCHEMA_VERSION
from instructrl.labelers.base import LabelResults

EXPORTS = ("demos", "ratings", "rankings", "comparisons")
INCLUDES = ("heldout", "probation", "gold", "names")


def _labels(s: Session, batch: Batch | None, include: set[str], kind: str):
    """(assignment, item, batch, user) for submitted labels passing the filters."""
    bad = sorted(include - set(INCLUDES))
    if bad:
        raise ValueError(f"unknown include value(s) {bad}; known: {list(INCLUDES)}")
    q = (
        select(Assignment, Item, Batch, User)
        .join(Item, Item.id == Assignment.item_id)
        .join(Batch, Batch.id == Item.batch_id)
        .join(User, User.id == Assignment.user_id)
        .where(Assignment.status == "submitted", Batch.kind == kind)
        .order_by(Batch.id, Item.seq, Assignment.id)
    )
    if batch is not None:
        q = q.where(Batch.id == batch.id)
    else:
        if "heldout" not in include:
            q = q.where(Batch.pool != "heldout", User.pool != "heldout")
        if "probation" not in include:
            q = q.where(User.status.not_in(("probation", "rejected", "disabled")))
        if "gold" not in include:
            q = q.where(Batch.purpose == "production")
    return s.execute(q).all()


def _name(secret: str, user: User, include: set[str]) -> str:
    return user.username if "names" in include else anonymize(secret, user.username)


def _responses(s: Session, item_ids: list[int]) -> dict[int, list[Response]]:
    out: dict[int, list[Response]] = defaultdict(list)
    if item_ids:
        for r in s.scalars(select(Response).where(Response.item_id.in_(item_ids)).order_by(Response.idx)):
            out[r.item_id].append(r)
    return out


def _flags(row: RatingRow) -> dict[str, bool | None]:
    return {f: getattr(row, f) for f in RATING_FLAGS}


def iter_export(s: Session, what: str, secret: str, include: set[str] = frozenset(),
                batch: Batch | None = None) -> Iterator[dict[str, Any]]:
    """JSONL rows of one export (see the module docstring)."""
    if what not in EXPORTS:
        raise ValueError(f"unknown export {what!r}; known: {list(EXPORTS)}")
    include = set(include)
    if what == "demos":
        # a Demonstration record (read_jsonl(path, "demonstration") loads it); the record has
        # no metadata field, so batch and timing provenance stay in the database
        for a, item, b, u in _labels(s, batch, include, "demo"):
            yield Demonstration(Prompt.from_dict(item.prompt), s.get(DemoRow, a.id).text,
                                _name(secret, u, include)).to_dict()
        return
    rows = _labels(s, batch, include, "rate_rank")
    resp = _responses(s, [item.id for _, item, _, _ in rows])
    for a, item, b, u in rows:
        rs, pid = resp[item.id], item.prompt["id"]
        ids = [f"{pid}/{item.seq}/{r.idx}" for r in rs]
        meta = {"schema_version": SCHEMA_VERSION, "batch_id": b.external_id, "prompt_id": pid, "pool": u.pool}
        who = _name(secret, u, include)
        if what == "ratings":
            # flat rows (flags keep null = n/a, which the Rating record cannot express)
            by_resp = {r.response_id: r for r in s.scalars(select(RatingRow).where(RatingRow.assignment_id == a.id))}
            for r, rid in zip(rs, ids):
                rating = by_resp[r.id]
                yield {**meta, "labeler": who, "response_id": rid, "response": r.text, "policy_tag": r.source,
                       "likert": rating.likert, "flags": _flags(rating), "notes": rating.notes}
            continue
        ranking = s.get(RankingRow, a.id)
        rk = Ranking(Prompt.from_dict(item.prompt), tuple(r.text for r in rs), tuple(ranking.ranks), who)
        if what == "rankings":
            # a Ranking record with ties (read_jsonl(path, "ranking") loads it for the RM as is)
            rk.metadata.update(meta, response_ids=ids, not_rankable=ranking.not_rankable, display_perm=a.perm,
                               policy_tags=[r.source for r in rs])
            yield rk.to_dict()
            continue
        for win, lose in rk.pairs():  # strict pairs only: ties are dropped
            # chosen/rejected form, which Ranking.from_dict also loads (as K=2)
            yield {"prompt": item.prompt, "chosen": rs[win].text, "rejected": rs[lose].text, "labeler_id": who,
                   "metadata": {**meta, "group_id": f"{b.external_id}/{a.id}", "chosen_id": ids[win],
                                "rejected_id": ids[lose]}}


def batch_results(s: Session, b: Batch, secret: str) -> LabelResults:
    """Typed results of one batch for the loop (labelers anonymised)."""
    out = LabelResults(batch_id=b.external_id)
    out.skipped = sum(1 for _ in s.scalars(select(Item.id).where(Item.batch_id == b.id, Item.status == "review")))
    include: set[str] = set()
    if b.kind == "demo":
        for a, item, _, u in _labels(s, b, include, "demo"):
            out.demonstrations.append(Demonstration(Prompt.from_dict(item.prompt), s.get(DemoRow, a.id).text,
                                                    _name(secret, u, include)))
        return out
    rows = _labels(s, b, include, "rate_rank")
    resp = _responses(s, [item.id for _, item, _, _ in rows])
    for a, item, _, u in rows:
        prompt, rs, who = Prompt.from_dict(item.prompt), resp[item.id], _name(secret, u, include)
        by_resp = {r.response_id: r for r in s.scalars(select(RatingRow).where(RatingRow.assignment_id == a.id))}
        for r in rs:
            row = by_resp[r.id]
            flags = {k: v for k, v in _flags(row).items() if v is not None}
            out.ratings.append(Rating(prompt, r.text, row.likert, flags, who, row.notes))
        ranking = s.get(RankingRow, a.id)
        out.rankings.append(Ranking(prompt, tuple(r.text for r in rs), tuple(ranking.ranks), who, metadata={
            "batch_id": b.external_id, "item": item.seq, "sources": [r.source for r in rs],
            "not_rankable": ranking.not_rankable, "pool": u.pool}))
    return out


def agreement(s: Session, batch: Batch | None = None) -> dict[str, Any]:
    """Ranking agreement (pairwise, with ties, Kendall tau-b) and Likert/flag alpha.

    Over items labeled by >= 2 people; per labeler, and train vs held-out pool.
    """
    rows = _labels(s, batch, {"heldout", "probation", "gold", "names"}, "rate_rank")
    ranked, likert_units, flag_units = [], defaultdict(list), {f: defaultdict(list) for f in RATING_FLAGS}
    for a, item, _, u in rows:
        ranked.append(qc.RankedItem(item.id, u.username, tuple(s.get(RankingRow, a.id).ranks), u.pool))
        for r in s.scalars(select(RatingRow).where(RatingRow.assignment_id == a.id)):
            likert_units[r.response_id].append(r.likert)
            for f in RATING_FLAGS:
                flag_units[f][r.response_id].append(getattr(r, f))
    report = qc.agreement_report(ranked)
    report["likert_alpha_ordinal"] = _nan_none(qc.krippendorff_alpha(likert_units.values(), "ordinal"))
    report["flag_alpha_nominal"] = {f: _nan_none(qc.krippendorff_alpha(u.values(), "nominal"))
                                    for f, u in flag_units.items()}
    return report


def _nan_none(x: float) -> float | None:
    return None if x != x else x
