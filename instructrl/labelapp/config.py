"""The labeling app's settings: one frozen dataclass, validated on construction.

Production defaults are deliberately strict (memory-hard password hashing, secure
cookies, short leases); tests lower the KDF cost through the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from instructrl.config import field


@dataclass(frozen=True)
class LabelAppConfig:
    db_url: str = field("sqlite:///labels.db", help="SQLAlchemy URL: sqlite:///file.db (WAL mode) or postgresql+psycopg://...")
    secret_key: str = field("", help="Server secret (export anonymisation salt, login-form tokens). Required unless dev.")
    dev: bool = field(False, help="Development mode: an ephemeral secret key and cookies without the Secure flag.")
    cookie_secure: bool = field(True, help="Set the Secure flag on cookies (turn off only for plain-http development).")
    session_idle_s: int = field(12 * 3600, help="Sessions expire after this many idle seconds.")
    invite_ttl_s: int = field(72 * 3600, help="Invite links expire after this many seconds.")
    lease_ttl_s: int = field(30 * 60, help="Lease length for rate-and-rank work; renewed by each draft save.")
    demo_lease_ttl_s: int = field(90 * 60, help="Lease length for writing a demonstration.")
    max_open: int = field(3, help="Open leases a labeler may hold at once (OA #1564: no hoarding).")
    gold_rate: float = field(0.05, help="Probability of serving a hidden gold item instead of production work.")
    onboard_gold: int = field(0, help="A labeler's first N tasks are gold items when available.")
    agreement_rate: float = field(0.1, help="Share of items given overlap >= 2 so agreement can be measured.")
    probation_threshold: float = field(0.6, help="Rolling gold score below which a labeler goes on probation.")
    probation_window: int = field(20, help="Number of recent gold results in the rolling score.")
    probation_min_results: int = field(5, help="Gold results needed before probation can trigger.")
    screening_agreement: float = field(0.75, help="Screening pass mark on flag and ranking agreement (paper B.1).")
    screening_demo_score: float = field(6.0, help="Screening pass mark on admin-scored demonstrations (1-7).")
    max_skips: int = field(3, help="An item skipped this many times goes to admin review.")
    max_demo_chars: int = field(8000, help="Longest demonstration accepted.")
    max_upload_bytes: int = field(20 * 1024 * 1024, help="Largest upload or API request body.")
    max_items_per_batch: int = field(10_000, help="Most items in one batch.")
    login_attempts: int = field(5, help="Failed logins allowed per user and per IP within login_window_s.")
    login_window_s: int = field(15 * 60, help="Window for the login rate limit.")
    lease_per_min: int = field(30, help="Lease requests per minute per labeler.")
    submit_per_min: int = field(60, help="Submits and draft saves per minute per labeler.")
    argon2_time_cost: int = field(3, help="Argon2id passes.")
    argon2_memory_kib: int = field(64 * 1024, help="Argon2id memory in KiB (memory-hard: keep >= 19456 in production).")
    sweep_interval_s: int = field(60, help="How often the background sweeper expires stale leases.")
    seed: int | None = field(None, help="Seed for assignment randomness (tests); None = OS entropy.")

    def __post_init__(self) -> None:
        for name in ("session_idle_s", "invite_ttl_s", "lease_ttl_s", "demo_lease_ttl_s", "max_open", "max_skips",
                     "max_demo_chars", "max_upload_bytes", "max_items_per_batch", "login_attempts",
                     "login_window_s", "lease_per_min", "submit_per_min", "argon2_time_cost",
                     "argon2_memory_kib", "sweep_interval_s", "probation_window"):
            if getattr(self, name) < 1:
                raise ValueError(f"LabelAppConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("gold_rate", "agreement_rate", "probation_threshold", "screening_agreement"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"LabelAppConfig.{name} must be in [0, 1], got {getattr(self, name)!r}")
        if not 1.0 <= self.screening_demo_score <= 7.0:
            raise ValueError(f"LabelAppConfig.screening_demo_score must be in [1, 7], got {self.screening_demo_score!r}")
        if not self.secret_key and not self.dev:
            raise ValueError(
                "the labeling app needs a secret key: pass --secret-key or set INSTRUCTRL_LABELAPP_SECRET "
                "(or --dev for an ephemeral one on a development machine)"
            )
        if self.secret_key and len(self.secret_key) < 16:
            raise ValueError(f"secret_key must be at least 16 characters, got {len(self.secret_key)}")

    def with_(self, **changes: Any) -> "LabelAppConfig":
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown LabelAppConfig field(s) {unknown}")
        return replace(self, **changes)
