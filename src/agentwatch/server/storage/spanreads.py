"""Read paths of the session drilldown: the tree's compact rows (no payloads), one event in
full, what changed since a cursor, and the LLM and tool steps that two sessions compare by.

``received_at`` is when the server last wrote an event (inserted, updated, or moved into the
session with its trace), so "changed since" is one range of it per session.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from agentwatch.server.storage.schema import events

__all__ = ["STEP_KINDS", "changed_rows", "event_row", "step_rows", "tree_rows"]

# The steps two sessions are compared by.
STEP_KINDS = ("llm", "tool")

_c = events.c
# What a tree row needs. ``data`` only for events stored before names were kept (their
# name is derived from it); every other row leaves its payload in the database.
_TREE_COLUMNS = (
    _c.id,
    _c.parent_id,
    _c.kind,
    _c.event_type,
    _c.name,
    _c.status,
    _c.init_timestamp,
    _c.end_timestamp,
    _c.agent_id,
    _c.model,
    _c.prompt_tokens,
    _c.completion_tokens,
    _c.cost_pico,
    _c.received_at,
    sa.case((_c.name.is_(None), _c.data), else_=sa.null()).label("data"),
)


def tree_rows(conn: sa.Connection, session_id: str, limit: int) -> list[sa.Row[Any]]:
    """The session's first ``limit`` events in time order, as compact rows."""
    query = (
        sa.select(*_TREE_COLUMNS)
        .where(_c.session_id == session_id)
        .order_by(_c.init_timestamp, _c.id)
        .limit(limit)
    )
    return list(conn.execute(query))


def changed_rows(
    conn: sa.Connection, session_id: str, after: tuple[dt.datetime, str], limit: int
) -> list[sa.Row[Any]]:
    """Compact rows of the events written after the keyset ``after`` = (received_at, id),
    in write order, at most ``limit``."""
    since, event_id = after
    query = (
        sa.select(*_TREE_COLUMNS)
        .where(
            _c.session_id == session_id,
            _c.received_at >= since,
            sa.or_(_c.received_at > since, _c.id > event_id),
        )
        .order_by(_c.received_at, _c.id)
        .limit(limit)
    )
    return list(conn.execute(query))


def event_row(conn: sa.Connection, session_id: str, event_id: str) -> sa.Row[Any] | None:
    """One event of the session, every column (its payload too), or None."""
    query = sa.select(events).where(_c.session_id == session_id, _c.id == event_id)
    return conn.execute(query).first()


def step_rows(conn: sa.Connection, session_id: str, limit: int) -> list[sa.Row[Any]]:
    """The session's first ``limit`` LLM and tool calls in time order, payloads included."""
    query = (
        sa.select(events)
        .where(_c.session_id == session_id, _c.kind.in_(STEP_KINDS))
        .order_by(_c.init_timestamp, _c.id)
        .limit(limit)
    )
    return list(conn.execute(query))
