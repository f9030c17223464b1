"""Schema migrations (Alembic; scripts in ``migrations/``), configured in code: no ini file."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (creates the tables on a new database)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from instructrl.labelapp.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def require_current(url: str) -> None:
    """Raise unless the database is migrated to the newest schema."""
    cur, head = current_revision(url), head_revision()
    if cur != head:
        raise ValueError(f"database {url!r} is at schema revision {cur!r}, the app needs {head!r}: "
                         "run `instructrl labelapp migrate --db URL` first")
