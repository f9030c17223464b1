"""A labeling app running in a background thread, with bot labelers: for loop tests and demos.

    with LocalLabelApp() as app, app.bots(n_labelers=3):
        backend = app.backend()          # an HttpLabelers talking to it over real HTTP
        backend.submit(batch)
        wait(backend, batch.id, poll_s=0.2)

The database is a temporary SQLite file unless ``db_url`` is given; the admin account has
no password (it cannot log in to the pages) and owns one token with every admin scope.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from instructrl.labelapp.client import HttpLabelers
from instructrl.labelapp.config import LabelAppConfig

FAST = dict(lease_per_min=1_000_000, submit_per_min=1_000_000, argon2_time_cost=1, argon2_memory_kib=1024)


class LocalLabelApp:
    def __init__(self, db_url: str | None = None, host: str = "127.0.0.1", **config: Any) -> None:
        self._tmp = None if db_url else tempfile.TemporaryDirectory(prefix="labelapp-")
        url = db_url or f"sqlite:///{Path(self._tmp.name) / 'labels.db'}"
        self.cfg = LabelAppConfig(**{"db_url": url, "dev": True, "cookie_secure": False, **FAST, **config})
        self.host = host
        self.token = ""
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "LocalLabelApp":
        import uvicorn

        from instructrl.labelapp import service
        from instructrl.labelapp.app import create_app
        from instructrl.labelapp.db import SCOPES
        from instructrl.labelapp.migrate import upgrade

        upgrade(self.cfg.db_url)
        self.app = create_app(self.cfg)
        st = self.app.state.irl
        with st.tx() as s:
            admin = service.create_user(s, f"local-admin-{int(time.time() * 1000)}", "admin")
            self.token = service.create_token(s, admin, "local", [x for x in SCOPES if x != "label"], "local")
        with socket.socket() as sock:
            sock.bind((self.host, 0))
            self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app, host=self.host, port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, name="labelapp", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the local labeling app did not start on {self.url}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.app.state.irl.engine.dispose()
        if self._tmp is not None:
            self._tmp.cleanup()

    def backend(self) -> HttpLabelers:
        return HttpLabelers(self.url, self.token)

    @contextlib.contextmanager
    def bots(self, n_labelers: int = 3, pool: str = "train", seed: int = 0, poll_s: float = 0.05,
             **kw: Any) -> Iterator[threading.Thread]:
        """Bot labelers working in a background thread until the block ends."""
        from instructrl.labelapp.bot import run_bots

        stop = threading.Event()
        errors: list[BaseException] = []

        def work() -> None:
            try:
                run_bots(self.url, self.token, n_labelers=n_labelers, pool=pool, seed=seed, idle_rounds=0,
                         poll_s=poll_s, stop=stop.is_set, prefix=f"bot{seed}", **kw)
            except BaseException as e:  # surfaced when the block ends
                errors.append(e)

        thread = threading.Thread(target=work, name=f"labelapp-bots-{pool}", daemon=True)
        thread.start()
        try:
            yield thread
        finally:
            stop.set()
            thread.join(timeout=30)
        if errors:
            raise RuntimeError(f"bot labelers failed: {errors[0]!r}") from errors[0]
