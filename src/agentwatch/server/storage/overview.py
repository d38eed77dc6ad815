"""Read paths of the dashboard: sorted session lists, a session by id alone, overview data
(from the rollups ingest keeps: ``storage/rollups.py``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from agentwatch.server.storage.queries import SessionFilter, _list_query, readable_by
from agentwatch.server.storage.rollups import HISTOGRAM
from agentwatch.server.storage.schema import (
    LLM_SUMS,
    SESSION_SUMS,
    rollup_llm,
    rollup_sessions,
    sessions,
)

__all__ = [
    "SORTS",
    "duration_expr",
    "list_sorted",
    "llm_series",
    "session_project",
    "session_series",
]

# Sort name -> column, always descending, ties broken by id descending (a keyset).
SORTS = ("time", "duration", "cost", "errors")


def duration_expr(dialect: str) -> sa.ColumnElement[Any]:
    """Seconds from start to end (or to the latest event while running)."""
    c = sessions.c
    last = sa.func.coalesce(c.end_timestamp, c.last_event_at, c.init_timestamp)
    if dialect == "sqlite":
        return (sa.func.julianday(last) - sa.func.julianday(c.init_timestamp)) * 86400.0
    # A float, not PostgreSQL's numeric: the value travels in a JSON cursor.
    return sa.cast(sa.extract("epoch", last - c.init_timestamp), sa.Float)


def sort_expr(sort: str, dialect: str) -> sa.ColumnElement[Any]:
    c = sessions.c
    if sort == "duration":
        return duration_expr(dialect)
    if sort == "cost":
        return c.cost_pico
    if sort == "errors":
        return c.errors
    return c.init_timestamp


def list_sorted(
    conn: sa.Connection,
    project_id: str,
    where: SessionFilter,
    sort: str,
    after: tuple[Any, str] | None,
    limit: int,
) -> list[sa.Row[Any]]:
    """Like :func:`queries.list_sessions`, ordered by ``sort`` descending, keyset ``after``."""
    if sort == "time":
        visible = readable_by(conn, project_id)
        return list(conn.execute(_list_query(project_id, where, after, limit, visible)))
    key = sort_expr(sort, conn.dialect.name)
    # No index orders by cost or duration, so every row is read anyway: the OR keeps the
    # planner on a sequential scan (~30 ms at 100,000) instead of 100,000 index probes
    # into the table through the project index (~230 ms).
    base = _list_query(project_id, where, None, limit).order_by(None)
    query = base.add_columns(key.label("sort_key"))
    if after is not None:
        value, session_id = after
        query = query.where(sa.or_(key < value, sa.and_(key == value, sessions.c.id < session_id)))
    return list(conn.execute(query.order_by(key.desc(), sessions.c.id.desc())))


def session_project(conn: sa.Connection, session_id: str) -> str | None:
    """The project a session belongs to (the dashboard may show every project)."""
    return conn.execute(
        sa.select(sessions.c.project_id).where(sessions.c.id == session_id)
    ).scalar_one_or_none()


def session_series(
    conn: sa.Connection, project_id: str, since: int, until: int, step: int, offset: int
) -> list[sa.Row[Any]]:
    """Per slot of ``step`` seconds (slots start ``offset`` seconds before UTC's, as a time
    zone's hours and days do): the ``rollup_sessions`` sums and duration histogram of the
    sessions the project may read that started in [since, until) (epoch seconds, bucket
    aligned). ``slot`` is the slot's number, its start ``slot * step - offset``."""
    return _series(conn, rollup_sessions, SESSION_SUMS, project_id, (since, until, step, offset))


def llm_series(
    conn: sa.Connection, project_id: str, since: int, until: int, step: int, offset: int
) -> list[sa.Row[Any]]:
    """As :func:`session_series`, per slot and model, from ``rollup_llm`` (by call start)."""
    return _series(conn, rollup_llm, LLM_SUMS, project_id, (since, until, step, offset))


def _series(
    conn: sa.Connection,
    table: sa.Table,
    sums: tuple[str, ...],
    project_id: str,
    window: tuple[int, int, int, int],
) -> list[sa.Row[Any]]:
    since, until, step, offset = window
    c = table.c
    slot = (c.bucket + sa.literal(offset, sa.BigInteger())) / sa.literal(step, sa.BigInteger())
    grouped = [slot.label("slot"), *([c.model] if "model" in c else [])]
    # SQLite's sum() fails past 2**63 (saturated counters added up); total() is a float,
    # exact below 2**53. PostgreSQL sums BIGINT into numeric.
    add = sa.func.total if conn.dialect.name == "sqlite" else sa.func.sum
    query = (
        sa.select(*grouped, *(add(c[n]).label(n) for n in (*sums, *HISTOGRAM)))
        .where(
            sa.or_(c.project_id == project_id, c.parent_project_id == project_id),
            c.bucket >= since,
            c.bucket < until,
        )
        .group_by(*grouped)
    )
    return list(conn.execute(query))
