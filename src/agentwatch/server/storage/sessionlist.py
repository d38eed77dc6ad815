"""The session list: one query (filters, sort, keyset page) for the JSON API and the dashboard.

Rows carry what a list shows and no more: the stored strings that can be large (the end
state reason, the tags' JSON) come cut at :data:`CLIP` characters, one more than a list
shows, so that a view can tell they were longer; the detail reads them whole.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from agentwatch.server.storage import engine as dialects
from agentwatch.server.storage import search
from agentwatch.server.storage.queries import readable_by
from agentwatch.server.storage.schema import agents, session_tags, sessions

__all__ = [
    "CLIP",
    "MAX_COUNTED",
    "SORTS",
    "ListOrder",
    "SessionFilter",
    "SessionPage",
    "by_prefix",
    "count_sessions",
    "duration_expr",
    "list_statement",
    "main_agents",
    "sort_expr",
]

# The sort keys of the list; ties are broken by id in the same direction (a keyset).
SORTS = ("time", "duration", "cost", "errors", "tokens")
MAX_COUNTED = 1_000  # matches of a text search counted exactly (``total``)
CLIP = 2001  # characters of a large stored string a list row carries (the view cuts at 2,000)
_LARGE = ("end_state_reason", "tags")
_LEFT_OUT = frozenset(("host_env", "video", "logs", "session_metadata"))


@dataclass(frozen=True)
class SessionFilter:
    """Filters of the session list; every given one must hold.

    Costs are pico-dollars, durations seconds; a range bound of None is open.
    """

    tags: Sequence[str] = field(default_factory=tuple)
    end_state: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    text: str | None = None
    models: Sequence[str] = field(default_factory=tuple)
    agents: Sequence[str] = field(default_factory=tuple)
    has_errors: bool | None = None
    cost_min: int | None = None
    cost_max: int | None = None
    duration_min: float | None = None
    duration_max: float | None = None
    user_id: str | None = None
    metadata: Sequence[tuple[str, str]] = field(default_factory=tuple)
    ids: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class ListOrder:
    """A sort key of :data:`SORTS` and its direction."""

    sort: str = "time"
    descending: bool = True

    @property
    def kind(self) -> str:
        """What a cursor of this order is made for (see :mod:`agentwatch.server.cursors`)."""
        return self.sort if self.descending else f"{self.sort}-asc"


@dataclass(frozen=True)
class SessionPage:
    """A page of list rows (one more than asked when more follow), their main agents
    ({session id: (name, how many agents)}) and how many sessions match in all (with a
    text search, at least: ``total_exact`` false past :data:`MAX_COUNTED`)."""

    rows: list[sa.Row[Any]]
    agents: dict[str, tuple[str | None, int]]
    total: int
    total_exact: bool = True


def duration_expr(dialect: str) -> sa.ColumnElement[Any]:
    """Seconds from start to end (or to the latest event while running)."""
    c = sessions.c
    last = sa.func.coalesce(c.end_timestamp, c.last_event_at, c.init_timestamp)
    if dialect == "sqlite":
        # A literal, not a bound parameter: SQLite matches the expression of an index
        # (migration 0009) only against the same expression, constants included.
        seconds = sa.literal_column("86400.0", sa.Float)
        return (sa.func.julianday(last) - sa.func.julianday(c.init_timestamp)) * seconds
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
    if sort == "tokens":
        # Saturating: both counters may stand at BIGINT's maximum (they saturate), and a
        # plain sum in the expression index would then refuse every write of the session.
        total: sa.ColumnElement[Any] = dialects.saturating_add(
            dialect, c.prompt_tokens, c.completion_tokens
        )
        return total
    return c.init_timestamp


def list_statement(
    conn: sa.Connection,
    project_id: str,
    where: SessionFilter,
    order: ListOrder,
    after: tuple[Any, str] | None,
    limit: int,
) -> sa.Select[Any]:
    """The sessions the project may read that match ``where``, in ``order``, strictly
    after the keyset ``after`` (sort key, id), at most ``limit``. Rows other than by time
    carry their key as ``sort_key``."""
    c = sessions.c
    dialect = conn.dialect.name
    key = sort_expr(order.sort, dialect)
    # Read in the order of an index of (project, key, id) (schema.py, migration 0009),
    # which readable_by keeps usable: a page stops after its rows, and a common word is
    # looked up per session read (search.matching).
    visible = readable_by(conn, project_id)
    query = _filtered(_columns(), visible, where, conn)
    few = _few_in_cost_range(conn, visible, where)
    if few is not None:
        query = query.where(c.id.in_(few))
    if order.sort != "time":
        query = query.add_columns(key.label("sort_key"))
    if after is not None:
        value, row_id = after
        beyond = (key < value, c.id < row_id) if order.descending else (key > value, c.id > row_id)
        query = query.where(sa.or_(beyond[0], sa.and_(key == value, beyond[1])))
    ordered = (key.desc(), c.id.desc()) if order.descending else (key.asc(), c.id.asc())
    return query.order_by(*ordered).limit(limit)


def _few_in_cost_range(
    conn: sa.Connection, visible: sa.ColumnElement[bool], where: SessionFilter
) -> sa.Select[Any] | None:
    """The sessions in ``where``'s cost range when they are few (counted in the cost
    index, up to :data:`MAX_COUNTED` + 1), for the list to read them by id and sort them:
    read in another order, a range few sessions are in is tested on every one."""
    c = sessions.c
    if where.cost_min is None and where.cost_max is None:
        return None
    bounds = [visible]
    if where.cost_min is not None:
        bounds.append(c.cost_pico >= where.cost_min)
    if where.cost_max is not None:
        bounds.append(c.cost_pico <= where.cost_max)
    in_range = sa.select(c.id).where(*bounds)
    limited = in_range.limit(MAX_COUNTED + 1).subquery()
    counted = conn.execute(sa.select(sa.func.count()).select_from(limited)).scalar_one()
    return in_range if counted <= MAX_COUNTED else None


def count_sessions(conn: sa.Connection, project_id: str, where: SessionFilter) -> tuple[int, bool]:
    """How many sessions the project may read match ``where``, and whether exactly: a
    text search counts to :data:`MAX_COUNTED` (counting every session a common word is
    in would read them all)."""
    matched = _filtered(sa.select(sessions.c.id), readable_by(conn, project_id), where, conn)
    if where.text:
        matched = matched.limit(MAX_COUNTED + 1)
    query = sa.select(sa.func.count()).select_from(matched.subquery())
    counted = int(conn.execute(query).scalar_one())
    if where.text and counted > MAX_COUNTED:
        return MAX_COUNTED, False
    return counted, True


def main_agents(
    conn: sa.Connection, session_ids: Sequence[str]
) -> dict[str, tuple[str | None, int]]:
    """Per session: the name of its first named agent (None: none named) and how many
    agents it has. One query over the agents' primary key."""
    if not session_ids:
        return {}
    a = agents.c
    rows = conn.execute(
        sa.select(a.session_id, a.name)
        .where(a.session_id.in_(sorted(set(session_ids))))
        .order_by(a.session_id, a.created_at, a.id)
    )
    found: dict[str, tuple[str | None, int]] = {}
    for session_id, name in rows:
        first, count = found.get(session_id, (None, 0))
        found[session_id] = (first or (name[:200] if name else None), count + 1)
    return found


def by_prefix(conn: sa.Connection, prefix: str, limit: int) -> list[sa.Row[Any]]:
    """Sessions whose id starts with ``prefix`` (lower-case hex and dashes, not empty),
    newest first. A range of the primary key (LIKE would not use it on SQLite)."""
    c = sessions.c
    beyond = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    query = (
        sa.select(c.id, c.project_id, c.init_timestamp, c.end_state)
        .where(c.id >= prefix, c.id < beyond)
        .order_by(c.init_timestamp.desc(), c.id)
        .limit(limit)
    )
    return list(conn.execute(query))


def _columns() -> sa.Select[Any]:
    c = sessions.c
    kept = [col for col in sessions.columns if col.name not in _LEFT_OUT.union(_LARGE)]
    clipped = [sa.func.substr(c[name], 1, CLIP).label(name) for name in _LARGE]
    return sa.select(*kept, *clipped)


def _filtered(
    query: sa.Select[Any],
    visible: sa.ColumnElement[bool],
    where: SessionFilter,
    conn: sa.Connection,
) -> sa.Select[Any]:
    """``query`` with the conditions of ``where``."""
    c = sessions.c
    dialect = conn.dialect.name
    query = query.where(visible)
    # One probe of the tags' primary key per tag (their number is bounded by listquery).
    for tag in where.tags:
        query = query.where(
            sa.exists().where(session_tags.c.session_id == c.id, session_tags.c.tag == tag)
        )
    conditions: list[sa.ColumnElement[bool]] = []
    if where.end_state is not None:
        conditions.append(c.end_state == where.end_state)
    if where.since is not None:
        conditions.append(c.init_timestamp >= where.since)
    if where.until is not None:
        conditions.append(c.init_timestamp < where.until)
    if where.ids:
        conditions.append(c.id.in_(list(where.ids)))
    if where.models:
        conditions.append(sa.or_(*(search.used_model(m) for m in where.models)))
    for name in where.agents:
        conditions.append(sa.exists().where(agents.c.session_id == c.id, agents.c.name == name))
    if where.has_errors is not None:
        conditions.append(c.errors > 0 if where.has_errors else c.errors == 0)
    if where.cost_min is not None:
        conditions.append(c.cost_pico >= where.cost_min)
    if where.cost_max is not None:
        conditions.append(c.cost_pico <= where.cost_max)
    duration = duration_expr(dialect)
    if where.duration_min is not None:
        conditions.append(duration >= where.duration_min)
    if where.duration_max is not None:
        conditions.append(duration <= where.duration_max)
    if where.user_id is not None:
        conditions.append(c.user_id == where.user_id)
    for key, value in where.metadata:
        conditions.append(search.has_metadata(key, value))
    if where.text:
        # Last: SQLite tests a row's conditions in this order, and the word's lookup costs
        # more than any other (a model and a cost range no session meets: 240 -> 60 ms).
        conditions.append(search.matching(conn, where.text, probed=True))
    return query.where(*conditions)
