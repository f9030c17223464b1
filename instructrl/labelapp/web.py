"""Labeler pages: login, invites, the queue, and the two task pages (server-rendered).

Forms work without JavaScript; ``static/app.js`` only adds autosave, digit keys and an
active-time counter. All model and prompt text goes through Jinja autoescape and is
shown pre-wrapped, never as HTML.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import select

from instructrl.data.schemas import RATING_FLAGS
from instructrl.labelapp import service
from instructrl.labelapp.app import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    check_origin,
    client_ip,
    render,
    require_user,
    session_user,
    start_session,
    state,
    verify_csrf,
    with_form,
)
from instructrl.labelapp.assign import LeaseLimit, lease_next, open_leases
from instructrl.labelapp.db import Assignment, Batch, GoldResult, Item, Response, User
from instructrl.labelapp.security import same, sign
from instructrl.labelapp.service import AppError

router = APIRouter()
MESSAGES = {"saved": "Draft saved.", "submitted": "Submitted, thank you.", "skipped": "Skipped.",
            "nowork": "No more work of this kind right now.", "cap": "You hold the maximum number of open tasks: "
            "finish or skip one first.", "password": "Password set: please log in."}


def _login_form(request: Request, error: str = "", status: int = 200, template: str = "login.html", **ctx: Any):
    """Login/invite forms carry a double-submit token (there is no session yet)."""
    token = secrets.token_urlsafe(24)
    resp = render(request, template, status=status, error=error, csrf=token, **ctx)
    resp.set_cookie(LOGIN_COOKIE, sign(state(request).secret, token), httponly=True, samesite="strict",
                    secure=state(request).cfg.cookie_secure, max_age=3600)
    return resp


def _verify_login_csrf(request: Request, form: Any) -> None:
    check_origin(request)
    token, cookie = str(form.get("csrf", "")), request.cookies.get(LOGIN_COOKIE, "")
    if not token or not same(sign(state(request).secret, token), cookie):
        raise PermissionError("CSRF token missing or wrong: reload the login page")


@router.get("/login")
def login_page(request: Request, msg: str = ""):
    return _login_form(request, message=MESSAGES.get(msg, ""))


@router.post("/login")
@with_form
def login(request: Request, form: Any):
    st = state(request)
    _verify_login_csrf(request, form)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    ukey, ikey = f"user:{username.lower()}", f"ip:{client_ip(request)}"
    if st.login_user.blocked(ukey) or st.login_ip.blocked(ikey):
        return _login_form(request, "Too many failed attempts: wait 15 minutes.", status=429)
    with st.tx() as s:
        pw_hash = s.scalar(select(User.pw_hash).where(User.username == username))
    ok = st.hasher.verify(pw_hash, password)  # outside the transaction: the KDF is slow by design
    with st.tx() as s:
        user = s.scalar(select(User).where(User.username == username))
        if not ok or user is None or user.status in ("disabled", "rejected"):
            st.login_user.hit(ukey)
            st.login_ip.hit(ikey)
            service.audit(s, username[:64] or "?", "login.fail", ip=client_ip(request))
            return _login_form(request, "Wrong username or password.", status=401)
        resp = RedirectResponse("/admin" if user.role == "admin" else "/", status_code=303)
        start_session(s, resp, user, st.cfg, request.cookies.get(SESSION_COOKIE))
        service.audit(s, user.username, "login", ip=client_ip(request))
    st.login_user.reset(ukey)
    return resp


@router.post("/logout")
@with_form
def logout(request: Request, form: Any):
    st = state(request)
    with st.tx() as s:
        got = session_user(request, s)
        if got is not None:
            verify_csrf(request, got[1], form)
            s.delete(got[1])
            service.audit(s, got[0].username, "logout")
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/invite/{token}")
def invite_page(request: Request, token: str):
    with state(request).tx() as s:
        inv = service.find_invite(s, token)
        return _login_form(request, template="invite.html", token=token, invite=inv)


@router.post("/invite/{token}")
@with_form
def invite_accept(request: Request, form: Any, token: str):
    st = state(request)
    _verify_login_csrf(request, form)
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    with st.tx() as s:
        inv = service.find_invite(s, token)
    try:
        pw_hash = st.hasher.hash(password)  # outside the transaction: the KDF is slow by design
        with st.tx() as s:
            service.accept_invite(s, token, username, pw_hash)
    except (ValueError, AppError) as e:
        return _login_form(request, str(e), status=400, template="invite.html", token=token, invite=inv)
    return RedirectResponse("/login?msg=password", status_code=303)


@router.get("/")
def home(request: Request, msg: str = ""):
    st = state(request)
    with st.tx() as s:
        user, ws = require_user(request, s)
        now = time.time()
        leases = [(a, s.get(Batch, s.get(Item, a.item_id).batch_id).kind) for a in open_leases(s, user.id, now)]
        drafts = list(s.scalars(select(Assignment).where(Assignment.user_id == user.id, Assignment.status == "expired",
                                                         Assignment.draft.is_not(None))))
        return render(request, "home.html", user=user, csrf=ws.csrf_token, counts=service.queue_counts(s, user, now),
                      leases=leases, drafts=drafts, message=MESSAGES.get(msg, ""))


@router.get("/work")
def work(request: Request, kind: str = "rate_rank"):
    st = state(request)
    if kind not in ("demo", "rate_rank"):
        raise AppError(f"kind must be demo or rate_rank, got {kind!r}")
    with st.tx() as s:
        user, _ = require_user(request, s)
        if not st.lease_limit.allow(f"user:{user.id}"):
            raise _TooMany()
        try:
            a = lease_next(s, user, kind, st.cfg, st.rng())
        except LeaseLimit:
            return RedirectResponse("/?msg=cap", status_code=303)
        if a is None:
            return RedirectResponse("/?msg=nowork", status_code=303)
        service.audit(s, user.username, "lease", assignment=a.id, item=a.item_id)
        return RedirectResponse(f"/a/{a.id}", status_code=303)


class _TooMany(AppError):
    status = 429

    def __init__(self) -> None:
        super().__init__("Too many requests: wait a minute.")


@router.get("/a/{aid}")
def assignment_page(request: Request, aid: int, msg: str = ""):
    st = state(request)
    with st.tx() as s:
        user, ws = require_user(request, s)
        a = service.owned_assignment(s, aid, user)
        item = s.get(Item, a.item_id)
        batch = s.get(Batch, item.batch_id)
        prompt = item.prompt
        ctx = dict(user=user, csrf=ws.csrf_token, a=a, prompt=prompt, draft=a.draft or {},
                   message=MESSAGES.get(msg, ""), closed=a.status in ("submitted", "skipped"),
                   expired=a.status == "expired" or a.expires_at <= time.time())
        if batch.kind == "demo":
            return render(request, "demo.html", **ctx)
        rs = list(s.scalars(select(Response).where(Response.item_id == item.id).order_by(Response.idx)))
        shown = [rs[i].text for i in a.perm]  # display order; the policy (source) is never passed
        return render(request, "rate_rank.html", outputs=shown, k=len(shown), **ctx)


def _wants_json(request: Request) -> bool:
    return request.headers.get("x-requested-with") == "fetch"


@router.post("/a/{aid}/draft")
@with_form
def draft(request: Request, form: Any, aid: int):
    st = state(request)
    with st.tx() as s:
        user, ws = require_user(request, s)
        verify_csrf(request, ws, form)
        if not st.submit_limit.allow(f"draft:{user.id}"):
            raise _TooMany()
        a = service.owned_assignment(s, aid, user)
        data = {k: v for k, v in form.items() if k not in ("csrf", "active_s") and isinstance(v, str)}
        expires = service.save_draft(s, st.cfg, a, data)
    if _wants_json(request):
        return JSONResponse({"ok": True, "expires_at": expires})
    return RedirectResponse(f"/a/{aid}?msg=saved", status_code=303)


def _parse_rate_rank(form: Any, a: Assignment) -> dict[str, Any]:
    """Form fields are per display position j; store them per response idx = perm[j]."""
    k = len(a.perm)
    likerts, flags, notes, ranks = [0] * k, [{}] * k, [""] * k, [0] * k
    for j in range(k):
        i = a.perm[j]
        likerts[i] = _int(form.get(f"likert_{j}"), f"output {j + 1}: choose a Likert score")
        ranks[i] = _int(form.get(f"rank_{j}"), f"output {j + 1}: choose a rank")
        f: dict[str, bool | None] = {}
        for name in RATING_FLAGS:
            v = form.get(f"flag_{j}_{name}")
            if name == "satisfies_constraint":
                f[name] = {"yes": True, "no": False}.get(str(v or ""), None)  # n/a when no constraint
            else:
                f[name] = v == "1"
        flags[i] = f
        notes[i] = str(form.get(f"notes_{j}", ""))
    return dict(likerts=likerts, flags=flags, notes=notes, ranks=ranks, not_rankable=form.get("not_rankable") == "1")


def _float(v: Any) -> float:
    """Active seconds reported by the page's script (0 without JavaScript)."""
    try:
        return max(0.0, float(str(v)))
    except (TypeError, ValueError):
        return 0.0


def _int(v: Any, message: str) -> int:
    try:
        return int(str(v))
    except (TypeError, ValueError):
        raise AppError(message) from None


@router.post("/a/{aid}/submit")
@with_form
def submit(request: Request, form: Any, aid: int):
    st = state(request)
    with st.tx() as s:
        user, ws = require_user(request, s)
        verify_csrf(request, ws, form)
        if not st.submit_limit.allow(f"user:{user.id}"):
            raise _TooMany()
        a = service.owned_assignment(s, aid, user)
        kind = s.get(Batch, s.get(Item, a.item_id).batch_id).kind
        active_s = _float(form.get("active_s"))
        if kind == "demo":
            service.submit_demo(s, st.cfg, a, str(form.get("text", "")), active_s, user.username)
        else:
            service.submit_rate_rank(s, st.cfg, a, active_s=active_s, actor=user.username, **_parse_rate_rank(form, a))
    return RedirectResponse(f"/work?kind={kind}", status_code=303)


@router.post("/a/{aid}/skip")
@with_form
def skip(request: Request, form: Any, aid: int):
    st = state(request)
    with st.tx() as s:
        user, ws = require_user(request, s)
        verify_csrf(request, ws, form)
        a = service.owned_assignment(s, aid, user)
        service.skip(s, st.cfg, a, str(form.get("reason", "")), user.username)
    return RedirectResponse("/?msg=skipped", status_code=303)


@router.get("/me")
def me(request: Request):
    st = state(request)
    with st.tx() as s:
        user, ws = require_user(request, s)
        counts: dict[str, int] = {}
        for a in s.scalars(select(Assignment).where(Assignment.user_id == user.id)):
            counts[a.status] = counts.get(a.status, 0) + 1
        gold = list(s.scalars(select(GoldResult.score).where(GoldResult.user_id == user.id)))
        return render(request, "me.html", user=user, csrf=ws.csrf_token, counts=counts,
                      gold=(sum(gold) / len(gold)) if gold else None, n_gold=len(gold))
