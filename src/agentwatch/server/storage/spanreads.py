"""Read paths of the session drilldown: the tree's compact rows (no payloads), one event in
full, what changed since a cursor, and the LLM and tool steps that two sessions compare by.

``received_at`` is when the server last wrote an event (inserted, updated, or moved into the
session with its trace), so "changed since" is one range of it per session.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from agentwatch.server.storage import engine as dialects
from agentwatch.server.storage.schema import events

__all__ = [
    "STEP_KINDS",
    "TREE_FIELDS",
    "changed_rows",
    "event_row",
    "step_rows",
    "tree_columns",
    "tree_rows",
]

# The steps two sessions are compared by.
STEP_KINDS = ("llm", "tool")

_c = events.c


def tree_columns(dialect_name: str) -> tuple[Any, ...]:
    """What a tree row needs, in the order of :data:`TREE_FIELDS`: times as microseconds
    since the epoch (``start_us``, ``end_us``); ``data`` only for events stored before
    names were kept (their name is derived from it); every other payload stays put."""
    return (
        _c.id,
        _c.parent_id,
        _c.kind,
        _c.event_type,
        _c.name,
        _c.status,
        dialects.epoch_us(dialect_name, _c.init_timestamp).label("start_us"),
        dialects.epoch_us(dialect_name, _c.end_timestamp).label("end_us"),
        _c.agent_id,
        _c.model,
        _c.prompt_tokens,
        _c.completion_tokens,
        _c.cost_pico,
        sa.case((_c.name.is_(None), _c.data), else_=sa.null()).label("data"),
    )


TREE_FIELDS = (
    "id",
    "parent_id",
    "kind",
    "event_type",
    "name",
    "status",
    "start_us",
    "end_us",
    "agent_id",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cost_pico",
    "data",
)


def tree_rows(conn: sa.Connection, session_id: str, limit: int) -> list[tuple[Any, ...]]:
    """The session's first ``limit`` events in time order, as tuples of :data:`TREE_FIELDS`."""
    query = (
        sa.select(*tree_columns(conn.dialect.name))
        .where(_c.session_id == session_id)
        .order_by(_c.init_timestamp, _c.id)
        .limit(limit)
    )
    return [tuple(row) for row in conn.execute(query)]


def changed_rows(
    conn: sa.Connection, session_id: str, after: tuple[dt.datetime, str], limit: int
) -> list[tuple[Any, ...]]:
    """The events written after the keyset ``after`` = (received_at, id), in write order,
    at most ``limit``: tuples of :data:`TREE_FIELDS` and then their ``received_at``."""
    since, event_id = after
    query = (
        sa.select(*tree_columns(conn.dialect.name), _c.received_at)
        .where(
            _c.session_id == session_id,
            _c.received_at >= since,
            sa.or_(_c.received_at > since, _c.id > event_id),
        )
        .order_by(_c.received_at, _c.id)
        .limit(limit)
    )
    return [tuple(row) for row in conn.execute(query)]


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
