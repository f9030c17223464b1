"""The FastAPI application: state, security middleware, sessions, CSRF, error pages.

Routes live in ``api.py`` (JSON, bearer tokens), ``web.py`` (labeler pages) and
``admin.py`` (admin pages). Each handler runs one explicit transaction (``tx``) that is
committed *before* the response is sent, so a 200 means the label is on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlparse

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import delete
from sqlalchemy.orm import Session

from instructrl.data.schemas import RATING_FLAG_HELP, RATING_FLAGS
from instructrl.labelapp.assign import expire_stale
from instructrl.labelapp.config import LabelAppConfig
from instructrl.labelapp.db import User, WebSession, make_engine, make_sessionmaker
from instructrl.labelapp.security import PasswordHasher, RateLimiter, new_token, same, token_hash
from instructrl.labelapp.service import AppError, rng_for

HERE = Path(__file__).parent
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
SESSION_COOKIE = "irl_session"
LOGIN_COOKIE = "irl_login"


class Redirect(Exception):
    def __init__(self, url: str) -> None:
        self.url = url


class AppState:
    """Everything the handlers share: config, database, hasher, limiters, randomness."""

    def __init__(self, cfg: LabelAppConfig) -> None:
        self.cfg = cfg
        self.secret = cfg.secret_key or secrets.token_hex(32)  # dev: ephemeral
        self.engine = make_engine(cfg.db_url)
        self.sessions = make_sessionmaker(self.engine)
        self.hasher = PasswordHasher(cfg.argon2_time_cost, cfg.argon2_memory_kib)
        self.login_user = RateLimiter(cfg.login_attempts, cfg.login_window_s)
        self.login_ip = RateLimiter(cfg.login_attempts, cfg.login_window_s)
        self.lease_limit = RateLimiter(cfg.lease_per_min, 60)
        self.submit_limit = RateLimiter(cfg.submit_per_min, 60)
        self._rng = rng_for(cfg)
        self._rng_lock = threading.Lock()
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(["html"], default=True))
        self.templates.globals.update(flags=RATING_FLAGS, flag_help=RATING_FLAG_HELP, cfg=cfg)

    @contextlib.contextmanager
    def tx(self) -> Iterator[Session]:
        """One transaction, committed on exit (before the response is built)."""
        with self.sessions.begin() as s:
            yield s

    def rng(self):
        return _LockedRng(self._rng, self._rng_lock)


class _LockedRng:
    def __init__(self, rng, lock) -> None:
        self._rng, self._lock = rng, lock

    def random(self) -> float:
        with self._lock:
            return self._rng.random()

    def choice(self, seq):
        with self._lock:
            return self._rng.choice(seq)

    def shuffle(self, x) -> None:
        with self._lock:
            self._rng.shuffle(x)


def state(request: Request) -> AppState:
    return request.app.state.irl


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    st = state(request)
    html = st.templates.get_template(name).render(request=request, **ctx)
    return HTMLResponse(html, status_code=status)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# ---------------------------------------------------------------- sessions and CSRF

def start_session(s: Session, response: Response, user: User, cfg: LabelAppConfig, old_sid: str | None) -> None:
    """A fresh session id on every login (no fixation); the old one is dropped."""
    if old_sid:
        s.execute(delete(WebSession).where(WebSession.id_hash == token_hash(old_sid)))
    sid = new_token()
    now = time.time()
    s.add(WebSession(id_hash=token_hash(sid), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                     created_at=now, last_seen=now))
    user.last_seen = now
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax", secure=cfg.cookie_secure,
                        max_age=cfg.session_idle_s, path="/")


def session_user(request: Request, s: Session) -> tuple[User, WebSession] | None:
    sid = request.cookies.get(SESSION_COOKIE)
    if not sid:
        return None
    ws = s.get(WebSession, token_hash(sid))
    now = time.time()
    if ws is None or now - ws.last_seen > state(request).cfg.session_idle_s:
        return None
    user = s.get(User, ws.user_id)
    if user is None or user.status in ("disabled", "rejected") and user.role != "admin":
        return None
    if now - ws.last_seen > 60:  # avoid a write per request
        ws.last_seen = user.last_seen = now
    return user, ws


def require_user(request: Request, s: Session, role: str | None = None) -> tuple[User, WebSession]:
    got = session_user(request, s)
    if got is None:
        raise Redirect("/login")
    if role is not None and got[0].role != role:
        raise PermissionError("this page needs the admin role")
    return got


def check_origin(request: Request) -> None:
    """Reject cross-site POSTs by Origin (or Referer) when the browser sends one."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return  # non-browser clients; the synchronizer token still applies
    host = request.headers.get("host", "")
    if urlparse(origin).netloc != host:
        raise PermissionError("cross-origin request refused")


def verify_csrf(request: Request, ws: WebSession, form: Any) -> None:
    """Check the Origin and the form's synchronizer token against the session's."""
    check_origin(request)
    token = request.headers.get("x-csrf-token") or form.get("csrf") or ""
    if not isinstance(token, str) or not same(token, ws.csrf_token):
        raise PermissionError("CSRF token missing or wrong: reload the page and try again")


def _threadpool_route(fn: Callable, read: Callable, name: str) -> Callable:
    """Read the request body on the event loop, then run ``fn(request, <body>, **path_params)``
    in the threadpool: database work and password hashing must never block the event loop."""
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    async def route(request: Request, **kw: Any):
        body = await read(request)
        return await run_in_threadpool(fn, request, body, **kw)

    # FastAPI reads the signature: hide the body parameter so it is not taken as a query param
    route.__signature__ = sig.replace(parameters=[p for n, p in sig.parameters.items() if n != name])
    return route


async def _read_form(request: Request) -> Any:
    return await request.form()


async def _read_json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AppError(f"request body is not valid JSON: {e}") from None


def with_form(fn: Callable) -> Callable:
    """Route decorator: ``fn(request, form, ...)`` runs in the threadpool with the parsed form."""
    return _threadpool_route(fn, _read_form, "form")


def with_json(fn: Callable) -> Callable:
    """Route decorator: ``fn(request, body, ...)`` runs in the threadpool with the parsed JSON."""
    return _threadpool_route(fn, _read_json, "body")


# ---------------------------------------------------------------- middleware

class BodyLimit:
    """ASGI middleware: refuse request bodies larger than ``limit`` bytes with 413."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _too_large(send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            msg = await receive()
            seen += len(msg.get("body", b""))
            if seen > self.limit:
                raise _TooLarge()
            return msg

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await _too_large(send)


class _TooLarge(Exception):
    pass


async def _too_large(send) -> None:
    await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"request body too large"})


def create_app(cfg: LabelAppConfig) -> FastAPI:
    """Build the app. The schema must already be migrated (``instructrl labelapp migrate``)."""
    st = AppState(cfg)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        async def sweeper():
            while True:
                await asyncio.sleep(cfg.sweep_interval_s)
                await asyncio.to_thread(_sweep, st)

        task = asyncio.create_task(sweeper())
        yield
        task.cancel()
        st.engine.dispose()

    app = FastAPI(title="instructrl labelapp", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.irl = st

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(Redirect)
    async def _redirect(request: Request, exc: Redirect):
        return RedirectResponse(exc.url, status_code=303)

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError):
        return _error(request, exc.status, str(exc))

    @app.exception_handler(PermissionError)
    async def _forbidden(request: Request, exc: PermissionError):
        return _error(request, 403, str(exc))

    from instructrl.labelapp import admin, api, web

    app.include_router(api.router)
    app.include_router(web.router)
    app.include_router(admin.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(BodyLimit, limit=cfg.max_upload_bytes)
    return app


def _error(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    return render(request, "error.html", status=status, message=message, status_code=status)


def _sweep(st: AppState) -> None:
    with st.tx() as s:
        expire_stale(s, time.time())
        s.execute(delete(WebSession).where(WebSession.last_seen < time.time() - st.cfg.session_idle_s))
