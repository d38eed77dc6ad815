"""Read paths of the dashboard: a session by id alone, overview data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from agentwatch.server.storage.queries import visible_to
from agentwatch.server.storage.schema import events, sessions
from agentwatch.server.storage.sessionlist import duration_expr

__all__ = [
    "overview_days",
    "overview_durations",
    "session_project",
    "tokens_by_model",
]


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
