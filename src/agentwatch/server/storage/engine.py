"""Engines for the two supported databases, and the few places where their SQL differs.

SQLite: WAL (readers never block the writer), ``synchronous=FULL`` (an acknowledged
commit survives power loss, not only a process crash), a 30 s busy timeout, and one
writer at a time, enforced in-process by :class:`Storage`'s write lock. PostgreSQL:
psycopg 3, a pooled engine with pre-ping; concurrency is left to the database.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

__all__ = [
    "BIGINT_MAX",
    "clamp",
    "create_engine",
    "durability_warnings",
    "greatest",
    "insert",
    "least",
    "normalize_url",
    "saturating_add",
]

_BUSY_TIMEOUT_MS = 30_000


def normalize_url(url: str) -> URL:
    """Parse a database URL, mapping bare ``postgresql://`` onto the psycopg 3 driver.

    Raises ``ValueError`` with an accepted-forms hint for anything else.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(
            f"not a database URL: {url!r} (accepted: sqlite:///path/to/file.db, "
            "postgresql+psycopg://user:password@host:port/dbname)"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise ValueError(
            f"unsupported database {parsed.drivername!r} (accepted: sqlite, postgresql+psycopg)"
        )
    if parsed.get_backend_name() == "sqlite" and not parsed.database:
        raise ValueError("an in-memory SQLite database cannot be shared: give a file path")
    return parsed


def create_engine(url: str) -> sa.Engine:
    """An engine for ``url`` with the per-database settings above.

    Creates the parent directory of a SQLite file. Raises ``ValueError`` for a bad URL.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return sa.create_engine(
        parsed, pool_pre_ping=True, pool_size=10, max_overflow=30, pool_timeout=10
    )


def _sqlite_engine(url: URL) -> sa.Engine:
    assert url.database is not None
    _create_private(Path(url.database).expanduser())
    # Enough pooled connections for every worker thread of the server (40 by default):
    # SQLite connections are cheap, and a request must never wait on the pool.
    engine = sa.create_engine(
        url,
        connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=10,
        max_overflow=40,
        pool_timeout=10,
    )

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.close()

    return engine


def _create_private(path: Path) -> None:
    """Create a missing database file 0600 in a missing directory 0700: sessions hold
    prompts and completions. SQLite gives its -wal and -shm files the database's mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def insert(dialect_name: str, table: sa.Table) -> Any:
    """``INSERT`` with the dialect's ``ON CONFLICT`` support (both spell it the same)."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def greatest(dialect_name: str, column: Any, value: Any) -> Any:
    """SQL for the later of ``column`` (may be NULL) and ``value`` (SQL, e.g. a bind parameter)."""
    func = sa.func.greatest if dialect_name == "postgresql" else sa.func.max
    return func(sa.func.coalesce(column, value), value)


def least(dialect_name: str, column: Any, value: Any) -> Any:
    """SQL for the earlier of ``column`` (may be NULL) and ``value``."""
    func = sa.func.least if dialect_name == "postgresql" else sa.func.min
    return func(sa.func.coalesce(column, value), value)


def epoch_us(dialect_name: str, column: Any) -> Any:
    """SQL for a timestamp column as whole microseconds since the Unix epoch (NULL stays
    NULL): reading 10,000 numbers is much cheaper than building 10,000 datetimes."""
    if dialect_name == "postgresql":
        return sa.cast(sa.extract("epoch", column) * 1_000_000, sa.BigInteger)
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" text (SQLAlchemy's format): whole seconds
    # by strftime, microseconds from the digits after the point (exact, unlike julianday).
    seconds = sa.cast(sa.func.strftime("%s", column), sa.BigInteger)
    micros = sa.cast(sa.func.substr(column, 21, 6), sa.BigInteger)
    return seconds * 1_000_000 + sa.func.coalesce(micros, 0)


BIGINT_MAX = 2**63 - 1


def saturating_add(dialect_name: str, column: Any, delta: Any) -> Any:
    """SQL for ``column + delta`` held within BIGINT (a counter past 2**63 - 1 stays there
    instead of failing every later write). PostgreSQL adds in ``numeric``; SQLite turns an
    overflowing integer sum into a float, which the bounds then bring back."""
    if dialect_name == "postgresql":
        total = sa.cast(column, sa.Numeric()) + delta
        bounded = sa.func.least(sa.func.greatest(total, -BIGINT_MAX), BIGINT_MAX)
        return sa.cast(bounded, sa.BigInteger())
    return sa.func.min(sa.func.max(column + delta, -BIGINT_MAX), BIGINT_MAX)


def clamp(value: int) -> int:
    """A Python sum as a value a BIGINT parameter can carry."""
    return max(-BIGINT_MAX, min(value, BIGINT_MAX))


def durability_warnings(engine: sa.Engine) -> list[str]:
    """Database settings under which an acknowledged batch could be lost in a crash.

    PostgreSQL with ``fsync=off`` can corrupt on an OS crash; ``synchronous_commit=off``
    acknowledges commits that a crash can still lose. SQLite is configured here already.
    """
    if engine.dialect.name != "postgresql":
        return []
    found = []
    with engine.connect() as conn:
        for name in ("fsync", "synchronous_commit"):
            if conn.exec_driver_sql(f"SHOW {name}").scalar_one() == "off":
                found.append(
                    f"PostgreSQL runs with {name}=off: acknowledged events may be lost in a crash"
                )
    return found
