"""``TokenStore``: each session's JWT, when to refresh it, and one refresh at a time.

A JWT is refreshed before use once close to its ``exp``; a refresh is single-flight per
session: concurrent callers queue on one lock, and a caller that finds the stored JWT
already differs from the stale one it used takes that newer JWT without another request.
Thread-safe. A JWT is never logged.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from agentwatch.exceptions import RetryableApiError

__all__ = ["REFRESH_MARGIN", "TokenStore"]

#: A JWT is refreshed before use once this close to its ``exp`` (or within the last fifth
#: of its lifetime, if shorter), so that a request does not leave with a token that
#: expires on the way.
REFRESH_MARGIN = 60.0
_REFRESH_FRACTION = 0.2


@dataclass(frozen=True)
class Token:
    jwt: str
    refresh_at: float | None  # Unix time after which to refresh before use; None: never

    def due(self, now: float) -> bool:
        return self.refresh_at is not None and now >= self.refresh_at


class TokenStore:
    """The JWT of every session a client sends for."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self.reset_after_fork()

    def reset_after_fork(self) -> None:
        """A forked child must not wait on a lock a parent thread held at fork time."""
        self._lock = threading.Lock()  # guards _tokens and _refresh_locks
        self._refresh_locks: dict[str, threading.Lock] = {}

    def store(self, session_id: str, jwt: str) -> None:
        with self._lock:
            self._tokens[session_id] = Token(jwt, _refresh_time(jwt, time.time()))

    def get(self, session_id: str) -> Token | None:
        return self._tokens.get(session_id)

    def jwt_for(self, session_id: str) -> str | None:
        token = self._tokens.get(session_id)
        return None if token is None else token.jwt

    def refresh(
        self, session_id: str, stale_jwt: str | None, fetch: Callable[[], str], deadline: float
    ) -> str:
        """A JWT newer than ``stale_jwt``: the one another caller just fetched, else
        ``fetch()``'s (stored). Blocks up to ``deadline`` (``time.monotonic()``) for the lock."""
        lock = self._refresh_lock(session_id)
        if not lock.acquire(timeout=_lock_timeout(deadline)):
            raise RetryableApiError(
                f"timed out waiting for the token refresh of session {session_id}",
                status=None,
                reason="timeout",
            )
        try:
            current = self.jwt_for(session_id)
            if stale_jwt is not None and current is not None and current != stale_jwt:
                return current
            jwt = fetch()
            self.store(session_id, jwt)
            return jwt
        finally:
            lock.release()

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._tokens.pop(session_id, None)
            self._refresh_locks.pop(session_id, None)

    def _refresh_lock(self, session_id: str) -> threading.Lock:
        with self._lock:
            return self._refresh_locks.setdefault(session_id, threading.Lock())


def _refresh_time(jwt: str, now: float) -> float | None:
    """When to refresh a token received at ``now``; ``None`` if it has no usable ``exp``.

    The lifetime is measured from receipt on the local clock, so a skewed clock cannot
    make a fresh token look due (which would refresh before every request).
    """
    exp = _expiry(jwt)
    if exp is None or exp <= now:
        return None
    return exp - min(REFRESH_MARGIN, (exp - now) * _REFRESH_FRACTION)


def _expiry(jwt: str) -> float | None:
    """The ``exp`` claim of a JWT, read without checking the signature (not ours to check)."""
    parts = jwt.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:  # covers binascii.Error and orjson.JSONDecodeError
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        return float(exp)
    return None


def _lock_timeout(deadline: float) -> float:
    return min(max(deadline - time.monotonic(), 0.0), threading.TIMEOUT_MAX)
