"""Passwords, tokens and rate limits.

- Passwords: Argon2id (memory-hard) via argon2-cffi; the parameters come from the config so
  tests can lower them while production keeps >= 64 MiB.
- Session ids, invite links and API tokens are random 256-bit strings; only their sha256
  is stored, so a database leak does not leak live credentials.
- Rate limits: an in-process sliding-window counter per key (user, token or IP).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque


class PasswordHasher:
    """Argon2id hashing with constant-time verification."""

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        from argon2 import PasswordHasher as _Argon2

        self._ph = _Argon2(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)

    def hash(self, password: str) -> str:
        check_password_strength(password)
        return self._ph.hash(password)

    def verify(self, pw_hash: str | None, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        if not pw_hash:
            # Spend the same time as a real check so usernames cannot be probed by timing.
            self._ph.hash("dummy-password-for-timing")
            return False
        try:
            return self._ph.verify(pw_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def check_password_strength(password: str) -> None:
    if len(password) < 10:
        raise ValueError("password must be at least 10 characters")


def new_token(prefix: str = "") -> str:
    """A random URL-safe token (256 bits)."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def anonymize(secret: str, labeler: str) -> str:
    """Salted, keyed pseudonym for a labeler in exports (stable for one server secret)."""
    return "lab-" + hmac.new(secret.encode(), labeler.encode(), hashlib.sha256).hexdigest()[:12]


def sign(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


class RateLimiter:
    """At most ``limit`` events per ``window_s`` per key (thread-safe, in process)."""

    def __init__(self, limit: int, window_s: float, clock=time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, q: deque[float], now: float) -> None:
        while q and q[0] <= now - self.window_s:
            q.popleft()

    def allow(self, key: str) -> bool:
        """Record one event for ``key``; False (and nothing recorded) when over the limit."""
        now = self._clock()
        with self._lock:
            q = self._events[key]
            self._trim(q, now)
            if len(q) >= self.limit:
                return False
            q.append(now)
            return True

    def blocked(self, key: str) -> bool:
        """True when ``key`` has used up its budget (does not record an event)."""
        now = self._clock()
        with self._lock:
            q = self._events[key]
            self._trim(q, now)
            return len(q) >= self.limit

    def hit(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            self._events[key].append(now)

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)
