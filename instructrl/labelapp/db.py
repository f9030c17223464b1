"""Tables of the labeling app (SQLAlchemy 2) and the engine/session setup.

Timestamps are UNIX seconds (float) so SQLite and PostgreSQL compare them the same way.
SQLite runs in WAL mode with a busy timeout, and every transaction starts with
``BEGIN IMMEDIATE``: writers are serialised up front, so the capacity re-check inside
the lease transaction cannot race (PostgreSQL uses row locks instead, see assign.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from instructrl.data.schemas import RATING_FLAGS

ROLES = ("admin", "labeler")
POOLS = ("train", "heldout")
USER_STATUSES = ("invited", "screening", "active", "probation", "rejected", "disabled")
BATCH_KINDS = ("demo", "rate_rank")
BATCH_PURPOSES = ("production", "screening", "gold")
ASSIGNMENT_STATUSES = ("leased", "submitted", "skipped", "expired")
SCOPES = ("batches:write", "results:read", "export:read", "labelers:write", "label")


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    pool: Mapped[str] = mapped_column(String(16), default="train")
    status: Mapped[str] = mapped_column(String(16))
    pw_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float | None] = mapped_column(Float, nullable=True)


class Invite(Base):
    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    pool: Mapped[str] = mapped_column(String(16))
    start_status: Mapped[str] = mapped_column(String(16))  # "screening" or "active"
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    expires_at: Mapped[float] = mapped_column(Float)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class WebSession(Base):
    __tablename__ = "sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    scopes: Mapped[str] = mapped_column(String(255))  # space-separated
    created_at: Mapped[float] = mapped_column(Float)
    last_used: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class PromptRow(Base):
    __tablename__ = "prompts"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), unique=True)
    text_sha: Mapped[str] = mapped_column(String(64), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # Prompt.to_dict()
    source: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[float] = mapped_column(Float)


class Batch(Base):
    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), unique=True)  # LabelBatch.id, the idempotency key
    payload_sha: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16), default="production")
    pool: Mapped[str] = mapped_column(String(16), default="train")
    overlap: Mapped[int] = mapped_column(Integer, default=1)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, done, cancelled
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("batch_id", "seq"), Index("ix_items_open", "status", "batch_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"), index=True)  # the deduplicated registry
    prompt: Mapped[dict[str, Any]] = mapped_column(JSON)  # the Prompt exactly as submitted (id, metadata)
    seq: Mapped[int] = mapped_column(Integer)
    overlap: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, done, review, cancelled
    gold: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # user ids of labelers whose demonstration is among the responses (they never rate it)
    authors: Mapped[list[int]] = mapped_column(JSON, default=list)


class Response(Base):
    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("item_id", "idx"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    idx: Mapped[int] = mapped_column(Integer)  # position in the submitted batch item
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(255), default="")  # producing policy: never shown to labelers


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("item_id", "user_id"), Index("ix_assign_user_status", "user_id", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="leased")
    perm: Mapped[list[int]] = mapped_column(JSON, default=list)  # display order of response idx
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    submitted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    active_s: Mapped[float] = mapped_column(Float, default=0.0)
    skip_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class DemoRow(Base):
    __tablename__ = "demonstrations"
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    admin_score: Mapped[int | None] = mapped_column(Integer, nullable=True)  # screening: 1..7


class RatingRow(Base):
    __tablename__ = "ratings"
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id"), primary_key=True)
    likert: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")


# The 11 Table-3 flags as nullable boolean columns: NULL = "n/a".
for _flag in RATING_FLAGS:
    setattr(RatingRow, _flag, mapped_column(_flag, Boolean, nullable=True))


class RankingRow(Base):
    __tablename__ = "rankings"
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), primary_key=True)
    ranks: Mapped[list[int]] = mapped_column(JSON)  # dense ranks in response idx order, 1 = best
    not_rankable: Mapped[bool] = mapped_column(Boolean, default=False)


class GoldResult(Base):
    __tablename__ = "gold_results"
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    score: Mapped[float] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)


class Event(Base):
    """Append-only audit log: nothing updates or deletes these rows."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def make_engine(url: str) -> Engine:
    """An engine with the pragmas the app relies on (SQLite: WAL, busy timeout, IMMEDIATE)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let us issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
