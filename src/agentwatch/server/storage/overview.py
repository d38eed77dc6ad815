"""Read paths of the dashboard: sorted session lists, a session by id alone, overview data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from agentwatch.server.storage.queries import SessionFilter, _list_query, readable_by, visible_to
from agentwatch.server.storage.schema import events, sessions

__all__ = [
    "SORTS",
    "duration_expr",
    "list_sorted",
    "overview_days",
    "overview_durations",
    "session_project",
    "tokens_by_model",
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


def day_expr(dialect: str) -> sa.ColumnElement[Any]:
    """The UTC day a session started (stored timestamps are naive UTC)."""
    c = sessions.c
    if dialect == "sqlite":
        return sa.func.date(c.init_timestamp)
    return sa.cast(c.init_timestamp, sa.Date)


def overview_days(
    conn: sa.Connection, project_id: str, since: dt.datetime, until: dt.datetime
) -> list[sa.Row[Any]]:
    """Per (day, end state): sessions, sessions with errors, cost. Grouped in the database:
    fetching every session of a busy range into Python cost seconds at 100,000."""
    c = sessions.c
    day = day_expr(conn.dialect.name).label("day")
    query = (
        sa.select(
            day,
            c.end_state,
            sa.func.count().label("sessions"),
            sa.func.sum(sa.case((c.errors > 0, 1), else_=0)).label("errored"),
            sa.func.coalesce(sa.func.sum(c.cost_pico), 0).label("cost_pico"),
        )
        .where(visible_to(project_id), c.init_timestamp >= since, c.init_timestamp < until)
        .group_by(day, c.end_state)
    )
    return list(conn.execute(query))


def overview_durations(
    conn: sa.Connection, project_id: str, since: dt.datetime, until: dt.datetime
) -> list[sa.Row[Any]]:
    """(day, seconds) of every session in the range, for the percentiles: two plain
    values a row, which neither database can reduce to p50/p95 portably."""
    c = sessions.c
    query = sa.select(
        day_expr(conn.dialect.name).label("day"), duration_expr(conn.dialect.name).label("s")
    ).where(visible_to(project_id), c.init_timestamp >= since, c.init_timestamp < until)
    return list(conn.execute(query))


def tokens_by_model(
    conn: sa.Connection, project_id: str, since: dt.datetime, until: dt.datetime
) -> list[sa.Row[Any]]:
    c = events.c
    query = (
        sa.select(
            c.model,
            sa.func.coalesce(sa.func.sum(c.prompt_tokens), 0).label("prompt"),
            sa.func.coalesce(sa.func.sum(c.completion_tokens), 0).label("completion"),
            sa.func.count().label("calls"),
            sa.func.coalesce(sa.func.sum(c.cost_pico), 0).label("cost_pico"),
            sa.func.count().filter(c.cost_pico.is_(None)).label("unpriced"),
        )
        .where(
            c.project_id == project_id,
            c.event_type == "llms",
            c.init_timestamp >= since,
            c.init_timestamp < until,
        )
        .group_by(c.model)
        .order_by(sa.desc("prompt"))
    )
    return list(conn.execute(query))
