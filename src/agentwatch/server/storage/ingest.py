"""Write paths: sessions, events and their counters, agents, threads, developer errors.

Every function takes an open connection inside the caller's transaction, so that a
``create_events`` batch and its counter updates commit (or roll back) together.
Counters are bumped with ``SET x = x + :n`` computed from the rows actually inserted
(``INSERT ... ON CONFLICT DO NOTHING RETURNING id``), which keeps them exact under
concurrent batches and retried duplicates on both databases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from agentwatch.server.errors import NotFound, ServiceUnavailable
from agentwatch.server.storage import bulk, rollups, search, tenancy
from agentwatch.server.storage import engine as dialects
from agentwatch.server.storage.bulk import BulkInsert
from agentwatch.server.storage.records import EventRecord, SessionFields
from agentwatch.server.storage.schema import (
    COUNTER_KINDS,
    agents,
    developer_errors,
    events,
    session_tags,
    sessions,
    threads,
)

__all__ = [
    "COUNTERS",
    "PreparedEvents",
    "SessionConflict",
    "UnknownSession",
    "add_to_counters",
    "counter_deltas",
    "counter_of",
    "create_or_attach_session",
    "event_row",
    "event_values",
    "insert_events",
    "insert_prepared",
    "prepare_events",
    "record_developer_error",
    "require_session",
    "stored_record",
    "update_events",
    "update_session",
    "upsert_agent",
    "upsert_thread",
]


class SessionConflict(ServiceUnavailable):
    """A session this write meant to create was created by another project meanwhile: a
    race the client's retry sorts out (503)."""

    def __init__(self, session_ids: str) -> None:
        super().__init__(f"a session was being created by another request, retry ({session_ids})")


class UnknownSession(NotFound):
    """No session with this id in this project (404, the same for another project's)."""

    def __init__(self, session_id: str) -> None:
        super().__init__("unknown session")
        self.session_id = session_id


def require_session(conn: sa.Connection, project_id: str, session_id: str) -> None:
    """Raise :class:`UnknownSession` unless the project has the session."""
    found = conn.execute(
        sa.select(sessions.c.id).where(
            sessions.c.id == session_id, sessions.c.project_id == project_id
        )
    ).first()
    if found is None:
        raise UnknownSession(session_id)


def create_or_attach_session(
    conn: sa.Connection,
    project_id: str,
    parent_project_id: str | None,
    fields: SessionFields,
    now: dt.datetime,
    _shadows: int = 0,
) -> bool:
    """Create the session, or re-attach to it if this project already has it.

    Returns True when created. An id another project has is taken as the project's shadow
    of it (:mod:`.tenancy`): the same answers as for a fresh id. Re-attaching keeps the
    stored start time and counters.
    """
    values = {
        "id": fields.session_id,
        "project_id": project_id,
        "parent_project_id": parent_project_id,
        "init_timestamp": fields.init_timestamp or now,
        "created_at": now,
        "updated_at": now,
        **_session_values(fields),
    }
    stmt = dialects.insert(conn.dialect.name, sessions).values(values)
    stmt = stmt.on_conflict_do_nothing(index_elements=["id"]).returning(sessions.c.id)
    created = conn.execute(stmt).first() is not None
    if not created:
        owner = conn.execute(
            sa.select(sessions.c.project_id).where(sessions.c.id == fields.session_id)
        ).scalar_one()
        if owner != project_id:
            if _shadows:  # a third project took the shadow's own id (it had to know ours)
                raise SessionConflict(fields.session_id)
            shadow = tenancy.shadow_id(project_id, fields.session_id)
            shadowed = dataclasses.replace(fields, session_id=shadow)
            return create_or_attach_session(
                conn, project_id, parent_project_id, shadowed, now, _shadows + 1
            )
        # Re-attaching (agentops' inherited_session_id) keeps the start time, counters and
        # end state; it takes the new tags and host environment.
        attach = {k: v for k, v in _session_values(fields).items() if k in ("tags", "host_env")}
        conn.execute(
            sessions.update()
            .where(sessions.c.id == fields.session_id)
            .values(**attach, updated_at=now)
        )
    if fields.tags is not None:
        _replace_tags(conn, project_id, fields.session_id, fields.tags)
    search.index(conn, sessions_changed=(fields.session_id,))
    rollups.written(conn, project_id, {fields.session_id: ((), ())})
    return created


def update_session(
    conn: sa.Connection, project_id: str, fields: SessionFields, now: dt.datetime
) -> bool:
    """Apply the given fields to the project's session. Returns False if there is no such session."""
    values = {**_session_values(fields), "updated_at": now}
    if fields.init_timestamp is not None:
        # The earliest start wins: a re-attached session's later process sends its own.
        start = sa.literal(fields.init_timestamp, sessions.c.init_timestamp.type)
        values["init_timestamp"] = dialects.least(
            conn.dialect.name, sessions.c.init_timestamp, start
        )
    if fields.end_state is not None and fields.end_state_reason is None:
        # A reason belongs to the end state it came with; a new state without one clears it.
        values["end_state_reason"] = None
    if fields.end_state in ("Success", "Fail") and fields.end_timestamp is None:
        # An end state without an end time (some SDKs) still ends the session: now.
        values["end_timestamp"] = sa.func.coalesce(
            sessions.c.end_timestamp, sa.literal(now, sessions.c.end_timestamp.type)
        )
    result = conn.execute(
        sessions.update()
        .where(sessions.c.id == fields.session_id, sessions.c.project_id == project_id)
        .values(values)
    )
    if result.rowcount != 1:
        return False
    if fields.tags is not None:
        _replace_tags(conn, project_id, fields.session_id, fields.tags)
    search.index(conn, sessions_changed=(fields.session_id,))
    rollups.written(conn, project_id, {fields.session_id: ((), ())})
    return True


def _session_values(fields: SessionFields) -> dict[str, Any]:
    values: dict[str, Any] = {
        "end_timestamp": fields.end_timestamp,
        "end_state": fields.end_state,
        "end_state_reason": fields.end_state_reason,
        "tags": None if fields.tags is None else json.dumps(list(fields.tags)),
        "host_env": fields.host_env,
        "video": fields.video,
        "dropped_events": fields.dropped_events,
    }
    return {key: value for key, value in values.items() if value is not None}


def _replace_tags(
    conn: sa.Connection, project_id: str, session_id: str, tags: Iterable[str]
) -> None:
    conn.execute(session_tags.delete().where(session_tags.c.session_id == session_id))
    rows = [
        {"session_id": session_id, "tag": t, "project_id": project_id} for t in dict.fromkeys(tags)
    ]
    if rows:
        conn.execute(session_tags.insert(), rows)


@dataclass(frozen=True)
class PreparedEvents:
    """A ``create_events`` batch ready to write, from :func:`prepare_events`."""

    project_id: str
    session_id: str
    records: tuple[EventRecord, ...]  # one per id (the first sent), in id order
    insert: BulkInsert
    words: search.Extracted  # the records' text, for the search index


def prepare_events(
    dialect: Dialect,
    project_id: str,
    session_id: str,
    records: Sequence[EventRecord],
    now: dt.datetime,
) -> PreparedEvents:
    """Everything :func:`insert_prepared` needs that does not need the database.

    Repeated ids within the batch are dropped (first wins). Rows are sorted by id so that
    concurrent batches sharing ids take their row locks in one order (no deadlock).
    """
    unique = sorted({r.id: r for r in reversed(records)}.values(), key=lambda r: r.id)
    bound = bulk.bind_values(
        dialect, events, [event_values(r, project_id, session_id, now) for r in unique]
    )
    insert = bulk.insert_bound(dialect, events, bound, ("session_id", "id"), "id")
    return PreparedEvents(project_id, session_id, tuple(unique), insert, search.extract(unique))


def insert_prepared(conn: sa.Connection, batch: PreparedEvents) -> int:
    """Store the events not stored yet and add them to the session's counters.

    Returns how many were new; ids already stored (a retried batch) are skipped. Raises
    :class:`UnknownSession` (roll the transaction back) when the project has no such session.
    """
    new = _insert_new(conn, batch)
    if new:
        rollups.written(conn, batch.project_id, {batch.session_id: (new, ())})
    return len(new)


def _insert_new(conn: sa.Connection, batch: PreparedEvents) -> list[EventRecord]:
    """Insert the batch's events not stored yet and count them; returns those."""
    inserted = set(batch.insert.execute(conn))
    new = [r for r in batch.records if r.id in inserted]
    if not new:
        require_session(conn, batch.project_id, batch.session_id)
        return []
    add_to_counters(conn, batch.project_id, batch.session_id, new, [])
    search.index(conn, events={batch.session_id: new}, extracted=batch.words)
    return new


def insert_events(
    conn: sa.Connection,
    project_id: str,
    session_id: str,
    records: Sequence[EventRecord],
    now: dt.datetime,
) -> int:
    """:func:`prepare_events` and :func:`insert_prepared` in one step."""
    return insert_prepared(conn, prepare_events(conn.dialect, project_id, session_id, records, now))


def update_events(
    conn: sa.Connection,
    project_id: str,
    session_id: str,
    records: Sequence[EventRecord],
    now: dt.datetime,
    renormalize: Callable[[dict[str, Any]], EventRecord],
) -> int:
    """Merge each event's fields over the stored event with its id; unknown ids are inserted.

    ``renormalize`` turns the merged JSON back into a record (re-pricing it if the model
    or tokens changed). Counters move by the difference. Returns the number of events touched.
    """
    fresh: list[EventRecord] = []
    added: list[EventRecord] = []
    removed: list[EventRecord] = []
    for record in sorted(records, key=lambda r: r.id):
        old = _lock_event(conn, session_id, record.id)
        if old is None:
            fresh.append(record)
            continue
        merged = renormalize({**json.loads(old.data), **record.data})
        # received_at moves too: it is when the event was last written (what changed since
        # a cursor is read by it).
        row = event_row(merged, project_id, session_id, now)
        conn.execute(
            events.update()
            .where(events.c.session_id == session_id, events.c.id == record.id)
            .values(row)
        )
        added.append(merged)
        removed.append(stored_record(old))
        add_to_counters(conn, project_id, session_id, [merged], [removed[-1]])
    if added:
        search.index(conn, replaced={session_id: added})
    new = _insert_new(conn, prepare_events(conn.dialect, project_id, session_id, fresh, now))
    rollups.written(conn, project_id, {session_id: ([*added, *new], removed)})
    return len(records) - len(fresh) + len(new)


def _lock_event(conn: sa.Connection, session_id: str, event_id: str) -> sa.Row[Any] | None:
    query = sa.select(events).where(events.c.session_id == session_id, events.c.id == event_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).first()


def stored_record(row: sa.Row[Any]) -> EventRecord:
    """A stored event (any row of its typed columns) as a record, without its JSON."""
    return EventRecord(
        id=row.id,
        event_type=row.event_type,
        counter=counter_of(row.event_type),
        init_timestamp=row.init_timestamp,
        end_timestamp=row.end_timestamp,
        agent_id=row.agent_id,
        thread_id=row.thread_id,
        model=row.model,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cached_tokens=row.cached_tokens,
        cost_pico=row.cost_pico,
        trigger_event_id=row.trigger_event_id,
        trigger_event_type=row.trigger_event_type,
        data={},
        kind=row.kind,
        parent_id=row.parent_id,
        trace_id=row.trace_id,
        name=row.name,
        status=row.status,
    )


def _bigint(value: int | None) -> int | None:
    # A count or cost past BIGINT (2**62 tokens priced) is kept at its bound, as sums are.
    return None if value is None else dialects.clamp(value)


def counter_of(event_type: str) -> str:
    """The session counter an event of ``event_type`` adds to."""
    return event_type if event_type in COUNTER_KINDS else "other"


def event_values(
    r: EventRecord, project_id: str, session_id: str, now: dt.datetime
) -> tuple[Any, ...]:
    """The ``events`` row of ``r`` in ``session_id`` in the table's column order (its JSON
    document encoded): what :func:`bulk.bind_values` takes, without a mapping per row."""
    return (
        session_id,
        r.id,
        project_id,
        r.event_type,
        r.init_timestamp,
        r.end_timestamp,
        r.agent_id,
        r.thread_id,
        r.model,
        _bigint(r.prompt_tokens),
        _bigint(r.completion_tokens),
        _bigint(r.cached_tokens),
        _bigint(r.cost_pico),
        r.trigger_event_id,
        r.trigger_event_type,
        dump_json(r.data),
        now,
        r.parent_id,
        r.trace_id,
        r.kind,
        r.name,
        r.status,
    )


EVENT_COLUMNS = tuple(events.c.keys())


def event_row(r: EventRecord, project_id: str, session_id: str, now: dt.datetime) -> dict[str, Any]:
    """The ``events`` row of ``r`` in ``session_id``, by column name."""
    return dict(zip(EVENT_COLUMNS, event_values(r, project_id, session_id, now), strict=True))


def add_to_counters(
    conn: sa.Connection,
    project_id: str,
    session_id: str,
    added: Sequence[EventRecord],
    removed: Sequence[EventRecord],
) -> None:
    """Move the session's counters by ``added`` minus ``removed`` (``added`` is not empty).

    Raises :class:`UnknownSession` when the project has no such session.
    """
    params = {**counter_deltas(added, removed), "w_session": session_id, "w_project": project_id}
    if conn.execute(_counters_update(conn.dialect.name), params).rowcount != 1:
        raise UnknownSession(session_id)


COUNTERS = (
    "event_count",
    *COUNTER_KINDS,
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cost_pico",
    "unpriced_llms",
)


def counter_deltas(added: Sequence[EventRecord], removed: Sequence[EventRecord]) -> dict[str, Any]:
    """Bind parameters of :data:`COUNTERS` moves (``d_<counter>``) and ``latest``, the latest
    time of ``added`` (None when it is empty)."""
    deltas: dict[str, Any] = dict.fromkeys(_DELTA_KEYS, 0)
    deltas["d_event_count"] = len(added) - len(removed)
    for records, sign in ((added, 1), (removed, -1)):
        for r in records:  # one pass: this runs for every session of every batch
            counter = _COUNTER_KEYS.get(r.counter)
            if counter is not None:
                deltas[counter] += sign
            deltas["d_prompt_tokens"] += sign * (r.prompt_tokens or 0)
            deltas["d_completion_tokens"] += sign * (r.completion_tokens or 0)
            deltas["d_cached_tokens"] += sign * (r.cached_tokens or 0)
            deltas["d_cost_pico"] += sign * (r.cost_pico or 0)
            if r.counter == "llms" and r.cost_pico is None:
                deltas["d_unpriced_llms"] += sign
    deltas = {key: dialects.clamp(value) for key, value in deltas.items()}
    deltas["latest"] = max((r.end_timestamp or r.init_timestamp for r in added), default=None)
    return deltas


_COUNTER_KEYS = {kind: f"d_{kind}" for kind in COUNTER_KINDS}
_DELTA_KEYS = tuple(f"d_{name}" for name in COUNTERS)


@functools.cache
def _counters_update(dialect_name: str) -> sa.Update:
    # One statement for every batch: compiled once, then found in SQLAlchemy's cache.
    c = sessions.c
    latest = sa.bindparam("latest", type_=c.last_event_at.type)
    return (
        sessions.update()
        .where(c.id == sa.bindparam("w_session"), c.project_id == sa.bindparam("w_project"))
        .values(
            {
                **{
                    name: dialects.saturating_add(
                        dialect_name, c[name], sa.bindparam(f"d_{name}", type_=sa.BigInteger())
                    )
                    for name in COUNTERS
                },
                "last_event_at": dialects.greatest(dialect_name, c.last_event_at, latest),
            }
        )
    )


def upsert_agent(
    conn: sa.Connection,
    session_id: str,
    agent_id: str,
    name: str | None,
    logs: str | None,
    now: dt.datetime,
) -> None:
    """Create or rename the session's agent ``agent_id``."""
    stmt = dialects.insert(conn.dialect.name, agents).values(
        session_id=session_id, id=agent_id, name=name, logs=logs, created_at=now
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["session_id", "id"],
            set_={
                "name": stmt.excluded.name,
                "logs": sa.func.coalesce(stmt.excluded.logs, agents.c.logs),
            },
        )
    )
    search.index(conn, sessions_changed=(session_id,))


def upsert_thread(
    conn: sa.Connection, session_id: str, thread_id: str, agent_id: str | None, now: dt.datetime
) -> None:
    """Create the session's thread ``thread_id`` or update its agent."""
    stmt = dialects.insert(conn.dialect.name, threads).values(
        session_id=session_id, id=thread_id, agent_id=agent_id, created_at=now
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["session_id", "id"], set_={"agent_id": stmt.excluded.agent_id}
        )
    )


def record_developer_error(
    conn: sa.Connection, project_id: str, values: dict[str, Any], now: dt.datetime
) -> None:
    """Store an SDK's report about its own failure."""
    conn.execute(developer_errors.insert().values(project_id=project_id, created_at=now, **values))


# Built once: json.dumps with options builds a JSONEncoder per call, a tenth of its cost on an
# event. encode() itself keeps no state between calls, so threads may share it.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dump_json(value: Any) -> str:
    """Compact JSON text; NaN and infinities (which Python's parser lets in) become strings.

    Non-finite numbers must come as float subclasses, as ``jsonbody.loads`` parses them: orjson
    (12x faster than the stdlib here) hands those to ``default`` but writes a plain float
    NaN as null. What orjson refuses (ints beyond 64 bits, lone surrogates) the stdlib writes.
    """
    try:
        return orjson.dumps(value, default=_non_finite_text).decode()
    except orjson.JSONEncodeError:
        return _ENCODE.encode(_finite(value))


def _non_finite_text(value: Any) -> Any:
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
