"""Domain operations on the database: users, tokens, batches, drafts, submissions, QC.

Every function takes an open ``Session`` inside a transaction (the caller commits), so
an HTTP handler is one transaction: a label is either stored with its audit event and
gold score, or not at all. Errors are ``AppError`` subclasses carrying an HTTP status.
"""

from __future__ import annotations

import hashlib
import random
import time
from typing import Any, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from instructrl.data.schemas import RATING_FLAGS, Prompt
from instructrl.labelapp import qc
from instructrl.labelapp.assign import item_capacity_left, lease_ttl
from instructrl.labelapp.config import LabelAppConfig
from instructrl.labelapp.db import (
    POOLS,
    SCOPES,
    ApiToken,
    Assignment,
    Batch,
    DemoRow,
    Event,
    GoldResult,
    Invite,
    Item,
    PromptRow,
    RankingRow,
    RatingRow,
    Response,
    User,
)
from instructrl.labelapp.security import new_token, token_hash
from instructrl.labelapp.wire import batch_from_json, payload_sha


class AppError(ValueError):
    status = 400


class NotFound(AppError):
    status = 404


class Forbidden(AppError):
    status = 403


class Conflict(AppError):
    status = 409


def audit(s: Session, actor: str, type_: str, **payload: Any) -> None:
    """Append one audit event (the table is insert-only)."""
    s.add(Event(ts=time.time(), actor=actor, type=type_, payload=payload))


# ---------------------------------------------------------------- users, invites, tokens

def create_user(s: Session, username: str, role: str, pool: str = "train", status: str = "active",
                pw_hash: str | None = None, is_bot: bool = False) -> User:
    if not username or len(username) > 64 or not all(c.isalnum() or c in "-_." for c in username):
        raise AppError(f"username must be 1-64 letters, digits, '-', '_' or '.', got {username!r}")
    if pool not in POOLS:
        raise AppError(f"pool must be one of {POOLS}, got {pool!r}")
    if s.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username {username!r} is taken")
    u = User(username=username, role=role, pool=pool, status=status, pw_hash=pw_hash, is_bot=is_bot,
             created_at=time.time())
    s.add(u)
    s.flush()
    return u


def create_invite(s: Session, cfg: LabelAppConfig, by: User | None, role: str = "labeler", pool: str = "train",
                  start_status: str = "active") -> str:
    """A single-use invite link token (only its hash is stored)."""
    if pool not in POOLS or role not in ("admin", "labeler") or start_status not in ("screening", "active"):
        raise AppError(f"bad invite: role={role!r} pool={pool!r} start_status={start_status!r}")
    if pool == "heldout" and start_status == "screening":
        raise AppError("held-out labelers are not screened (paper §3.4): use start_status='active'")
    token = new_token()
    s.add(Invite(token_hash=token_hash(token), role=role, pool=pool, start_status=start_status,
                 created_by=by.id if by else None, expires_at=time.time() + cfg.invite_ttl_s))
    audit(s, by.username if by else "cli", "invite.create", role=role, pool=pool, start_status=start_status)
    return token


def find_invite(s: Session, token: str) -> Invite:
    inv = s.scalar(select(Invite).where(Invite.token_hash == token_hash(token)))
    if inv is None or inv.used_at is not None or inv.expires_at < time.time():
        raise NotFound("this invite link is invalid, used or expired")
    return inv


def accept_invite(s: Session, token: str, username: str, pw_hash: str) -> User:
    inv = find_invite(s, token)
    u = create_user(s, username, inv.role, inv.pool, inv.start_status, pw_hash)
    inv.used_at = time.time()
    audit(s, username, "invite.accept", role=inv.role, pool=inv.pool)
    return u


def create_token(s: Session, user: User, name: str, scopes: Sequence[str], actor: str) -> str:
    bad = sorted(set(scopes) - set(SCOPES))
    if bad or not scopes:
        raise AppError(f"unknown or missing scope(s) {bad}; known: {list(SCOPES)}")
    if user.role != "admin" and set(scopes) != {"label"}:
        raise Forbidden("labeler accounts can only hold the 'label' scope")
    token = new_token("irl_")
    s.add(ApiToken(name=name, token_hash=token_hash(token), user_id=user.id, scopes=" ".join(sorted(set(scopes))),
                   created_at=time.time()))
    audit(s, actor, "token.create", name=name, user=user.username, scopes=sorted(set(scopes)))
    return token


def auth_token(s: Session, token: str, scope: str) -> tuple[ApiToken, User]:
    t = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if t is None or t.revoked_at is not None:
        raise AppError("invalid or revoked API token")
    user = s.get(User, t.user_id)
    if user is None or user.status in ("disabled", "rejected"):
        raise AppError("the token's account is disabled")
    if scope not in t.scopes.split():
        raise Forbidden(f"this token lacks the {scope!r} scope")
    t.last_used = time.time()
    return t, user


# ---------------------------------------------------------------- prompts and batches

def _prompt_row(s: Session, p: Prompt, source: str) -> tuple[PromptRow, bool]:
    """Find or insert a prompt, deduplicated by id and by whitespace-normalised text."""
    sha = hashlib.sha256(" ".join(p.as_text().split()).encode()).hexdigest()
    row = s.scalar(select(PromptRow).where((PromptRow.external_id == p.id) | (PromptRow.text_sha == sha)))
    if row is not None:
        return row, False
    row = PromptRow(external_id=p.id, text_sha=sha, data=p.to_dict(), source=source, created_at=time.time())
    s.add(row)
    s.flush()
    return row, True


def import_prompts(s: Session, prompts: Sequence[Prompt], source: str, actor: str) -> tuple[int, int]:
    """Returns (added, duplicates)."""
    added = 0
    for p in prompts:
        added += _prompt_row(s, p, source)[1]
    audit(s, actor, "prompts.import", added=added, duplicates=len(prompts) - added, source=source)
    return added, len(prompts) - added


def _double_overlap(batch_key: str, seq: int, rate: float) -> bool:
    """Deterministically pick ~``rate`` of items for a second labeler (agreement sample)."""
    h = int(hashlib.sha256(f"{batch_key}:{seq}".encode()).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < rate


def create_batch(s: Session, cfg: LabelAppConfig, payload: dict[str, Any], actor: str) -> tuple[Batch, bool]:
    """Create a batch from its JSON payload; the same ``id`` again returns the existing one.

    Returns (batch, created). Resubmitting an id with different content is a ``Conflict``.
    """
    sha = payload_sha(payload)
    existing = s.scalar(select(Batch).where(Batch.external_id == str(payload.get("id"))))
    if existing is not None:
        if existing.payload_sha != sha:
            raise Conflict(f"batch {existing.external_id!r} already exists with different content")
        return existing, False
    lb, golds = batch_from_json(payload)
    purpose = payload.get("purpose", "production")
    if purpose not in ("production", "screening", "gold"):
        raise AppError(f"purpose must be production, screening or gold, got {purpose!r}")
    if purpose != "production" and lb.kind == "rankings" and any(g is None for g in golds):
        raise AppError(f"every item of a {purpose} batch needs a 'gold' answer (ranks, likert and/or flags)")
    if len(lb) > cfg.max_items_per_batch:
        raise AppError(f"batch has {len(lb)} items, more than max_items_per_batch={cfg.max_items_per_batch}")
    priority = payload.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise AppError(f"priority must be an integer, got {priority!r}")
    b = Batch(external_id=lb.id, payload_sha=sha, kind="demo" if lb.kind == "demonstrations" else "rate_rank",
              purpose=purpose, pool=lb.pool, overlap=lb.overlap, priority=priority, status="open",
              meta=lb.metadata, created_at=time.time())
    s.add(b)
    s.flush()
    prompts = lb.prompts if lb.kind == "demonstrations" else tuple(it.prompt for it in lb.items)
    for seq, p in enumerate(prompts):
        prow, _ = _prompt_row(s, p, source=f"batch:{lb.id}")
        overlap = lb.overlap
        if purpose == "production" and _double_overlap(lb.id, seq, cfg.agreement_rate):
            overlap = max(2, overlap)
        item = Item(batch_id=b.id, prompt_id=prow.id, prompt=p.to_dict(), seq=seq, overlap=overlap, status="open", gold=golds[seq],
                    authors=[])
        s.add(item)
        s.flush()
        if lb.kind == "rankings":
            it = lb.items[seq]
            for idx, text in enumerate(it.responses):
                s.add(Response(item_id=item.id, idx=idx, text=text, source=it.sources[idx] if it.sources else ""))
            item.authors = _demo_authors(s, prow.id, it.responses)
    audit(s, actor, "batch.create", batch=lb.id, kind=b.kind, purpose=purpose, pool=b.pool, n_items=len(lb))
    return b, True


def _demo_authors(s: Session, prompt_id: int, responses: Sequence[str]) -> list[int]:
    """Users whose submitted demonstration for this prompt is one of ``responses``."""
    rows = s.execute(
        select(Assignment.user_id, DemoRow.text)
        .join(DemoRow, DemoRow.assignment_id == Assignment.id)
        .join(Item, Item.id == Assignment.item_id)
        .where(Item.prompt_id == prompt_id)
    )
    texts = {t.strip() for t in responses}
    return sorted({uid for uid, text in rows if text.strip() in texts})


def get_batch(s: Session, external_id: str) -> Batch:
    b = s.scalar(select(Batch).where(Batch.external_id == external_id))
    if b is None:
        raise NotFound(f"no batch {external_id!r}")
    return b


def batch_progress(s: Session, b: Batch) -> dict[str, Any]:
    """Item and label counts; ``n_done`` counts items finished or sent to review."""
    counts = dict(s.execute(select(Item.status, func.count()).where(Item.batch_id == b.id).group_by(Item.status)).all())
    labels = dict(
        s.execute(
            select(Assignment.status, func.count()).join(Item, Item.id == Assignment.item_id)
            .where(Item.batch_id == b.id).group_by(Assignment.status)
        ).all()
    )
    n_items = sum(counts.values())
    return {
        "batch_id": b.external_id, "db_id": b.id, "kind": b.kind, "purpose": b.purpose, "pool": b.pool, "status": b.status,
        "n_items": n_items, "n_done": counts.get("done", 0) + counts.get("review", 0),
        "n_review": counts.get("review", 0), "n_cancelled": counts.get("cancelled", 0),
        "labels": {k: labels.get(k, 0) for k in ("leased", "submitted", "skipped", "expired")},
    }


def cancel_batch(s: Session, b: Batch, actor: str) -> None:
    """Stop serving a batch's unfinished items (partial results stay available)."""
    for item in s.scalars(select(Item).where(Item.batch_id == b.id, Item.status == "open")):
        item.status = "cancelled"
    b.status = "cancelled"
    audit(s, actor, "batch.cancel", batch=b.external_id)


# ---------------------------------------------------------------- labeling

def owned_assignment(s: Session, assignment_id: int, user: User) -> Assignment:
    """The assignment if ``user`` holds it; a labeler never reaches another's assignment."""
    a = s.get(Assignment, assignment_id)
    if a is None or a.user_id != user.id:
        raise NotFound("no such assignment")  # 404, not 403: do not confirm that the id exists
    return a


def save_draft(s: Session, cfg: LabelAppConfig, a: Assignment, draft: dict[str, Any]) -> float:
    """Store the draft and renew the lease; returns the new expiry. Works after expiry too."""
    if a.status in ("submitted", "skipped"):
        raise Conflict("this assignment is already closed")
    size = sum(len(str(v)) for v in draft.values())
    if size > cfg.max_demo_chars * 4:
        raise AppError(f"draft too large ({size} characters)")
    a.draft = {str(k): str(v) for k, v in draft.items()}
    now = time.time()
    item = s.get(Item, a.item_id)
    batch = s.get(Batch, item.batch_id)
    if a.status == "leased" or (a.status == "expired" and item_capacity_left(s, item, batch.purpose, now)):
        a.status = "leased"
        a.expires_at = now + lease_ttl(batch.kind, cfg)
    return a.expires_at


def _check_open(s: Session, a: Assignment) -> tuple[Item, Batch]:
    if a.status in ("submitted", "skipped"):
        raise Conflict("this assignment is already closed")
    item = s.get(Item, a.item_id)
    batch = s.get(Batch, item.batch_id)
    # Serialise submissions within a batch (PostgreSQL; SQLite already is): two labelers
    # finishing the same item, or the last two items, must see each other when counting.
    s.execute(select(Batch.id).where(Batch.id == batch.id).with_for_update())
    now = time.time()
    if item.status == "cancelled":
        raise Conflict("this batch was cancelled; your draft is kept")
    expired = a.status == "expired" or a.expires_at <= now
    if expired and not item_capacity_left(s, item, batch.purpose, now):
        raise Conflict("your lease expired and the item was completed by others; your draft is kept")
    return item, batch


def _close(s: Session, cfg: LabelAppConfig, a: Assignment, item: Item, batch: Batch, status: str,
           active_s: float) -> None:
    a.status = status
    a.submitted_at = time.time()
    a.active_s = max(0.0, min(float(active_s), a.submitted_at - a.created_at))
    s.flush()
    if batch.purpose != "production":
        return
    # _check_open holds the batch row lock, so these counts see every committed submission
    n = dict(s.execute(select(Assignment.status, func.count()).where(Assignment.item_id == item.id)
                       .group_by(Assignment.status)).all())
    if n.get("submitted", 0) >= item.overlap:
        item.status = "done"
    elif n.get("skipped", 0) >= cfg.max_skips:
        item.status = "review"  # skipped by several labelers: an admin decides (OA auto-moderation)
    open_left = s.scalar(select(func.count()).where(Item.batch_id == batch.id, Item.status == "open"))
    if not open_left and batch.status == "open":
        batch.status = "done"


def submit_demo(s: Session, cfg: LabelAppConfig, a: Assignment, text: str, active_s: float, actor: str) -> None:
    item, batch = _check_open(s, a)
    if batch.kind != "demo":
        raise AppError("this assignment is not a demonstration")
    if not text.strip():
        raise AppError("the demonstration is empty")
    if len(text) > cfg.max_demo_chars:
        raise AppError(f"the demonstration has {len(text)} characters, more than {cfg.max_demo_chars}")
    s.add(DemoRow(assignment_id=a.id, text=text))
    _close(s, cfg, a, item, batch, "submitted", active_s)
    audit(s, actor, "label.demo", assignment=a.id, batch=batch.external_id)


def submit_rate_rank(
    s: Session, cfg: LabelAppConfig, a: Assignment, likerts: Sequence[int],
    flags: Sequence[dict[str, bool | None]], notes: Sequence[str], ranks: Sequence[int], not_rankable: bool,
    active_s: float, actor: str,
) -> None:
    """Store K ratings and one ranking, all given in response-idx order (not display order)."""
    item, batch = _check_open(s, a)
    if batch.kind != "rate_rank":
        raise AppError("this assignment is not a rate-and-rank task")
    responses = list(s.scalars(select(Response).where(Response.item_id == item.id).order_by(Response.idx)))
    k = len(responses)
    if not (len(likerts) == len(flags) == len(notes) == len(ranks) == k):
        raise AppError(f"expected a rating and a rank for each of the {k} outputs")
    for i, v in enumerate(likerts):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 7:
            raise AppError(f"output {i + 1}: Likert score must be 1..7, got {v!r}")
    for i, r in enumerate(ranks):
        if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= k:
            raise AppError(f"output {i + 1}: rank must be 1..{k}, got {r!r}")
    for f in flags:
        bad = sorted(set(f) - set(RATING_FLAGS))
        if bad:
            raise AppError(f"unknown flag(s) {bad}")
    for resp, v, f, n in zip(responses, likerts, flags, notes):
        s.add(RatingRow(assignment_id=a.id, response_id=resp.id, likert=v, notes=n[:4000],
                        **{name: f.get(name) for name in RATING_FLAGS}))
    dense = qc.dense_ranks(list(ranks))
    s.add(RankingRow(assignment_id=a.id, ranks=dense, not_rankable=bool(not_rankable)))
    _close(s, cfg, a, item, batch, "submitted", active_s)
    audit(s, actor, "label.rate_rank", assignment=a.id, batch=batch.external_id)
    if item.gold:
        _score_gold(s, cfg, a, item, dense, list(likerts), list(flags))


def skip(s: Session, cfg: LabelAppConfig, a: Assignment, reason: str, actor: str) -> None:
    item, batch = _check_open(s, a)
    if not reason.strip():
        raise AppError("a skip needs a reason")
    a.skip_reason = reason.strip()[:1000]
    _close(s, cfg, a, item, batch, "skipped", 0.0)
    audit(s, actor, "label.skip", assignment=a.id, batch=batch.external_id, reason=a.skip_reason)


def _score_gold(s: Session, cfg: LabelAppConfig, a: Assignment, item: Item, ranks: list[int], likerts: list[int],
                flags: list[dict]) -> None:
    """Score a gold answer; a low rolling score puts an active labeler on probation."""
    detail = qc.score_against_gold(item.gold or {}, ranks, likerts, flags)
    s.add(GoldResult(assignment_id=a.id, user_id=a.user_id, score=detail["score"], detail=detail,
                     created_at=time.time()))
    s.flush()
    user = s.get(User, a.user_id)
    scores = list(s.scalars(select(GoldResult.score).join(Assignment, Assignment.id == GoldResult.assignment_id)
                            .join(Item, Item.id == Assignment.item_id).join(Batch, Batch.id == Item.batch_id)
                            .where(GoldResult.user_id == user.id, Batch.purpose == "gold")
                            .order_by(GoldResult.created_at)))
    rolling = qc.rolling_score(scores, cfg.probation_window)
    if user.status == "active" and len(scores) >= cfg.probation_min_results and rolling < cfg.probation_threshold:
        user.status = "probation"
        audit(s, "system", "labeler.probation", user=user.username, rolling_gold=rolling)


def set_labeler(s: Session, user: User, actor: str, status: str | None = None, pool: str | None = None) -> None:
    if status is not None:
        if status not in ("screening", "active", "probation", "rejected", "disabled"):
            raise AppError(f"bad status {status!r}")
        user.status = status
    if pool is not None:
        if pool not in POOLS:
            raise AppError(f"bad pool {pool!r}")
        user.pool = pool
    audit(s, actor, "labeler.update", user=user.username, status=user.status, pool=user.pool)


def queue_counts(s: Session, user: User, now: float) -> dict[str, int]:
    """Open production items of each kind this labeler could still receive (approximate)."""
    out = {}
    for kind in ("demo", "rate_rank"):
        mine = select(Assignment.item_id).where(Assignment.user_id == user.id)
        out[kind] = s.scalar(
            select(func.count(Item.id)).join(Batch, Batch.id == Item.batch_id)
            .where(Batch.status == "open", Item.status == "open", Batch.kind == kind,
                   Batch.purpose == ("screening" if user.status == "screening" else "production"),
                   Batch.pool == user.pool, Item.id.not_in(mine))
        ) or 0
    return out


def rng_for(cfg: LabelAppConfig) -> random.Random:
    return random.Random(cfg.seed) if cfg.seed is not None else random.Random()
