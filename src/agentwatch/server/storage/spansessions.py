"""Session fields that OpenTelemetry spans move, merged so that any arrival order gives
the same session (the rules: ``traces.py``), for all the sessions of a request at once."""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass

import sqlalchemy as sa

from agentwatch.server.storage import engine as dialects
from agentwatch.server.storage.ingest import (
    COUNTERS,
    SessionConflict,
    counter_deltas,
)
from agentwatch.server.storage.records import EventRecord
from agentwatch.server.storage.schema import session_tags, sessions

__all__ = ["SessionPatch", "merged_tags", "update_sessions"]


@dataclass(frozen=True)
class SessionPatch:
    """Session fields a request's spans give a session (merged as ``traces.py`` says)."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None
    end_state: str | None = None
    tags: tuple[str, ...] = ()
    user_id: str | None = None
    metadata: str | None = None
    external_id: str | None = None


def update_sessions(
    conn: sa.Connection,
    project_id: str,
    patches: dict[str, SessionPatch],
    inserted: dict[str, list[EventRecord]],
    now: dt.datetime,
) -> None:
    """Each session's counters moved by its inserted records, and its patch applied: one
    executemany of one compiled statement, whatever the number of sessions."""
    params = [
        {
            **counter_deltas(inserted.get(session_id, ()), ()),
            "w_session": session_id,
            "w_project": project_id,
            "now": now,
            "start": patch.start,
            "end": patch.end,
            "state": patch.end_state,
            "user_id": patch.user_id,
            "metadata": patch.metadata,
            "external_id": patch.external_id,
        }
        for session_id, patch in sorted(patches.items())
    ]
    if conn.execute(_session_update(conn.dialect.name), params).rowcount != len(params):
        raise SessionConflict(", ".join(sorted(patches)))  # gone meanwhile: retry
    for session_id, patch in sorted(patches.items()):
        if patch.tags:
            tags = merged_tags(conn, project_id, session_id, patch.tags)
            conn.execute(sessions.update().where(sessions.c.id == session_id).values(tags=tags))


@functools.cache
def _session_update(dialect_name: str) -> sa.Update:
    """The UPDATE of :func:`_update_sessions`, compiled once: a NULL parameter changes
    nothing, a zero moves no counter."""
    c = sessions.c
    start = sa.bindparam("start", type_=c.init_timestamp.type)
    end = sa.bindparam("end", type_=c.end_timestamp.type)
    latest = sa.bindparam("latest", type_=c.last_event_at.type)
    state = sa.bindparam("state", type_=c.end_state.type)
    counters = {
        name: dialects.saturating_add(
            dialect_name, c[name], sa.bindparam(f"d_{name}", type_=sa.BigInteger())
        )
        for name in COUNTERS
    }
    return (
        sessions.update()
        .where(c.id == sa.bindparam("w_session"), c.project_id == sa.bindparam("w_project"))
        .values(
            {
                **counters,
                "last_event_at": sa.case(
                    (latest.is_(None), c.last_event_at),
                    else_=dialects.greatest(dialect_name, c.last_event_at, latest),
                ),
                "updated_at": sa.bindparam("now", type_=c.updated_at.type),
                "init_timestamp": sa.case(
                    (start.is_(None), c.init_timestamp),
                    else_=dialects.least(dialect_name, c.init_timestamp, start),
                ),
                "end_timestamp": sa.case(
                    (end.is_(None), c.end_timestamp),
                    else_=dialects.greatest(dialect_name, c.end_timestamp, end),
                ),
                # Fail wins over Success, which wins over no end state: any order, one result.
                "end_state": sa.case(
                    (state == "Fail", "Fail"),
                    (sa.and_(state == "Success", c.end_state != "Fail"), "Success"),
                    else_=c.end_state,
                ),
                "user_id": sa.func.coalesce(
                    c.user_id, sa.bindparam("user_id", type_=c.user_id.type)
                ),
                "session_metadata": sa.func.coalesce(
                    c.session_metadata, sa.bindparam("metadata", type_=c.session_metadata.type)
                ),
                "external_id": sa.func.coalesce(
                    c.external_id, sa.bindparam("external_id", type_=c.external_id.type)
                ),
            }
        )
    )


def merged_tags(
    conn: sa.Connection, project_id: str, session_id: str, tags: tuple[str, ...]
) -> str:
    stored = conn.execute(
        sa.select(sessions.c.tags).where(sessions.c.id == session_id)
    ).scalar_one()
    merged = list(dict.fromkeys([*json.loads(stored), *tags]))
    stmt = dialects.insert(conn.dialect.name, session_tags).values(
        [{"session_id": session_id, "tag": t, "project_id": project_id} for t in tags]
    )
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["session_id", "tag"]))
    return json.dumps(merged)
