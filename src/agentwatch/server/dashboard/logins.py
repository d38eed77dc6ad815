"""Dashboard logins kept in the database, so that logging out ends a login for good.

A login cookie alone (signed, with an expiry) cannot be taken back: a copy stays valid
until it expires. Each login is therefore a row, keyed by the SHA-256 of the cookie's
random token; logging out deletes the row. Kept in the database rather than in memory so
that every server process on one PostgreSQL database agrees, and a restart logs nobody out.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa

from agentwatch.server.storage import Storage
from agentwatch.server.storage.schema import dashboard_logins

__all__ = ["LoginStore", "token_hash"]


def token_hash(token: str) -> str:
    """What is stored of a login token: a stolen database yields no usable cookie."""
    return hashlib.sha256(token.encode()).hexdigest()


class LoginStore:
    """Logins in ``storage``. Every method blocks (call from a worker thread)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def add(self, token: str, expires_at: dt.datetime) -> None:
        """Record a new login; expired ones are deleted on the way (they are never read)."""
        now = dt.datetime.now(dt.timezone.utc)
        with self._storage.write() as conn:
            conn.execute(sa.delete(dashboard_logins).where(dashboard_logins.c.expires_at <= now))
            conn.execute(
                sa.insert(dashboard_logins).values(
                    token_hash=token_hash(token), created_at=now, expires_at=expires_at
                )
            )

    def is_active(self, token: str) -> bool:
        """True while the login of ``token`` exists and has not expired."""
        now = dt.datetime.now(dt.timezone.utc)
        with self._storage.read() as conn:
            row = conn.execute(
                sa.select(dashboard_logins.c.token_hash).where(
                    dashboard_logins.c.token_hash == token_hash(token),
                    dashboard_logins.c.expires_at > now,
                )
            ).first()
        return row is not None

    def remove(self, token: str) -> None:
        """End the login of ``token`` (nothing happens if it has already ended)."""
        with self._storage.write() as conn:
            conn.execute(
                sa.delete(dashboard_logins).where(
                    dashboard_logins.c.token_hash == token_hash(token)
                )
            )
