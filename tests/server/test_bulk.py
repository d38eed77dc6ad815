"""storage.bulk: rows stored through driver SQL read back exactly as rows stored through Core."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from agentwatch.server.storage import Storage, bulk
from agentwatch.server.storage.schema import UTCDateTime, events

BERLIN = dt.timezone(dt.timedelta(hours=1))


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    opened = Storage.open(db_url)
    yield opened
    opened.close()


def _row(event_id: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {column.key: None for column in events.columns}
    stamp = dt.datetime(2025, 1, 24, 15, 43, 20, 101000, tzinfo=dt.timezone.utc)
    row.update(
        session_id="s" * 36,
        id=event_id,
        project_id="p" * 36,
        event_type="llms",
        init_timestamp=stamp,
        data="{}",
        received_at=stamp,
        kind="llm",
        status="unset",
    )
    row.update(values)
    return row


ROWS = [
    _row("a"),
    _row(
        "b",
        init_timestamp=dt.datetime(2025, 1, 24, 16, 43, 20, tzinfo=BERLIN),  # 15:43:20 UTC
        end_timestamp=dt.datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone.utc),
        agent_id="agent",
        thread_id="thread",
        model="gpt-4o-mini",
        prompt_tokens=2**62 - 1,
        completion_tokens=0,
        cached_tokens=7,
        cost_pico=123_456_789,
        trigger_event_id="a",
        trigger_event_type="tools",
        data='{"text":"Grüße, 東京 🚀 \\"quoted\\", back\\\\slash {a,b} NULL","n":[1,{"x":null}]}',
    ),
]


def _stored(storage: Storage, ids: list[str]) -> list[tuple[Any, ...]]:
    with storage.read() as conn:
        query = sa.select(events).where(events.c.id.in_(ids)).order_by(events.c.id)
        return [tuple(row) for row in conn.execute(query)]


def test_rows_read_back_as_core_stores_them(storage: Storage) -> None:
    with storage.write() as conn:
        conn.execute(events.insert(), [{**row, "id": "core-" + row["id"]} for row in ROWS])
        insert = bulk.prepare_insert(conn.dialect, events, ROWS, ("session_id", "id"), "id")
        assert sorted(insert.execute(conn)) == ["a", "b"]
    core = _stored(storage, ["core-a", "core-b"])
    assert [row[:1] + row[2:] for row in _stored(storage, ["a", "b"])] == [
        row[:1] + row[2:] for row in core
    ]
    with storage.read() as conn:  # the same text in the database, not only the same values
        as_text = sa.select(sa.cast(events.c.init_timestamp, sa.Text)).order_by(events.c.id)
        texts = list(conn.execute(as_text).scalars())
    assert texts[:2] == texts[2:]


def test_conflicting_rows_are_skipped_and_not_returned(storage: Storage) -> None:
    with storage.write() as conn:
        first = bulk.prepare_insert(conn.dialect, events, ROWS[:1], ("session_id", "id"), "id")
        assert first.execute(conn) == ["a"]
        both = bulk.prepare_insert(conn.dialect, events, ROWS, ("session_id", "id"), "id")
        assert both.execute(conn) == ["b"]


@pytest.fixture
def pg_storage(pg_url: str) -> Iterator[Storage]:
    storage = Storage.open(pg_url)
    yield storage
    storage.close()


@pytest.fixture
def sqlite_storage(tmp_path: Path) -> Iterator[Storage]:
    storage = Storage.open(f"sqlite:///{tmp_path / 'bulk.db'}")
    yield storage
    storage.close()


@pytest.mark.postgres
def test_too_long_values_are_refused_as_core_refuses_them(pg_storage: Storage) -> None:
    # PostgreSQL only: SQLite does not enforce VARCHAR lengths.
    storage = pg_storage
    too_long = [_row("a", event_type="x" * 65)]
    with pytest.raises(sa.exc.DataError), storage.write() as conn:
        conn.execute(events.insert(), too_long)
    with pytest.raises(sa.exc.DataError), storage.write() as conn:  # not cut to 64
        bulk.prepare_insert(conn.dialect, events, too_long, ("session_id", "id"), "id").execute(
            conn
        )


def test_sqlite_splits_rows_into_pages_under_the_parameter_limit(
    sqlite_storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite only: PostgreSQL sends one array per column, whatever the number of rows.
    storage = sqlite_storage
    rows = [_row(f"e{i:03}") for i in range(250)]
    dialect = storage.engine.dialect
    monkeypatch.setattr(dialect, "insertmanyvalues_max_parameters", 999)  # old SQLite's limit
    insert = bulk.prepare_insert(dialect, events, rows, ("session_id", "id"), "id")
    per_page = 999 // len(events.columns)
    assert len(insert.statements) == -(-250 // per_page)
    assert all(len(params) <= 999 for _, params in insert.statements)
    with storage.write() as conn:
        assert insert.execute(conn) == [row["id"] for row in rows]
    assert len(_stored(storage, [row["id"] for row in rows])) == 250


def test_no_rows_no_statements(storage: Storage) -> None:
    dialect = storage.engine.dialect
    assert bulk.prepare_insert(dialect, events, [], ("session_id", "id"), "id").statements == ()


# Naive, UTC and fixed-offset datetimes over the years the server accepts.
DATETIMES = st.datetimes(
    min_value=dt.datetime(2, 1, 1),
    max_value=dt.datetime(9998, 12, 31),
    timezones=st.one_of(
        st.none(),
        st.just(dt.timezone.utc),
        st.builds(dt.timezone, st.timedeltas(dt.timedelta(hours=-23), dt.timedelta(hours=23))),
    ),
)


@given(DATETIMES)
def test_sqlite_timestamps_are_bound_as_core_binds_them(value: dt.datetime) -> None:
    dialect = sqlite.dialect()
    core = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert core is not None
    insert = bulk.prepare_insert(dialect, events, [_row("a", init_timestamp=value)], ("id",), "id")
    [(_, params)] = insert.statements
    assert params[events.c.keys().index("init_timestamp")] == core(value)


def test_columns_empty_in_every_row_read_back_as_core_stores_them(storage: Storage) -> None:
    # On PostgreSQL a column that is NULL in every row is left out of the INSERT; a column
    # of zeros, empty strings or False in every row is not empty and must stay.
    falsy = {"prompt_tokens": 0, "completion_tokens": 0, "cost_pico": 0, "model": ""}
    rows = [_row(f"f{i}", **falsy) for i in range(3)]
    with storage.write() as conn:
        conn.execute(events.insert(), [{**row, "id": "core-" + row["id"]} for row in rows])
        insert = bulk.prepare_insert(conn.dialect, events, rows, ("session_id", "id"), "id")
        assert sorted(insert.execute(conn)) == ["f0", "f1", "f2"]
    stored = _stored(storage, ["f0", "f1", "f2"])
    core = _stored(storage, ["core-f0", "core-f1", "core-f2"])
    assert [row[:1] + row[2:] for row in stored] == [row[:1] + row[2:] for row in core]
    model = events.c.keys().index("model")
    agent = events.c.keys().index("agent_id")
    assert [(row[model], row[agent]) for row in stored] == [("", None)] * 3


def test_postgres_leaves_out_only_columns_null_in_every_row() -> None:
    from sqlalchemy.dialects.postgresql import psycopg

    dialect = psycopg.dialect()
    rows = [_row("a", prompt_tokens=0, agent_id=None), _row("b", agent_id=None, thread_id="t")]
    [(sql, params)] = bulk.prepare_insert(
        dialect, events, rows, ("session_id", "id"), "id"
    ).statements
    named = sql.split("(", 1)[1].split(")", 1)[0].split(", ")
    empty = {"end_timestamp", "agent_id", "model", "completion_tokens", "cached_tokens"}
    empty |= {
        "cost_pico",
        "trigger_event_id",
        "trigger_event_type",
        "parent_id",
        "trace_id",
        "name",
    }
    assert set(named) == set(events.c.keys()) - empty
    assert {"prompt_tokens", "thread_id"} <= set(named)  # not NULL in every row
    assert {"kind", "status"} <= set(named)  # a default of their own: never left out
    assert len(params) == len(named)
    assert params[named.index("thread_id")] == [None, "t"]


@given(DATETIMES)
def test_postgres_timestamps_are_bound_as_naive_utc(value: dt.datetime) -> None:
    from sqlalchemy.dialects.postgresql import psycopg

    bound = UTCDateTime().process_bind_param(value, psycopg.dialect())
    expected = value if value.tzinfo is None else value.astimezone(dt.timezone.utc)
    assert bound == expected.replace(tzinfo=None)
    assert bound.tzinfo is None
    assert bound.fold == expected.fold


def test_event_values_name_every_column_in_the_tables_order() -> None:
    # ingest.event_values spells the row positionally; this spells it by name.
    from agentwatch.server.storage import ingest
    from agentwatch.server.storage.records import EventRecord

    start = dt.datetime(2025, 1, 24, 15, 43, 20, tzinfo=dt.timezone.utc)
    now = start + dt.timedelta(minutes=5)
    record = EventRecord(
        id="e1",
        event_type="llms",
        counter="llms",
        init_timestamp=start,
        end_timestamp=start + dt.timedelta(seconds=2),
        agent_id="agent",
        thread_id="thread",
        model="gpt-4o-mini",
        prompt_tokens=11,
        completion_tokens=12,
        cached_tokens=13,
        cost_pico=14,
        trigger_event_id="t1",
        trigger_event_type="tools",
        data={"x": 1},
        kind="llm",
        parent_id="p1",
        trace_id="a" * 32,
        name="chat",
        status="ok",
    )
    expected = {
        "session_id": "session",
        "id": "e1",
        "project_id": "project",
        "event_type": "llms",
        "init_timestamp": start,
        "end_timestamp": start + dt.timedelta(seconds=2),
        "agent_id": "agent",
        "thread_id": "thread",
        "model": "gpt-4o-mini",
        "prompt_tokens": 11,
        "completion_tokens": 12,
        "cached_tokens": 13,
        "cost_pico": 14,
        "trigger_event_id": "t1",
        "trigger_event_type": "tools",
        "data": '{"x":1}',
        "received_at": now,
        "parent_id": "p1",
        "trace_id": "a" * 32,
        "kind": "llm",
        "name": "chat",
        "status": "ok",
    }
    values = ingest.event_values(record, "project", "session", now)
    assert dict(zip(events.c.keys(), values, strict=True)) == expected
