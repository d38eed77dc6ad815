"""OpenTelemetry spans into sessions, one transaction per request.

Which session a span goes to (the ``traces`` table remembers it per project and trace):

1. A trace already mapped keeps its session: every span of a trace lands in one session,
   whatever order the spans arrive in and however many requests bring them.
2. A new trace goes to the session its first span that names one names (``session.id``,
   else ``gen_ai.conversation.id``: :attr:`SpanWrite.named_session`), else to a session of
   its own derived from the trace id (:attr:`SpanWrite.trace_session`).
3. A trace mapped to its own derived session whose span now names a session (a child
   carrying ``session.id`` arrived after its root) moves there: its spans and agents move,
   the destination's counters and models move by the spans it gains (never a recount of
   it: a long conversation gains a trace per turn), what the derived session knew (tags,
   end state, user, logs) is merged over, and the derived session is deleted (recounted
   instead, should it still hold other traces).
4. A span naming a session of another project goes to this project's shadow of that id
   (:mod:`.tenancy`), as v2's ``create_session`` does: nothing of the other session is
   read or written, and the answer is a fresh id's.

A span is stored once per (trace, span id): the same span sent twice (a retry, or a
duplicate from another request) lands in the same session and is skipped there; the
counters move by what was inserted only. Session fields from spans are merged so that
any arrival order gives the same session: the start is the earliest span, the end the
latest root span's end, ``Fail`` wins over ``Success`` wins over no end state, tags are a
union, the first user and metadata stay.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from agentwatch.server.storage import bulk, rollups, search
from agentwatch.server.storage import engine as dialects
from agentwatch.server.storage.ingest import (
    SessionConflict,
    add_to_counters,
    event_values,
    stored_record,
)
from agentwatch.server.storage.records import EventRecord, SpanOutcome, SpanWrite
from agentwatch.server.storage.schema import (
    COUNTER_KINDS,
    agents,
    events,
    session_tags,
    sessions,
    traces,
)
from agentwatch.server.storage.spansessions import SessionPatch, update_sessions
from agentwatch.server.storage.tenancy import shadow_id

__all__ = ["PreparedSpans", "prepare_spans", "set_trace_logs", "store_spans"]

_CHUNK = 500  # ids per IN (...): well under SQLite's parameter limit


@dataclass(frozen=True)
class PreparedSpans:
    """Spans with their rows encoded and bound, from :func:`prepare_spans` (no database
    needed): under the write lock only the session ids go in."""

    project_id: str
    writes: tuple[SpanWrite, ...]
    rows: tuple[tuple[bulk.Row, ...], ...]  # per write, its records' bound rows
    dialect: Dialect
    words: search.Extracted  # the records' text, for the search index


def prepare_spans(
    dialect: Dialect, project_id: str, writes: Sequence[SpanWrite], now: dt.datetime
) -> PreparedSpans:
    """Encode and bind every record's row before any lock is taken; the session of each
    row is filled in later (:func:`_insert_events`)."""
    records = [r for w in writes for r in w.records]
    bound = iter(
        bulk.bind_values(dialect, events, [event_values(r, project_id, "", now) for r in records])
    )
    rows = tuple(tuple(next(bound) for _ in w.records) for w in writes)
    return PreparedSpans(project_id, tuple(writes), rows, dialect, search.extract(records))


def store_spans(conn: sa.Connection, batch: PreparedSpans, now: dt.datetime) -> SpanOutcome:
    """Store the batch in ``conn``'s transaction by the rules of this module.

    Raises :class:`SessionConflict` (roll back and retry) when a session this batch
    decided to create was created by another project at the same moment.
    """
    project_id, writes = batch.project_id, batch.writes
    # Only a UUID a span gives as is can name another project's session; a name derived
    # from this project's id cannot (and _ensure_sessions checks every session it uses).
    given = {w.named_session for w in writes if w.named_session and w.external_id is None}
    foreign = _foreign(conn, project_id, given)
    if foreign:
        # Another project's id: this project's own session under its shadow id, as v2's
        # create_session does (tenancy.py): the answer is a fresh id's, theirs untouched.
        writes = tuple(
            w._replace(named_session=shadow_id(project_id, w.named_session))
            if w.named_session in foreign
            else w
            for w in writes
        )
        batch = dataclasses.replace(batch, writes=writes)
    kept = list(range(len(writes)))
    if not kept:
        return SpanOutcome(0, 0, (), ())
    proposals = _proposals(writes[i] for i in kept)
    mapped = _map_traces(conn, project_id, proposals, now)
    moves = _moves(proposals, mapped)
    final = {trace_id: session_id for trace_id, (session_id, _) in mapped.items()}
    final.update({trace_id: new for trace_id, (_, new) in moves.items()})
    _ensure_sessions(conn, project_id, [writes[i] for i in kept], final, proposals, now)
    changes: dict[str, tuple[list[EventRecord], list[EventRecord]]] = {}
    for trace_id, (old, new) in sorted(moves.items()):
        left, arrived = _move_trace(conn, project_id, trace_id, old, new, now)
        changes.setdefault(old, ([], []))[1].extend(left)
        changes.setdefault(new, ([], []))[0].extend(arrived)
    inserted = _insert_events(conn, batch, kept, final)
    by_session: dict[str, list[SpanWrite]] = {}
    for i in kept:
        by_session.setdefault(final[writes[i].trace_id], []).append(writes[i])
    patches = {session_id: _patch_of(group) for session_id, group in by_session.items()}
    update_sessions(conn, project_id, patches, inserted, now)
    _upsert_agents(conn, by_session, now)
    search.index(
        conn,
        events=inserted,
        sessions_changed=by_session,
        log_traces=(project_id, (writes[i].trace_id for i in kept)),
        extracted=batch.words,
    )
    for session_id, records in inserted.items():
        changes.setdefault(session_id, ([], []))[0].extend(records)
    rollups.written(conn, project_id, {s: changes.get(s, ((), ())) for s in {*changes, *patches}})
    # Error events name the span they come from as their trigger; spans name none.
    spans_inserted = sum(r.trigger_event_id is None for rs in inserted.values() for r in rs)
    return SpanOutcome(len(kept), spans_inserted, (), tuple(sorted(by_session)))


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(values)
    for i in range(0, len(ordered), _CHUNK):
        yield ordered[i : i + _CHUNK]


def _foreign(conn: sa.Connection, project_id: str, session_ids: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(session_ids):
        query = sa.select(sessions.c.id).where(
            sessions.c.id.in_(chunk), sessions.c.project_id != project_id
        )
        found.update(conn.execute(query).scalars())
    return found


Proposal = tuple[str, bool, str | None]  # (session, named by a span, its external id)


def _proposals(writes: Iterable[SpanWrite]) -> dict[str, Proposal]:
    """Per trace: the session its first naming span names, else its own."""
    proposals: dict[str, Proposal] = {}
    for w in writes:
        current = proposals.get(w.trace_id)
        if w.named_session is not None and (current is None or not current[1]):
            proposals[w.trace_id] = (w.named_session, True, w.external_id)
        elif current is None:
            proposals[w.trace_id] = (w.trace_session, False, None)
    return proposals


def _map_traces(
    conn: sa.Connection, project_id: str, proposals: dict[str, Proposal], now: dt.datetime
) -> dict[str, tuple[str, bool]]:
    """Record the proposed mapping of the traces not mapped yet; returns every trace's
    (session, named by a span) as stored."""
    rows = [
        {
            "project_id": project_id,
            "trace_id": trace_id,
            "session_id": session_id,
            "explicit": explicit,
            "created_at": now,
        }
        for trace_id, (session_id, explicit, _) in sorted(proposals.items())
    ]
    stmt = dialects.insert(conn.dialect.name, traces).on_conflict_do_nothing(
        index_elements=["project_id", "trace_id"]
    )
    new = set(conn.execute(stmt.returning(traces.c.trace_id), rows).scalars())
    mapped = {t: (proposals[t][0], proposals[t][1]) for t in new}
    for chunk in _chunks(set(proposals) - new):
        query = (
            sa.select(traces.c.trace_id, traces.c.session_id, traces.c.explicit)
            .where(traces.c.project_id == project_id, traces.c.trace_id.in_(chunk))
            .order_by(traces.c.trace_id)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()  # a concurrent move of the same trace waits
        for trace_id, session_id, explicit in conn.execute(query):
            mapped[trace_id] = (session_id, bool(explicit))
    return mapped


def _moves(
    proposals: dict[str, Proposal], mapped: dict[str, tuple[str, bool]]
) -> dict[str, tuple[str, str]]:
    """(derived session, named session) of the traces rule 3 moves."""
    moves: dict[str, tuple[str, str]] = {}
    for trace_id, (session_id, named, _) in proposals.items():
        stored, stored_named = mapped[trace_id]
        if named and not stored_named and stored != session_id:
            moves[trace_id] = (stored, session_id)
    return moves


def _ensure_sessions(
    conn: sa.Connection,
    project_id: str,
    writes: Sequence[SpanWrite],
    final: dict[str, str],
    proposals: dict[str, Proposal],
    now: dt.datetime,
) -> None:
    """Create the sessions the batch writes into that do not exist yet.

    Raises :class:`SessionConflict` when one of them belongs to another project.
    """
    starts: dict[str, dt.datetime] = {}
    for w in writes:
        session_id = final[w.trace_id]
        start = min(r.init_timestamp for r in w.records)
        starts[session_id] = min(start, starts.get(session_id, start))
    external = {p[0]: p[2] for p in proposals.values() if p[1]}
    rows = [
        {
            "id": session_id,
            "project_id": project_id,
            "init_timestamp": start,
            "created_at": now,
            "updated_at": now,
            "external_id": external.get(session_id),
        }
        for session_id, start in sorted(starts.items())
    ]
    stmt = dialects.insert(conn.dialect.name, sessions).on_conflict_do_nothing(
        index_elements=["id"]
    )
    created = set(conn.execute(stmt.returning(sessions.c.id), rows).scalars())
    taken = _foreign(conn, project_id, set(starts) - created)
    if taken:
        raise SessionConflict(", ".join(sorted(taken)))


def _move_trace(
    conn: sa.Connection, project_id: str, trace_id: str, old: str, new: str, now: dt.datetime
) -> tuple[list[EventRecord], list[EventRecord]]:
    """Rule 3: the trace's spans leave its derived session ``old`` for ``new``.

    Returns (the events that left ``old``, those of them ``new`` did not have already)."""
    c = events.c
    typed = [col for col in events.columns if col.name != "data"]
    left = [
        stored_record(r)
        for r in conn.execute(sa.select(*typed).where(c.session_id == old, c.trace_id == trace_id))
    ]
    # Looked up by primary key per span moved, not by reading every id ``new`` holds.
    twin = events.alias("twin")
    in_new = sa.exists().where(twin.c.session_id == new, twin.c.id == c.id)
    had = set(
        conn.execute(
            sa.select(c.id).where(c.session_id == old, c.trace_id == trace_id, in_new)
        ).scalars()
    )
    conn.execute(
        traces.update()
        .where(traces.c.project_id == project_id, traces.c.trace_id == trace_id)
        .values(session_id=new, explicit=True)
    )
    conn.execute(
        events.update()
        .where(c.session_id == old, c.trace_id == trace_id, ~in_new)
        .values(session_id=new, received_at=now)  # new in ``new``: its changes show them
    )
    # What is left is what ``new`` already had (the same span sent to both).
    conn.execute(events.delete().where(c.session_id == old, c.trace_id == trace_id))
    still_used = conn.execute(
        sa.select(traces.c.trace_id).where(traces.c.session_id == old).limit(1)
    ).first()
    if still_used is None and _event_count(conn, old) == 0:
        _merge_session(conn, project_id, old, new, now)
    else:
        recount(conn, old)
    arrived = [r for r in left if r.id not in had]
    if arrived:
        # Added to ``new``'s counters as a batch's events are: a recount would read every
        # event of the session once per trace that moves into it (a long conversation's
        # every turn, when each turn's root span comes in a later request than its children).
        add_to_counters(conn, project_id, new, arrived, [])
    search.index(conn, moved=((trace_id, old, new, arrived),), sessions_changed=(old,))
    return left, arrived


def _event_count(conn: sa.Connection, session_id: str) -> int:
    query = sa.select(sa.func.count()).select_from(events).where(events.c.session_id == session_id)
    return int(conn.execute(query).scalar_one())


def _merge_session(
    conn: sa.Connection, project_id: str, old: str, new: str, now: dt.datetime
) -> None:
    """What the emptied derived session ``old`` knew goes over to ``new``; ``old`` goes."""
    source = conn.execute(sa.select(sessions).where(sessions.c.id == old)).one()
    conn.execute(
        sa.insert(agents).from_select(
            ["session_id", "id", "name", "logs", "created_at"],
            sa.select(
                sa.literal(new), agents.c.id, agents.c.name, agents.c.logs, agents.c.created_at
            )
            .where(agents.c.session_id == old)
            .where(agents.c.id.not_in(sa.select(agents.c.id).where(agents.c.session_id == new))),
        )
    )
    conn.execute(agents.delete().where(agents.c.session_id == old))
    conn.execute(session_tags.delete().where(session_tags.c.session_id == old))
    conn.execute(sessions.delete().where(sessions.c.id == old))
    fields = SessionPatch(
        start=source.init_timestamp,
        end=source.end_timestamp,
        end_state=source.end_state if source.end_state in ("Success", "Fail") else None,
        tags=tuple(json.loads(source.tags)),
        user_id=source.user_id,
        metadata=source.session_metadata,
    )
    update_sessions(conn, project_id, {new: fields}, {}, now)
    if source.logs is not None:
        conn.execute(
            sessions.update()
            .where(sessions.c.id == new, sessions.c.logs.is_(None))
            .values(logs=source.logs)
        )


def recount(conn: sa.Connection, session_id: str) -> None:
    """Set the session's counters to what its events add up to."""
    c = events.c
    typed = [k for k in COUNTER_KINDS if k != "other"]
    # SQLite's sum() fails past 2**63 (huge token counts); total() is a float, exact below
    # 2**53. PostgreSQL sums BIGINT into numeric. Either is held within BIGINT below.
    add = sa.func.total if conn.dialect.name == "sqlite" else sa.func.sum
    row = conn.execute(
        sa.select(
            sa.func.count().label("event_count"),
            *(
                sa.func.coalesce(sa.func.sum(sa.case((c.event_type == k, 1), else_=0)), 0).label(k)
                for k in typed
            ),
            *(
                sa.func.coalesce(add(c[k]), 0).label(k)
                for k in ("prompt_tokens", "completion_tokens", "cached_tokens", "cost_pico")
            ),
            sa.func.coalesce(
                sa.func.sum(
                    sa.case((sa.and_(c.event_type == "llms", c.cost_pico.is_(None)), 1), else_=0)
                ),
                0,
            ).label("unpriced_llms"),
            sa.func.max(sa.func.coalesce(c.end_timestamp, c.init_timestamp)).label("last_event_at"),
        ).where(c.session_id == session_id)
    ).one()
    values = dict(row._mapping)
    for k in ("prompt_tokens", "completion_tokens", "cached_tokens", "cost_pico"):
        values[k] = min(int(values[k]), dialects.BIGINT_MAX)
    values["other"] = values["event_count"] - sum(values[k] for k in typed)
    if isinstance(values["last_event_at"], str):  # SQLite's max() of the stored text
        values["last_event_at"] = dt.datetime.fromisoformat(values["last_event_at"]).replace(
            tzinfo=dt.timezone.utc
        )
    conn.execute(sessions.update().where(sessions.c.id == session_id).values(values))


_SESSION_COLUMN = tuple(events.c.keys()).index("session_id")


def _insert_events(
    conn: sa.Connection, batch: PreparedSpans, kept: Sequence[int], final: dict[str, str]
) -> dict[str, list[EventRecord]]:
    """Insert the kept writes' rows into their sessions; returns the records inserted, by
    session (a row already stored there is skipped)."""
    unique: dict[tuple[str, str], tuple[bulk.Row, EventRecord]] = {}
    at = _SESSION_COLUMN
    for i in kept:
        write = batch.writes[i]
        session_id = final[write.trace_id]
        for row, record in zip(batch.rows[i], write.records, strict=True):
            key = (session_id, record.id)
            if key not in unique:
                unique[key] = ((*row[:at], session_id, *row[at + 1 :]), record)
    # Sorted: concurrent batches then take their row locks in one order (no deadlock).
    keys = sorted(unique)
    if batch.dialect.name == "sqlite":
        # Not RETURNING: Python's sqlite3 hands the GIL over at every row it steps through,
        # and with other requests decoding meanwhile each hand-over waits for the switch
        # interval: RETURNING 512 rows tripled the time the write lock was held. The rows
        # already stored (usually none) are read first instead; the transaction holds
        # SQLite's write lock since _map_traces' INSERT, so nothing lands in between.
        keys = _not_stored(conn, keys)
        rows = [unique[key][0] for key in keys]
        bulk.insert_bound(batch.dialect, events, rows, ("session_id", "id"), None).run(conn)
    else:
        rows = [unique[key][0] for key in keys]
        insert = bulk.insert_bound(
            batch.dialect, events, rows, ("session_id", "id"), "session_id, id"
        )
        keys = insert.rows(conn)
    inserted: dict[str, list[EventRecord]] = {}
    for session_id, event_id in keys:
        inserted.setdefault(session_id, []).append(unique[(session_id, event_id)][1])
    return inserted


_PAIRS = 400  # (session, id) pairs per query: 800 parameters, under SQLite's oldest limit


def _not_stored(conn: sa.Connection, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (session id, event id) pairs of ``keys`` that ``events`` does not hold, in order."""
    stored: set[tuple[str, str]] = set()
    for i in range(0, len(keys), _PAIRS):
        chunk = keys[i : i + _PAIRS]
        stored.update(
            tuple(row) for row in conn.exec_driver_sql(_stored_sql(len(chunk)), _flat(chunk))
        )
    return [key for key in keys if key not in stored] if stored else keys


@functools.cache
def _stored_sql(pairs: int) -> str:
    # CROSS JOIN keeps the pairs outside: one primary-key probe each (a row-value IN scans
    # the whole index).
    values = ", ".join(["(?, ?)"] * pairs)
    return (
        f"SELECT e.session_id, e.id FROM (VALUES {values}) AS v CROSS JOIN events AS e"
        " ON e.session_id = v.column1 AND e.id = v.column2"
    )


def _flat(pairs: list[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(value for pair in pairs for value in pair)


def _patch_of(group: Sequence[SpanWrite]) -> SessionPatch:
    roots = [r for w in group if w.root for r in w.records[:1]]
    states = {w.end_state for w in group}
    return SessionPatch(
        start=min(r.init_timestamp for w in group for r in w.records[:1]),
        end=max((r.end_timestamp or r.init_timestamp for r in roots), default=None),
        end_state="Fail" if "Fail" in states else "Success" if "Success" in states else None,
        tags=tuple(dict.fromkeys(t for w in group for t in w.tags)),
        user_id=next((w.user_id for w in group if w.user_id), None),
        metadata=next((w.metadata for w in group if w.metadata), None),
        external_id=next((w.external_id for w in group if w.external_id), None),
    )


def _upsert_agents(
    conn: sa.Connection, groups: dict[str, list[SpanWrite]], now: dt.datetime
) -> None:
    named: dict[tuple[str, str], str | None] = {}
    for session_id, group in groups.items():
        for w in group:
            if w.agent_id is not None:
                key = (session_id, w.agent_id)
                named[key] = named.get(key) or w.agent_name
    if not named:
        return
    rows = [
        {"session_id": s, "id": i, "name": n, "logs": None, "created_at": now}
        for (s, i), n in sorted(named.items())
    ]
    conn.execute(_agents_upsert(conn.dialect.name), rows)


@functools.cache
def _agents_upsert(dialect_name: str) -> Any:
    stmt = dialects.insert(dialect_name, agents)
    return stmt.on_conflict_do_update(
        index_elements=["session_id", "id"],
        set_={"name": sa.func.coalesce(agents.c.name, stmt.excluded.name)},
    )


def set_trace_logs(
    conn: sa.Connection,
    project_id: str,
    trace_id: str,
    trace_session: str,
    text: str,
    now: dt.datetime,
) -> str:
    """Keep ``text`` (a process's captured output) as the logs of the trace's session,
    creating the trace's own session if no span of it arrived yet. Returns the session id."""
    proposals: dict[str, Proposal] = {trace_id: (trace_session, False, None)}
    session_id = _map_traces(conn, project_id, proposals, now)[trace_id][0]
    stmt = dialects.insert(conn.dialect.name, sessions).values(
        id=session_id, project_id=project_id, init_timestamp=now, created_at=now, updated_at=now
    )
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))
    conn.execute(
        sessions.update()
        .where(sessions.c.id == session_id, sessions.c.project_id == project_id)
        .values(logs=text, updated_at=now)
    )
    rollups.written(conn, project_id, {session_id: ((), ())})
    return session_id
