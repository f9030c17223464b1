"""Admin pages: prompts, batches, labelers (invites, pools, status), quality, tokens, exports.

Every route calls ``require_user(..., role="admin")`` and every form is CSRF-checked.
Uploads are parsed as JSONL or CSV only and are size-capped by the body-limit middleware.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import time
from collections import Counter, defaultdict
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, StreamingResponse
from sqlalchemy import func, select

from instructrl.data.schemas import DataError, Prompt
from instructrl.labelapp import export, service
from instructrl.labelapp.app import render, require_user, state, verify_csrf, with_form
from instructrl.labelapp.db import (
    SCOPES,
    ApiToken,
    Assignment,
    Batch,
    DemoRow,
    GoldResult,
    Item,
    PromptRow,
    RankingRow,
    User,
)
from instructrl.labelapp.service import AppError

router = APIRouter(prefix="/admin")


def _back(message: str) -> RedirectResponse:
    """Back to the batches page with a status line (shown escaped)."""
    return RedirectResponse("/admin?" + urlencode({"msg": message}), status_code=303)


def _admin(request: Request, s):
    return require_user(request, s, role="admin")


def _upload_text(form: Any, field: str = "file") -> tuple[str, str]:
    f = form.get(field)
    if f is None or isinstance(f, str):
        raise AppError("choose a file to upload")
    raw = f.file.read()
    try:
        return f.filename or "", raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AppError("the upload must be UTF-8 text (JSONL or CSV)") from None


def parse_prompts(name: str, text: str) -> list[Prompt]:
    """Prompts from JSONL (Prompt records or bare strings) or CSV (columns text[, id, category, user_id])."""
    out = []
    if name.lower().endswith(".csv"):
        for n, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            if not (row.get("text") or "").strip():
                raise AppError(f"{name}:{n}: the 'text' column is empty or missing")
            d = {k: v for k, v in row.items() if k in ("id", "text", "category", "user_id") and v}
            out.append(_prompt(d, f"{name}:{n}"))
        return out
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            out.append(_prompt(_json_line(line, f"{name}:{n}"), f"{name}:{n}"))
    return out


def _json_line(line: str, where: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        raise AppError(f"{where}: not valid JSON ({e.msg})") from None


def _prompt(d: Any, where: str) -> Prompt:
    try:
        return Prompt.from_dict(d)
    except DataError as e:
        raise AppError(str(e.located(where))) from None


@router.get("")
def index(request: Request, msg: str = ""):
    st = state(request)
    with st.tx() as s:
        user, ws = _admin(request, s)
        batches = [service.batch_progress(s, b) for b in s.scalars(select(Batch).order_by(Batch.id.desc()).limit(50))]
        n_prompts = s.scalar(select(func.count(PromptRow.id)))
        used = select(Item.prompt_id)
        n_unused = s.scalar(select(func.count(PromptRow.id)).where(PromptRow.id.not_in(used)))
        probation = list(s.scalars(select(User).where(User.status == "probation")))
        return render(request, "admin/index.html", user=user, csrf=ws.csrf_token, batches=batches,
                      n_prompts=n_prompts, n_unused=n_unused, probation=probation, message=msg[:200])


@router.post("/prompts")
@with_form
def import_prompts(request: Request, form: Any):
    st = state(request)
    with st.tx() as s:
        user, ws = _admin(request, s)
        verify_csrf(request, ws, form)
        name, text = _upload_text(form)
        added, dupes = service.import_prompts(s, parse_prompts(name, text), f"upload:{name[:40]}", user.username)
    return _back(f"imported {added} prompts ({dupes} duplicates skipped)")


def _batch_fields(form: Any) -> dict[str, Any]:
    try:
        overlap, priority = int(form.get("overlap") or 1), int(form.get("priority") or 0)
    except ValueError:
        raise AppError("overlap and priority must be integers") from None
    bid = str(form.get("batch_id") or "").strip() or f"admin-{int(time.time())}"
    return {"id": bid, "pool": str(form.get("pool") or "train"), "overlap": overlap, "priority": priority,
            "purpose": str(form.get("purpose") or "production")}


@router.post("/batches")
@with_form
def create_batch(request: Request, form: Any):
    """A batch from an uploaded samples JSONL: lines with ``responses`` make a rate-and-rank
    batch (optional ``sources``, ``gold``); lines of prompts only make a demonstration batch."""
    st = state(request)
    with st.tx() as s:
        user, ws = _admin(request, s)
        verify_csrf(request, ws, form)
        name, text = _upload_text(form)
        rows = [_json_line(line, f"{name}:{n}") for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        payload = _batch_fields(form)
        if rows and all(isinstance(r, dict) and "responses" in r for r in rows):
            payload.update(kind="rankings", items=rows)
        elif rows and not any(isinstance(r, dict) and "responses" in r for r in rows):
            payload.update(kind="demonstrations", prompts=[r.get("prompt", r) if isinstance(r, dict) else r
                                                            for r in rows])
        else:
            raise AppError("the file must hold either ranking items (with 'responses') or prompts, not a mix")
        try:
            b, created = service.create_batch(s, st.cfg, payload, user.username)
        except DataError as e:
            raise AppError(f"invalid batch: {e}") from None
    return _back(f"batch {b.external_id} {'created' if created else 'already exists'}")


@router.post("/batches/demo")
@with_form
def create_demo_batch(request: Request, form: Any):
    """A demonstration batch from imported prompts that no batch has used yet."""
    st = state(request)
    with st.tx() as s:
        user, ws = _admin(request, s)
        verify_csrf(request, ws, form)
        n = int(form.get("n") or 10)
        rows = list(s.scalars(select(PromptRow).where(PromptRow.id.not_in(select(Item.prompt_id)))
                              .order_by(PromptRow.id).limit(n)))
        if not rows:
            raise AppError("no unused imported prompts: import some first")
        payload = {**_batch_fields(form), "kind": "demonstrations", "prompts": [r.data for r in rows]}
        b, _ = service.create_batch(s, st.cfg, payload, user.username)
    return _back(f"demonstration batch {b.external_id} created")


@router.post("/batches/{bid}/cancel")
@with_form
def cancel_batch(request: Request, form: Any, bid: int):
    st = state(request)
    with st.tx() as s:
        user, ws = _admin(request, s)
        verify_csrf(request, ws, form)
        b = s.get(Batch, bid)
        if b is None:
            raise service.NotFound("no such batch")
        service.cancel_batch(s, b, user.username)
    return _back("batch cancelled")


@router.get("/labelers")
def labelers(request: Request):
    return _labelers_page(request, invite="")


def _labelers_page(request: Request, invite: str):
    st = state(request)
    with st.tx() as s:
        user, ws = _admin(request, s)
        people = list(s.scalars(select(User).order_by(User.role, User.username)))
        counts = defaultdict(Counter)
        for uid, status in s.execute(select(Assignment.user_id, Assignment.status)):
            counts[uid][status] += 1
        gold = defaultdict(list)
        for uid, score in s.execute(select(GoldResult.user_id, GoldResult.score).order_by(GoldResult.created_at)):
            gold[uid].append(score)
        link = str(request.base_url).rstrip("/") + f"/invite/{invite}" if invite else ""
        return render(request, "admin/labelers.html", user=user, csrf=ws.csrf_token, people=people, counts=counts,
                      gold={k: sum(v[-20:]) / len(v[-20:]) for k, v in gold.items()}, invite_link=link)


@router.post("/invite")
@with_form
def invite(request: Request, form: Any):
    st = state(request)
    with st.tx() as s:
        user, ws = _admin(request, s)
        verify_csrf(request, ws, form)
        token = service.create_invite(s, st.cfg, user, str(form.get("role") or "labeler"),
                                      str(form.get("pool") or "train"), str(form.get("start_status") or "active"))
    # shown once, in this response only (never in a URL or a log); only its hash is stored
    return _labelers_page(request, invite=token)


@router.post("/labelers/{uid}")
@with_form
def update_labeler(request: Request, form: Any, uid: int):
    st = state(request)
    with st.tx() as s:
        user, ws = _admin(request, s)
        verify_csrf(request, ws, form)
        target = s.get(User, uid)
        if target is None or target.role != "labeler":
            raise service.NotFound("no such labeler")
        service.set_labeler(s, target, user.username, status=form.get("status") or None, pool=form.get("pool") or None)
    return RedirectResponse("/admin/labelers", status_code=303)


def _signals(s) -> list[dict[str, Any]]:
    """Per-labeler signals for the admin (never acted on automatically)."""
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"active": [], "rankings": [], "n": Counter()})
    for a, u in s.execute(select(Assignment, User).join(User, User.id == Assignment.user_id)):
        p = per[u.username]
        p["n"][a.status] += 1
        if a.status == "submitted":
            p["active"].append(a.active_s)
            rk = s.get(RankingRow, a.id)
            if rk is not None:
                p["rankings"].append(tuple(rk.ranks))
    all_active = [x for p in per.values() for x in p["active"] if x > 0]
    pool_median = statistics.median(all_active) if all_active else None
    out = []
    for name, p in sorted(per.items()):
        med = statistics.median(p["active"]) if p["active"] else None
        done = p["n"]["submitted"] + p["n"]["skipped"]
        out.append({"labeler": name, "median_active_s": med, "pool_median_s": pool_median,
                    "fast": bool(med is not None and pool_median and med < pool_median / 3),
                    "constant_rankings": len(p["rankings"]) >= 5 and len(set(p["rankings"])) == 1,
                    "skip_rate": p["n"]["skipped"] / done if done else None, "n_submitted": p["n"]["submitted"]})
    return out


@router.get("/quality")
def quality(request: Request, batch: str = ""):
    st = state(request)
    with st.tx() as s:
        user, ws = _admin(request, s)
        b = service.get_batch(s, batch) if batch else None
        report = export.agreement(s, b)
        screening = _screening(s, st.cfg)
        review = s.execute(select(Item, Batch).join(Batch, Batch.id == Item.batch_id).where(Item.status == "review")).all()
        demos = s.execute(select(DemoRow, Assignment, User).join(Assignment, Assignment.id == DemoRow.assignment_id)
                          .join(User, User.id == Assignment.user_id).join(Item, Item.id == Assignment.item_id)
                          .join(Batch, Batch.id == Item.batch_id)
                          .where(Batch.purpose == "screening", DemoRow.admin_score.is_(None))).all()
        batches = list(s.scalars(select(Batch.external_id).order_by(Batch.id.desc()).limit(100)))
        return render(request, "admin/quality.html", user=user, csrf=ws.csrf_token, report=report, batch=batch,
                      batches=batches, signals=_signals(s), screening=screening, review=review, demos=demos)


def _screening(s, cfg) -> list[dict[str, Any]]:
    """Screening summary per labeler against the paper's soft cutoffs (B.1)."""
    rows = []
    for u in s.scalars(select(User).where(User.status == "screening")):
        q = (select(GoldResult.detail).join(Assignment, Assignment.id == GoldResult.assignment_id)
             .join(Item, Item.id == Assignment.item_id).join(Batch, Batch.id == Item.batch_id)
             .where(GoldResult.user_id == u.id, Batch.purpose == "screening"))
        details = list(s.scalars(q))
        flags = [d["flags"] for d in details if "flags" in d]
        ranks = [d["ranking"] for d in details if "ranking" in d]
        scores = list(s.scalars(select(DemoRow.admin_score).join(Assignment, Assignment.id == DemoRow.assignment_id)
                                .where(Assignment.user_id == u.id, DemoRow.admin_score.is_not(None))))
        mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
        f, r, d = mean(flags), mean(ranks), mean(scores)
        passed = (f is not None and f >= cfg.screening_agreement and r is not None and r >= cfg.screening_agreement
                  and (d is None or d >= cfg.screening_demo_score))
        rows.append({"user": u, "flags": f, "ranking": r, "demo": d, "n": len(details), "pass": passed})
    return rows


@router.post("/demos/{aid}/score")
@with_form
def score_demo(request: Request, form: Any, aid: int):
    st = state(request)
    with st.tx() as s:
        user, ws = _admin(request, s)
        verify_csrf(request, ws, form)
        demo = s.get(DemoRow, aid)
        score = int(form.get("score") or 0)
        if demo is None or not 1 <= score <= 7:
            raise AppError("choose a score 1..7 for an existing demonstration")
        demo.admin_score = score
        service.audit(s, user.username, "demo.score", assignment=aid, score=score)
    return RedirectResponse("/admin/quality", status_code=303)


@router.get("/tokens")
def tokens(request: Request):
    return _tokens_page(request, new="")


def _tokens_page(request: Request, new: str):
    st = state(request)
    with st.tx() as s:
        user, ws = _admin(request, s)
        rows = s.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                         .where(User.role == "admin").order_by(ApiToken.id.desc())).all()
        return render(request, "admin/tokens.html", user=user, csrf=ws.csrf_token, tokens=rows, new_token=new,
                      scopes=[x for x in SCOPES if x != "label"], exports=export.EXPORTS)


@router.post("/tokens")
@with_form
def create_token(request: Request, form: Any):
    st = state(request)
    with st.tx() as s:
        user, ws = _admin(request, s)
        verify_csrf(request, ws, form)
        scopes = [x for x in form.getlist("scopes") if isinstance(x, str)]
        token = service.create_token(s, user, str(form.get("name") or "loop")[:128], scopes, user.username)
    return _tokens_page(request, new=token)  # shown once, in this response only


@router.post("/tokens/{tid}/revoke")
@with_form
def revoke_token(request: Request, form: Any, tid: int):
    st = state(request)
    with st.tx() as s:
        user, ws = _admin(request, s)
        verify_csrf(request, ws, form)
        t = s.get(ApiToken, tid)
        if t is None:
            raise service.NotFound("no such token")
        t.revoked_at = time.time()
        service.audit(s, user.username, "token.revoke", name=t.name)
    return RedirectResponse("/admin/tokens", status_code=303)


@router.get("/export/{what}.jsonl")
def export_file(request: Request, what: str, include: list[str] = Query(default=[]), batch: str = ""):
    st = state(request)
    with st.tx() as s:
        user, _ = _admin(request, s)
        b = service.get_batch(s, batch) if batch else None
        try:
            rows = list(export.iter_export(s, what, st.secret, set(include or []), b))
        except ValueError as e:
            raise AppError(str(e)) from None
        service.audit(s, user.username, "export", what=what, include=sorted(include or []), n=len(rows))
    return StreamingResponse((json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                             media_type="application/x-ndjson",
                             headers={"Content-Disposition": f'attachment; filename="{what}.jsonl"'})
