"""Work assignment: labelers pull items on expiring leases (no pre-routing).

``lease_next`` runs inside one transaction and re-checks capacity after locking:
SQLite serialises writers with ``BEGIN IMMEDIATE`` (db.py); PostgreSQL locks the chosen
item row with ``FOR UPDATE SKIP LOCKED`` (two labelers never wait on the same item; a busy
item is passed over and looked at again a few ms later) and
the labeler's user row with ``FOR UPDATE`` (so one labeler's parallel requests cannot both
pass the open-lease cap). An item's capacity counts live leases *and* submissions, so an
item is never handed out more than ``overlap`` times at once; expired leases free a slot.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from instructrl.labelapp.config import LabelAppConfig
from instructrl.labelapp.db import Assignment, Batch, Item, Response, User


class LeaseLimit(Exception):
    """The labeler already holds ``max_open`` open leases."""


@dataclass(frozen=True)
class Candidate:
    item_id: int
    priority: int
    started: bool
    batch_id: int
    seq: int
    authors: tuple[int, ...] = ()


def work_purposes(status: str) -> tuple[str, ...]:
    """Which batch purposes a labeler in ``status`` may receive."""
    return {"screening": ("screening",), "active": ("production", "gold"), "probation": ("gold",)}.get(status, ())


def order_candidates(cands: list[Candidate], user_id: int) -> list[Candidate]:
    """Priority first, then items already started (fills overlap breadth-first), then seq.

    Items whose responses include this labeler's own demonstration are dropped.
    """
    mine = [c for c in cands if user_id not in c.authors]
    return sorted(mine, key=lambda c: (-c.priority, not c.started, c.batch_id, c.seq))


def serve_gold(rng: random.Random, n_tasks_done: int, gold_rate: float, onboard_gold: int) -> bool:
    """Serve a hidden gold item now? Always during onboarding, else with prob. ``gold_rate``."""
    return n_tasks_done < onboard_gold or rng.random() < gold_rate


def live_lease(now: float):
    """SQL condition: an assignment that occupies a slot (live lease or submitted)."""
    return or_(Assignment.status == "submitted", and_(Assignment.status == "leased", Assignment.expires_at > now))


def lease_ttl(kind: str, cfg: LabelAppConfig) -> int:
    return cfg.demo_lease_ttl_s if kind == "demo" else cfg.lease_ttl_s


def open_leases(s: Session, user_id: int, now: float, kind: str | None = None) -> list[Assignment]:
    q = select(Assignment).where(
        Assignment.user_id == user_id, Assignment.status == "leased", Assignment.expires_at > now
    )
    if kind is not None:
        q = q.join(Item, Item.id == Assignment.item_id).join(Batch, Batch.id == Item.batch_id).where(Batch.kind == kind)
    return list(s.scalars(q.order_by(Assignment.id)))


def expire_stale(s: Session, now: float, user_id: int | None = None) -> int:
    """Mark leases past their deadline ``expired`` (their draft is kept on the row)."""
    q = update(Assignment).where(Assignment.status == "leased", Assignment.expires_at <= now)
    if user_id is not None:
        q = q.where(Assignment.user_id == user_id)
    return s.execute(q.values(status="expired")).rowcount or 0


def _candidates(s: Session, user: User, kind: str, purposes: tuple[str, ...], now: float, limit: int) -> list[Candidate]:
    mine = exists().where(Assignment.item_id == Item.id, Assignment.user_id == user.id)
    started = exists().where(Assignment.item_id == Item.id, live_lease(now))
    used = (
        select(func.count(Assignment.id)).where(Assignment.item_id == Item.id, live_lease(now)).scalar_subquery()
    )
    q = (
        select(Item.id, Batch.priority, started, Batch.id, Item.seq, Item.authors)
        .join(Batch, Batch.id == Item.batch_id)
        .where(
            Batch.status == "open", Item.status == "open", Batch.kind == kind, Batch.purpose.in_(purposes), ~mine,
            # production work is pool-routed and capacity-capped; gold/screening items serve everyone once
            or_(Batch.purpose != "production", and_(Batch.pool == user.pool, used < Item.overlap)),
        )
        .order_by(Batch.priority.desc(), Batch.id, Item.seq)
        .limit(limit)
    )
    return [Candidate(r[0], r[1], bool(r[2]), r[3], r[4], tuple(r[5] or ())) for r in s.execute(q)]


def _try_lock(s: Session, item_id: int) -> bool:
    """Lock one item row without waiting (PostgreSQL); SQLite is already serialised."""
    if s.bind.dialect.name != "postgresql":
        return True
    q = select(Item.id).where(Item.id == item_id).with_for_update(skip_locked=True)
    return s.scalar(q) is not None


def lease_next(
    s: Session, user: User, kind: str, cfg: LabelAppConfig, rng: random.Random, now: float | None = None,
    reuse: bool = True,
) -> Assignment | None:
    """Lease the next item of ``kind`` to ``user`` (call inside a transaction).

    Returns the labeler's existing open lease of that kind when ``reuse``; raises
    ``LeaseLimit`` at ``max_open``; returns None when no work is available.
    """
    now = time.time() if now is None else now
    # lock the labeler's row: serialises one labeler's parallel requests (no-op on SQLite)
    s.execute(select(User.id).where(User.id == user.id).with_for_update())
    expire_stale(s, now, user.id)
    if reuse:
        mine = open_leases(s, user.id, now, kind)
        if mine:
            return mine[0]
    if len(open_leases(s, user.id, now)) >= cfg.max_open:
        raise LeaseLimit(f"{user.username} already holds {cfg.max_open} open leases")
    purposes = work_purposes(user.status)
    if not purposes:
        return None
    n_done = s.scalar(select(func.count(Assignment.id)).where(Assignment.user_id == user.id)) or 0
    choice: Candidate | None = None
    if "gold" in purposes and serve_gold(rng, n_done, cfg.gold_rate, cfg.onboard_gold):
        gold = order_candidates(_candidates(s, user, kind, ("gold",), now, 50), user.id)
        rng.shuffle(gold)
        choice = next((c for c in gold if _try_lock(s, c.item_id)), None)
    rest = tuple(p for p in purposes if p != "gold") or purposes
    for attempt in range(20):
        if choice is not None:
            break
        busy = False
        for cand in order_candidates(_candidates(s, user, kind, rest, now, 50), user.id):
            if not _try_lock(s, cand.item_id):
                busy = True  # another labeler is being given this item right now
                continue
            # Re-check after the row lock with a fresh statement: under READ COMMITTED a
            # lease committed by another transaction since our candidate query is now visible.
            if item_capacity_left(s, s.get(Item, cand.item_id), "production" if "production" in rest else "", now):
                choice = cand
                break
        if not busy:
            break
        time.sleep(0.01 * (attempt + 1))  # locks are held for milliseconds; look again
    if choice is None:
        return None
    n_resp = s.scalar(select(func.count(Response.id)).where(Response.item_id == choice.item_id)) or 0
    perm = list(range(n_resp))
    rng.shuffle(perm)  # display order: the producing policy must not be guessable from position
    a = Assignment(
        item_id=choice.item_id, user_id=user.id, status="leased", perm=perm, created_at=now,
        expires_at=now + lease_ttl(kind, cfg),
    )
    s.add(a)
    s.flush()
    return a


def item_capacity_left(s: Session, item: Item, purpose: str, now: float) -> bool:
    """Can one more label be accepted on ``item`` (used when an expired lease is resubmitted)?"""
    if purpose != "production":
        return True
    used = s.scalar(select(func.count(Assignment.id)).where(Assignment.item_id == item.id, live_lease(now))) or 0
    return used < item.overlap
