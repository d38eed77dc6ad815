"""Read paths: what the JSON read API, the v2 stats/export routes and the dashboard show."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from agentwatch.server.storage.schema import agents, events, sessions

__all__ = [
    "project_totals",
    "readable_by",
    "session_agents",
    "session_events",
    "session_row",
    "visible_to",
]


def visible_to(project_id: str) -> sa.ColumnElement[bool]:
    """Sessions a project may read: its own, and those that named it as parent project
    (``X-Agentops-Parent-Key`` at creation). Only the owner may write."""
    return sa.or_(sessions.c.project_id == project_id, sessions.c.parent_project_id == project_id)


def session_row(
    conn: sa.Connection, project_id: str, session_id: str, *, as_reader: bool = False
) -> sa.Row[Any] | None:
    """The project's session, or None (also when it belongs to another project).

    ``as_reader`` also finds sessions that named ``project_id`` as their parent.
    """
    owned = visible_to(project_id) if as_reader else sessions.c.project_id == project_id
    return conn.execute(sa.select(sessions).where(sessions.c.id == session_id, owned)).first()


def readable_by(conn: sa.Connection, project_id: str) -> sa.ColumnElement[bool]:
    """:func:`visible_to`, reduced to ``project_id = ?`` when no session names the project
    as its parent (one probe of the parent index). The OR of both columns keeps the
    databases from reading sessions in index order: every page read and sorted the
    project's whole history (a full scan at 100,000 sessions)."""
    c = sessions.c
    has_children = conn.execute(
        sa.select(c.id).where(c.parent_project_id == project_id).limit(1)
    ).first()
    return visible_to(project_id) if has_children else c.project_id == project_id


def session_events(
    conn: sa.Connection,
    session_id: str,
    after: tuple[dt.datetime, str] | None = None,
    limit: int | None = None,
    types: tuple[str, ...] | None = None,
    other_than: tuple[str, ...] = (),
) -> list[sa.Row[Any]]:
    """The session's events in time order (ties broken by id, so the order is stable),
    strictly after the keyset ``after``, at most ``limit`` of them; only those of ``types``
    when given, and none of ``other_than``."""
    c = events.c
    query = sa.select(events).where(c.session_id == session_id)
    if types is not None:
        query = query.where(c.event_type.in_(types))
    if other_than:
        query = query.where(c.event_type.not_in(other_than))
    if after is not None:
        started, event_id = after
        query = query.where(
            sa.or_(
                c.init_timestamp > started, sa.and_(c.init_timestamp == started, c.id > event_id)
            )
        )
    return list(conn.execute(query.order_by(c.init_timestamp, c.id).limit(limit)))


def session_agents(conn: sa.Connection, session_id: str) -> list[sa.Row[Any]]:
    """Agents registered in the session through ``create_agent``."""
    return list(
        conn.execute(
            sa.select(agents)
            .where(agents.c.session_id == session_id)
            .order_by(agents.c.created_at, agents.c.id)
        )
    )


def project_totals(
    conn: sa.Connection, project_id: str, since: dt.datetime | None, until: dt.datetime | None
) -> dict[str, int]:
    """Totals over the sessions the project may read, started in [since, until)."""
    c = sessions.c
    query = sa.select(
        sa.func.count().label("sessions"),
        sa.func.coalesce(sa.func.sum(c.event_count), 0).label("events"),
        sa.func.coalesce(sa.func.sum(c.llms), 0).label("llms"),
        sa.func.coalesce(sa.func.sum(c.tools), 0).label("tools"),
        sa.func.coalesce(sa.func.sum(c.actions), 0).label("actions"),
        sa.func.coalesce(sa.func.sum(c.errors), 0).label("errors"),
        sa.func.coalesce(sa.func.sum(c.prompt_tokens), 0).label("prompt_tokens"),
        sa.func.coalesce(sa.func.sum(c.completion_tokens), 0).label("completion_tokens"),
        sa.func.coalesce(sa.func.sum(c.cached_tokens), 0).label("cached_tokens"),
        sa.func.coalesce(sa.func.sum(c.cost_pico), 0).label("cost_pico"),
        sa.func.coalesce(sa.func.sum(c.unpriced_llms), 0).label("unpriced_llms"),
    ).where(visible_to(project_id))
    if since is not None:
        query = query.where(c.init_timestamp >= since)
    if until is not None:
        query = query.where(c.init_timestamp < until)
    row = conn.execute(query).one()
    return {key: int(value) for key, value in row._mapping.items()}
