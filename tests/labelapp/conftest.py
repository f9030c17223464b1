"""Fixtures for the labeling app: a migrated temporary database per test (SQLite, and
PostgreSQL too when INSTRUCTRL_TEST_PG_URL is set), an app with cheap Argon2 parameters,
and helpers to log people in through the real pages."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

from fastapi.testclient import TestClient  # noqa: E402

from instructrl.labelapp import service  # noqa: E402
from instructrl.labelapp.app import create_app  # noqa: E402
from instructrl.labelapp.config import LabelAppConfig  # noqa: E402
from instructrl.labelapp.migrate import upgrade  # noqa: E402

PG_URL = os.environ.get("INSTRUCTRL_TEST_PG_URL", "")
PASSWORD = "correct-horse-battery"
ALL_SCOPES = ["batches:write", "results:read", "export:read", "labelers:write"]


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: real headless Chromium via Playwright (needs /usr/bin/chromium)")


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """Migrate once; each test copies the file (migrations take ~0.3 s)."""
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def _reset_pg(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)


@pytest.fixture(params=["sqlite"] + (["postgresql"] if PG_URL else []))
def db_url(request, tmp_path, template_db):
    if request.param == "postgresql":
        _reset_pg(PG_URL)
        return PG_URL
    path = tmp_path / "labels.db"
    shutil.copy(template_db, path)
    return f"sqlite:///{path}"


def make_cfg(db_url: str, **kw) -> LabelAppConfig:
    base = dict(db_url=db_url, secret_key="test-secret-key-0123456789", cookie_secure=False, argon2_time_cost=1,
                argon2_memory_kib=8, seed=0, gold_rate=0.0, agreement_rate=0.0, lease_per_min=10_000,
                submit_per_min=10_000)
    base.update(kw)
    return LabelAppConfig(**base)


@pytest.fixture
def cfg(db_url):
    return make_cfg(db_url)


@pytest.fixture
def app(cfg):
    app = create_app(cfg)
    yield app
    app.state.irl.engine.dispose()


@pytest.fixture
def st(app):
    return app.state.irl


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def admin_token(st):
    with st.tx() as s:
        admin = service.create_user(s, "root", "admin", pw_hash=st.hasher.hash(PASSWORD))
        return service.create_token(s, admin, "loop", ALL_SCOPES, "test")


def add_user(st, username: str, role: str = "labeler", pool: str = "train", status: str = "active"):
    with st.tx() as s:
        return service.create_user(s, username, role, pool, status, st.hasher.hash(PASSWORD))


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def login(app, username: str, password: str = PASSWORD) -> TestClient:
    """A fresh browser-like client logged in through the login form."""
    c = TestClient(app)
    page = c.get("/login")
    r = c.post("/login", data={"username": username, "password": password, "csrf": csrf_of(page.text)},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


def rank_batch(bid: str = "b1", n: int = 3, k: int = 4, **kw):
    from instructrl.data.schemas import Prompt
    from instructrl.labelers.base import LabelBatch, RankingItem

    items = tuple(
        RankingItem(Prompt(id=f"{bid}-p{i}", text=f"Prompt {i} of {bid}"),
                    tuple(f"response {j} to prompt {i}" for j in range(k)), tuple(f"policy-{j % 2}" for j in range(k)))
        for i in range(n)
    )
    return LabelBatch(id=bid, kind="rankings", items=items, **kw)


def demo_batch(bid: str = "d1", n: int = 2, **kw):
    from instructrl.data.schemas import Prompt
    from instructrl.labelers.base import LabelBatch

    return LabelBatch(id=bid, kind="demonstrations",
                      prompts=tuple(Prompt(id=f"{bid}-p{i}", text=f"Write about {i}") for i in range(n)), **kw)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A real uvicorn server on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, cfg):
        import uvicorn

        self.port = _free_port()
        self.app = create_app(cfg)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            time.sleep(0.05)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.app.state.irl.engine.dispose()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
