"""Read paths of the dashboard: a session by id alone, overview data (from the rollups
ingest keeps: ``storage/rollups.py``)."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa

from agentwatch.server.storage.rollups import HISTOGRAM
from agentwatch.server.storage.schema import (
    LLM_SUMS,
    SESSION_SUMS,
    rollup_llm,
    rollup_sessions,
    sessions,
)

__all__ = [
    "llm_series",
    "session_project",
    "session_series",
]


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
    query = _series_query(conn.dialect.name, table.name, sums)
    params = {"project": project_id, "since": since, "until": until, "step": step, "offset": offset}
    return list(conn.execute(query, params))


@functools.cache
def _series_query(dialect_name: str, table_name: str, sums: tuple[str, ...]) -> sa.Select[Any]:
    """Built once: a hundred aggregate columns cost more to build than to run."""
    table = rollup_llm if table_name == rollup_llm.name else rollup_sessions
    c = table.c
    number = sa.BigInteger()
    # //: integer division on both databases (SQLAlchemy 2 makes / a true division).
    slot = (c.bucket + sa.bindparam("offset", type_=number)) // sa.bindparam("step", type_=number)
    grouped = [slot.label("slot"), *([c.model] if "model" in c else [])]
    # SQLite's sum() fails past 2**63 (saturated counters added up); total() is a float,
    # exact below 2**53. PostgreSQL sums BIGINT into numeric. Histogram counts stay small.
    add = sa.func.total if dialect_name == "sqlite" else sa.func.sum
    project = sa.bindparam("project", type_=c.project_id.type)
    return (
        sa.select(
            *grouped,
            *(add(c[n]).label(n) for n in sums),
            *(sa.func.sum(c[n]).label(n) for n in HISTOGRAM),
        )
        .where(
            sa.or_(c.project_id == project, c.parent_project_id == project),
            c.bucket >= sa.bindparam("since", type_=number),
            c.bucket < sa.bindparam("until", type_=number),
        )
        .group_by(*grouped)
    )
