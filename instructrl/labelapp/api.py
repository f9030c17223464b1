"""JSON API ``/api/v1`` for the training loop, exports and bot labelers.

Authentication is ``Authorization: Bearer <token>`` only: cookies are ignored, so there
is no ambient authority and no CSRF surface. Tokens are scoped (see ``db.SCOPES``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from instructrl.data.schemas import RATING_FLAGS, DataError, Prompt
from instructrl.labelapp import export, service
from instructrl.labelapp.app import AppState, state, with_json
from instructrl.labelapp.assign import LeaseLimit, lease_next
from instructrl.labelapp.db import Assignment, Batch, Item, Response as ResponseRow, User
from instructrl.labelapp.service import AppError
from instructrl.labelapp.wire import results_to_json
from sqlalchemy import select

router = APIRouter()


class TooMany(AppError):
    status = 429


class Unauthorized(AppError):
    status = 401


def _auth(request: Request, s, scope: str) -> User:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise Unauthorized("missing 'Authorization: Bearer <token>' header")
    try:
        _, user = service.auth_token(s, header[7:].strip(), scope)
    except service.Forbidden:
        raise
    except AppError as e:
        raise Unauthorized(str(e)) from None
    return user


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/healthz")
@router.get("/api/v1/healthz")
def healthz() -> dict:
    return {"ok": True}


@router.post("/api/v1/prompts:import")
@with_json
def import_prompts(request: Request, body: Any):
    st = state(request)
    with st.tx() as s:
        user = _auth(request, s, "batches:write")
        if not isinstance(body, dict) or not isinstance(body.get("prompts"), list):
            raise AppError("expected {\"prompts\": [...]}")
        try:
            prompts = [Prompt.from_dict(p, f"prompts[{i}].") for i, p in enumerate(body["prompts"])]
        except DataError as e:
            raise AppError(str(e)) from None
        added, dupes = service.import_prompts(s, prompts, str(body.get("source", "api")), user.username)
    return {"added": added, "duplicates": dupes}


@router.post("/api/v1/batches")
@with_json
def submit_batch(request: Request, body: Any):
    st = state(request)
    key = request.headers.get("idempotency-key")
    if not key:
        raise AppError("the Idempotency-Key header is required (use the batch id)")
    if not isinstance(body, dict) or body.get("id") != key:
        raise AppError("Idempotency-Key must equal the batch 'id'")
    with st.tx() as s:
        user = _auth(request, s, "batches:write")
        try:
            b, created = service.create_batch(s, st.cfg, body, user.username)
        except DataError as e:
            raise AppError(f"invalid batch: {e}") from None
        progress = service.batch_progress(s, b)
    return JSONResponse({**progress, "created": created}, status_code=201 if created else 200)


@router.get("/api/v1/batches/{batch_id:path}/results")
def batch_results(request: Request, batch_id: str, partial: bool = False):
    st = state(request)
    with st.tx() as s:
        _auth(request, s, "results:read")
        b = service.get_batch(s, batch_id)
        progress = service.batch_progress(s, b)
        if progress["n_done"] < progress["n_items"] and b.status != "cancelled" and not partial:
            raise service.Conflict(f"batch {batch_id!r} is incomplete ({progress['n_done']}/{progress['n_items']});"
                                   " pass partial=true to fetch what is done")
        return results_to_json(export.batch_results(s, b, st.secret))


@router.post("/api/v1/batches/{batch_id:path}/cancel")
def cancel(request: Request, batch_id: str):
    st = state(request)
    with st.tx() as s:
        user = _auth(request, s, "batches:write")
        b = service.get_batch(s, batch_id)
        service.cancel_batch(s, b, user.username)
        return service.batch_progress(s, b)


@router.get("/api/v1/batches/{batch_id:path}")
def batch_status(request: Request, batch_id: str):
    st = state(request)
    with st.tx() as s:
        _auth(request, s, "results:read")
        return service.batch_progress(s, service.get_batch(s, batch_id))


@router.get("/api/v1/export/{what}.jsonl")
def export_jsonl(request: Request, what: str, include: str = "", batch: str | None = None):
    st = state(request)
    with st.tx() as s:
        user = _auth(request, s, "export:read")
        b = service.get_batch(s, batch) if batch else None
        inc = {x for x in include.split(",") if x}
        try:
            rows = list(export.iter_export(s, what, st.secret, inc, b))
        except ValueError as e:
            raise AppError(str(e)) from None
        service.audit(s, user.username, "export", what=what, include=sorted(inc), n=len(rows), via="api")
    return StreamingResponse((json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                             media_type="application/x-ndjson")


@router.get("/api/v1/agreement")
def agreement(request: Request, batch: str | None = None):
    st = state(request)
    with st.tx() as s:
        _auth(request, s, "results:read")
        return export.agreement(s, service.get_batch(s, batch) if batch else None)


@router.post("/api/v1/labelers")
@with_json
def create_labeler(request: Request, body: Any):
    """Create a labeler with a 'label'-scoped token (bots, or people labeling through a client)."""
    st = state(request)
    with st.tx() as s:
        admin = _auth(request, s, "labelers:write")
        if not isinstance(body, dict):
            raise AppError("expected an object")
        name = str(body.get("username", ""))
        user = s.scalar(select(User).where(User.username == name))
        if user is None:
            user = service.create_user(s, name, "labeler", str(body.get("pool", "train")),
                                       str(body.get("status", "active")), is_bot=bool(body.get("bot", True)))
            service.audit(s, admin.username, "labeler.create", user=name, pool=user.pool)
        elif user.role != "labeler":
            raise service.Conflict(f"{name!r} is not a labeler")
        token = service.create_token(s, user, f"api:{name}", ["label"], admin.username)
        return {"username": user.username, "pool": user.pool, "status": user.status, "token": token}


# ---------------------------------------------------------------- labeling over the API

def assignment_json(s, a: Assignment) -> dict[str, Any]:
    """What a labeler sees: prompt and responses in display order; never the policy."""
    item = s.get(Item, a.item_id)
    batch = s.get(Batch, item.batch_id)
    rs = list(s.scalars(select(ResponseRow).where(ResponseRow.item_id == item.id).order_by(ResponseRow.idx)))
    return {"id": a.id, "kind": batch.kind, "status": a.status, "expires_at": a.expires_at, "prompt": item.prompt,
            "responses": [{"pos": j, "text": rs[i].text} for j, i in enumerate(a.perm)], "draft": a.draft}


@router.post("/api/v1/label/lease")
def api_lease(request: Request, kind: str = "rate_rank"):
    st = state(request)
    if kind not in ("demo", "rate_rank"):
        raise AppError(f"kind must be demo or rate_rank, got {kind!r}")
    with st.tx() as s:
        user = _auth(request, s, "label")
        if not st.lease_limit.allow(f"user:{user.id}"):
            raise TooMany("too many lease requests; slow down")
        try:
            a = lease_next(s, user, kind, st.cfg, st.rng(), reuse=False)
        except LeaseLimit as e:
            raise TooMany(str(e)) from None
        if a is None:
            return Response(status_code=204)
        service.audit(s, user.username, "lease", assignment=a.id, item=a.item_id)
        return assignment_json(s, a)


@router.get("/api/v1/label/a/{aid}")
def api_assignment(request: Request, aid: int):
    st = state(request)
    with st.tx() as s:
        user = _auth(request, s, "label")
        return assignment_json(s, service.owned_assignment(s, aid, user))


@router.post("/api/v1/label/a/{aid}/submit")
@with_json
def api_submit(request: Request, body: Any, aid: int):
    st = state(request)
    with st.tx() as s:
        user = _auth(request, s, "label")
        if not st.submit_limit.allow(f"user:{user.id}"):
            raise TooMany("too many submissions; slow down")
        a = service.owned_assignment(s, aid, user)
        _submit_json(st, s, a, body, user.username)
    return {"ok": True}


def _submit_json(st: AppState, s, a: Assignment, body: Any, actor: str) -> None:
    if not isinstance(body, dict):
        raise AppError("expected an object")
    active_s = float(body.get("active_s", 0.0))
    if "text" in body:
        service.submit_demo(s, st.cfg, a, str(body["text"]), active_s, actor)
        return
    k = len(a.perm)
    ratings, ranks = body.get("ratings"), body.get("ranks")
    if not isinstance(ratings, list) or not isinstance(ranks, list) or len(ratings) != k or len(ranks) != k:
        raise AppError(f"expected 'ratings' and 'ranks' lists of length {k} in display order")
    likerts, flags, notes, idx_ranks = [0] * k, [{}] * k, [""] * k, [0] * k
    for pos, (r, rank) in enumerate(zip(ratings, ranks)):
        i = a.perm[pos]  # display position -> response idx
        if not isinstance(r, dict):
            raise AppError(f"ratings[{pos}] must be an object")
        likerts[i] = r.get("likert")
        f = r.get("flags") or {}
        if not isinstance(f, dict) or set(f) - set(RATING_FLAGS):
            raise AppError(f"ratings[{pos}].flags must map known flags to true/false/null")
        flags[i] = {name: (None if v is None else bool(v)) for name, v in f.items()}
        notes[i] = str(r.get("notes", ""))
        idx_ranks[i] = rank
    service.submit_rate_rank(s, st.cfg, a, likerts, flags, notes, idx_ranks, bool(body.get("not_rankable")),
                             active_s, actor)


@router.post("/api/v1/label/a/{aid}/skip")
@with_json
def api_skip(request: Request, body: Any, aid: int):
    st = state(request)
    with st.tx() as s:
        user = _auth(request, s, "label")
        a = service.owned_assignment(s, aid, user)
        service.skip(s, st.cfg, a, str((body or {}).get("reason", "")), user.username)
    return {"ok": True}


@router.post("/api/v1/label/a/{aid}/draft")
@with_json
def api_draft(request: Request, body: Any, aid: int):
    st = state(request)
    with st.tx() as s:
        user = _auth(request, s, "label")
        if not isinstance(body, dict):
            raise AppError("expected an object")
        expires = service.save_draft(s, st.cfg, service.owned_assignment(s, aid, user), body)
    return {"ok": True, "expires_at": expires, "saved_at": time.time()}
