"""Rollups kept at ingest, so the overview reads a few thousand rows, not every event.

Two tables of 15-minute buckets (UTC; 15 minutes so that every time zone's days and hours,
``+05:45`` included, are whole buckets), per project and the parent project its sessions
named (``X-Agentops-Parent-Key``; '' when none):

- ``rollup_llm``, per bucket of the call's start and model: LLM calls, their prompt,
  completion and cached tokens, the cost of the priced ones, how many were unpriced, and
  a histogram of their latencies;
- ``rollup_sessions``, per bucket of the session's start: sessions, by state (running,
  Success, Fail, ended Indeterminate), with errors, their errors, LLM calls, cost,
  unpriced calls, and a histogram of their durations.

Histograms count milliseconds in log buckets, three per doubling (:func:`log_bucket`),
so a percentile read from them (:func:`percentile`) is within 12% of the exact one.

A session's row changes while it runs (its duration grows, it ends, errors and cost add
up): ``rollup_session_state`` keeps what it adds now, and every write moves the
difference. Every write path calls :func:`written` once, at its end, inside its
transaction, after it updated (so row-locked) each session it names: concurrent writers
into one session take turns on its state. Counters saturate at BIGINT's maximum.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from agentwatch.server.storage import engine as dialects
from agentwatch.server.storage.records import EventRecord
from agentwatch.server.storage.schema import (
    LLM_SUMS,
    LOG_BUCKETS,
    SESSION_SUMS,
    events,
    rollup_llm,
    rollup_session_state,
    rollup_sessions,
    sessions,
)

__all__ = [
    "BUCKET_SECONDS",
    "HISTOGRAM",
    "Changes",
    "bucket_of",
    "bucket_value_ms",
    "log_bucket",
    "percentile",
    "rebuild",
    "recompute",
    "written",
]

BUCKET_SECONDS = 900
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_CHUNK = 500
HISTOGRAM = tuple(f"h{i}" for i in range(LOG_BUCKETS))
# Per session: (events added, events removed) by the write.
Changes = Mapping[str, tuple[Sequence[EventRecord], Sequence[EventRecord]]]
Cells = dict[tuple[Any, ...], dict[str, int]]


def bucket_of(when: dt.datetime) -> int:
    """The epoch second the 15-minute bucket holding ``when`` (aware) starts at."""
    seconds = (when - _EPOCH) // dt.timedelta(seconds=1)
    return seconds - seconds % BUCKET_SECONDS


def log_bucket(ms: float) -> int:
    """The histogram bucket of ``ms`` milliseconds: 0 below 1 ms, then three per doubling
    (bucket k >= 1 holds [2^((k-1)/3), 2^(k/3)) ms); the last one is open (about 30 days on)."""
    if not ms >= 1:  # also NaN
        return 0
    return min(math.floor(3 * math.log2(ms)) + 1, LOG_BUCKETS - 1)


def bucket_value_ms(k: int) -> float:
    """What bucket ``k`` stands for: its geometric middle (0.5 ms for the first)."""
    return 0.5 if k == 0 else float(2 ** ((k - 1) / 3 + 1 / 6))


def percentile(histogram: Sequence[int], q: float) -> float | None:
    """Nearest-rank ``q`` percentile (0 < q <= 1) of a histogram, in milliseconds."""
    total = sum(histogram)
    if total <= 0:
        return None
    rank = max(math.ceil(q * total), 1)
    seen = 0
    for k, count in enumerate(histogram):
        seen += count
        if seen >= rank:
            return bucket_value_ms(k)
    return bucket_value_ms(len(histogram) - 1)


# -- contributions ------------------------------------------------------------------------


def _add_event(cells: Cells, project_id: str, parent: str, r: EventRecord, sign: int) -> None:
    if r.counter != "llms":
        return
    key = (project_id, bucket_of(r.init_timestamp), parent, r.model or "")
    cell = cells.setdefault(key, {})
    values = {
        "calls": 1,
        "prompt_tokens": r.prompt_tokens or 0,
        "completion_tokens": r.completion_tokens or 0,
        "cached_tokens": r.cached_tokens or 0,
        "cost_pico": r.cost_pico or 0,
        "unpriced": int(r.cost_pico is None),
    }
    if r.end_timestamp is not None:
        ms = (r.end_timestamp - r.init_timestamp).total_seconds() * 1000
        values[HISTOGRAM[log_bucket(ms)]] = 1
    for name, value in values.items():
        cell[name] = cell.get(name, 0) + sign * value


State = tuple[str, str, int, str, int, int, int, int, int, int]


def _session_state(row: Any) -> State:
    """What session ``row`` adds to ``rollup_sessions``, as a ``rollup_session_state`` row."""
    last = row.end_timestamp or row.last_event_at or row.init_timestamp
    ms = max((last - row.init_timestamp).total_seconds() * 1000, 0.0)
    if row.end_timestamp is None and row.end_state == "Indeterminate":
        state = "running"
    else:
        state = {"Success": "success", "Fail": "fail"}.get(row.end_state, "indeterminate")
    return (
        row.project_id,
        row.parent_project_id or "",
        bucket_of(row.init_timestamp),
        state,
        int(row.errors > 0),
        int(row.errors),
        int(row.llms),
        int(row.cost_pico),
        int(row.unpriced_llms),
        log_bucket(ms),
    )


_STATE_COLUMNS = (
    "project_id",
    "parent_project_id",
    "bucket",
    "state",
    "errored",
    "errors",
    "llms",
    "cost_pico",
    "unpriced_llms",
    "duration_bucket",
)


def _add_session(cells: Cells, state: State, sign: int) -> None:
    project_id, parent, bucket, name, errored, errors, llms, cost, unpriced, duration = state
    cell = cells.setdefault((project_id, bucket, parent), {})
    values = {
        "sessions": 1,
        name: 1,
        "errored": errored,
        "errors": errors,
        "llms": llms,
        "cost_pico": cost,
        "unpriced_llms": unpriced,
        HISTOGRAM[duration]: 1,
    }
    for key, value in values.items():
        cell[key] = cell.get(key, 0) + sign * value


# -- the write hook -----------------------------------------------------------------------


def written(conn: sa.Connection, project_id: str, changes: Changes) -> None:
    """Move the rollups by what a write did to the sessions of ``changes`` (session id ->
    (events added, events removed)); a session no longer stored leaves them."""
    ids = sorted(changes)
    if not ids:
        return
    rows: dict[str, Any] = {}
    stored: dict[str, State] = {}
    for r in _in_chunks(conn, _WITH_STATE, sessions.c.id, ids):
        rows[r.id] = r
        if r.s_state is not None:
            stored[r.id] = tuple(getattr(r, f"s_{c}") for c in _STATE_COLUMNS)
    gone_ids = [i for i in ids if i not in rows]  # merged away (OTLP): only their state is left
    for r in _in_chunks(conn, sa.select(rollup_session_state), _STATE_ID, gone_ids):
        stored[r.session_id] = tuple(getattr(r, c) for c in _STATE_COLUMNS)
    llm: Cells = {}
    session_cells: Cells = {}
    upserts: list[dict[str, Any]] = []
    gone: list[str] = []
    for session_id in ids:
        added, removed = changes[session_id]
        row, before = rows.get(session_id), stored.get(session_id)
        parent = row.parent_project_id or "" if row is not None else before[1] if before else ""
        for record in added:
            _add_event(llm, project_id, parent, record, 1)
        for record in removed:
            _add_event(llm, project_id, parent, record, -1)
        after = _session_state(row) if row is not None else None
        if after == before:
            continue
        if before is not None:
            _add_session(session_cells, before, -1)
        if after is not None:
            _add_session(session_cells, after, 1)
            upserts.append(
                {"session_id": session_id, **dict(zip(_STATE_COLUMNS, after, strict=True))}
            )
        else:
            gone.append(session_id)
    _apply(conn, rollup_llm, LLM_SUMS, llm)
    _apply(conn, rollup_sessions, SESSION_SUMS, session_cells)
    if upserts:
        conn.execute(_state_upsert(conn.dialect.name), upserts)
    if gone:
        conn.execute(rollup_session_state.delete().where(_STATE_ID.in_(gone)))


_STATE_ID = rollup_session_state.c.session_id
_SESSION_QUERY = sa.select(
    sessions.c.id,
    sessions.c.project_id,
    sessions.c.parent_project_id,
    sessions.c.init_timestamp,
    sessions.c.end_timestamp,
    sessions.c.last_event_at,
    sessions.c.end_state,
    sessions.c.errors,
    sessions.c.llms,
    sessions.c.cost_pico,
    sessions.c.unpriced_llms,
)


# The session as it is now, and what it added to the rollups so far (NULLs: nothing yet).
_WITH_STATE = sa.select(
    *_SESSION_QUERY.selected_columns,
    *(rollup_session_state.c[c].label(f"s_{c}") for c in _STATE_COLUMNS),
).select_from(
    sessions.outerjoin(rollup_session_state, rollup_session_state.c.session_id == sessions.c.id)
)


def _in_chunks(
    conn: sa.Connection, query: sa.Select[Any], column: Any, ids: Sequence[str]
) -> Iterable[Any]:
    for i in range(0, len(ids), _CHUNK):
        yield from conn.execute(query.where(column.in_(ids[i : i + _CHUNK])))


def _apply(conn: sa.Connection, table: sa.Table, sums: Sequence[str], cells: Cells) -> None:
    """Add each cell's values to its row, naming only the columns a cell moves (a cell moves
    a handful of its 100 columns: the statement stays short). Cells go in key order, runs of
    one column set per statement: concurrent writers then lock rows in one order (no
    deadlock on PostgreSQL)."""
    keys = tuple(c.name for c in table.primary_key.columns)
    run: list[tuple[Any, ...]] = []
    current: tuple[str, ...] = ()
    for key, values in sorted(cells.items()):
        moved = tuple(n for n in (*sums, *HISTOGRAM) if values.get(n))
        if not moved:
            continue
        if moved != current and run:
            _upsert(conn, table.name, keys, current, run)
            run = []
        current = moved
        run.append((*key, *(dialects.clamp(values[n]) for n in moved)))
    if run:
        _upsert(conn, table.name, keys, current, run)


def _upsert(
    conn: sa.Connection,
    table: str,
    keys: tuple[str, ...],
    moved: tuple[str, ...],
    rows: list[tuple[Any, ...]],
) -> None:
    sql = _cell_upsert(conn.dialect.name, conn.dialect.paramstyle, table, keys, moved)
    conn.exec_driver_sql(sql, rows if len(rows) > 1 else rows[0])


@functools.lru_cache(maxsize=4096)
def _cell_upsert(
    dialect_name: str, paramstyle: str, table: str, keys: tuple[str, ...], moved: tuple[str, ...]
) -> str:
    """Driver-level upsert adding ``moved`` to a cell (columns left out start at 0)."""
    mark = "?" if paramstyle == "qmark" else "%s"
    columns = (*keys, *moved)
    limit = dialects.BIGINT_MAX
    if dialect_name == "postgresql":
        add = "CAST(least(greatest(CAST({t}.{c} AS NUMERIC) + excluded.{c}, -{m}), {m}) AS BIGINT)"
    else:
        add = "min(max({t}.{c} + excluded.{c}, -{m}), {m})"
    updates = ", ".join(f"{c} = " + add.format(t=table, c=c, m=limit) for c in moved)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


@functools.cache
def _state_upsert(dialect_name: str) -> Any:
    stmt = dialects.insert(dialect_name, rollup_session_state)
    return stmt.on_conflict_do_update(
        index_elements=["session_id"], set_={c: stmt.excluded[c] for c in _STATE_COLUMNS}
    )


# -- rebuilding from the events -----------------------------------------------------------


def rebuild(conn: sa.Connection) -> None:
    """Recompute every rollup from the sessions and events tables (the migration that adds
    them, and tools that write rows directly). Streams; memory grows with cells, not rows."""
    for table in (rollup_llm, rollup_sessions, rollup_session_state):
        conn.execute(table.delete())
    llm, session_cells = recompute(conn, write_state=True)
    _apply(conn, rollup_llm, LLM_SUMS, llm)
    _apply(conn, rollup_sessions, SESSION_SUMS, session_cells)


def recompute(conn: sa.Connection, *, write_state: bool = False) -> tuple[Cells, Cells]:
    """(``rollup_llm`` cells, ``rollup_sessions`` cells) as the stored rows add up to."""
    session_cells: Cells = {}
    states: list[dict[str, Any]] = []
    for row in conn.execute(_SESSION_QUERY.execution_options(yield_per=5000)):
        state = _session_state(row)
        _add_session(session_cells, state, 1)
        if write_state:
            states.append({"session_id": row.id, **dict(zip(_STATE_COLUMNS, state, strict=True))})
            if len(states) >= 5000:
                conn.execute(rollup_session_state.insert(), states)
                states = []
    if states:
        conn.execute(rollup_session_state.insert(), states)
    llm: Cells = {}
    c = events.c
    query = (
        sa.select(
            c.project_id,
            sessions.c.parent_project_id,
            c.event_type,
            c.init_timestamp,
            c.end_timestamp,
            c.model,
            c.prompt_tokens,
            c.completion_tokens,
            c.cached_tokens,
            c.cost_pico,
        )
        .join(sessions, sessions.c.id == c.session_id)
        .where(c.event_type == "llms")
    )
    for row in conn.execute(query.execution_options(yield_per=5000)):
        _add_event(llm, row.project_id, row.parent_project_id or "", _as_record(row), 1)
    return (
        {k: v for k, v in llm.items() if any(v.values())},
        {k: v for k, v in session_cells.items() if any(v.values())},
    )


def _as_record(row: Any) -> EventRecord:
    return EventRecord(
        id="",
        event_type=row.event_type,
        counter="llms",
        init_timestamp=row.init_timestamp,
        end_timestamp=row.end_timestamp,
        agent_id=None,
        thread_id=None,
        model=row.model,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cached_tokens=row.cached_tokens,
        cost_pico=row.cost_pico,
        trigger_event_id=None,
        trigger_event_type=None,
        data={},
    )
