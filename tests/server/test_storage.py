"""The storage interface directly, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentwatch.server.storage import EventRecord, SessionFields, Storage
from agentwatch.server.storage.ingest import UnknownSession
from agentwatch.server.storage.schema import events


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    opened = Storage.open(db_url)
    yield opened
    opened.close()


def _record(event_id: str, kind: str = "llms", tokens: int = 5) -> EventRecord:
    now = dt.datetime.now(dt.timezone.utc)
    return EventRecord(
        id=event_id,
        event_type=kind,
        counter=kind,
        init_timestamp=now,
        end_timestamp=None,
        agent_id=None,
        thread_id=None,
        model=None,
        prompt_tokens=tokens,
        completion_tokens=None,
        cached_tokens=None,
        cost_pico=None,
        trigger_event_id=None,
        trigger_event_type=None,
        data={"id": event_id},
    )


def test_migrations_are_idempotent(db_url: str, storage: Storage) -> None:
    from alembic.script import ScriptDirectory

    from agentwatch.server.storage.migrate import alembic_config

    [head] = ScriptDirectory.from_config(alembic_config()).get_heads()  # one line of history
    Storage.open(db_url).close()  # a second upgrade finds nothing to do
    with storage.read() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == head


def test_sqlite_is_durable_and_waits_for_locks(tmp_path: Path) -> None:
    storage = Storage.open(f"sqlite:///{tmp_path}/x.db")
    try:
        with storage.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30000
    finally:
        storage.close()


def test_events_are_inserted_once_and_counted(storage: Storage) -> None:
    project = storage.create_project("p")
    session_id = str(uuid.uuid4())
    assert storage.create_or_attach_session(project.id, SessionFields(session_id)) is True
    batch = [_record(str(uuid.uuid4())) for _ in range(450)]  # more than one INSERT chunk
    assert storage.insert_events(project.id, session_id, batch) == 450
    assert storage.insert_events(project.id, session_id, [*batch[:10], _record("new")]) == 1
    row = storage.session(project.id, session_id)
    assert row is not None
    assert row.event_count == 451
    assert row.prompt_tokens == 451 * 5
    assert row.unpriced_llms == 451
    unknown = str(uuid.uuid4())
    with pytest.raises(UnknownSession):
        storage.insert_events(project.id, unknown, batch)
    with storage.read() as conn:  # the batch was rolled back with the refusal
        stored = conn.execute(sa.select(sa.func.count()).where(events.c.session_id == unknown))
        assert stored.scalar_one() == 0


def test_sessions_belong_to_one_project(storage: Storage) -> None:
    first, second = storage.create_project("a"), storage.create_project("b")
    session_id = str(uuid.uuid4())
    storage.create_or_attach_session(first.id, SessionFields(session_id, tags=("x",)))
    assert storage.create_or_attach_session(first.id, SessionFields(session_id)) is False
    assert storage.session(second.id, session_id) is None
    with pytest.raises(UnknownSession):
        storage.insert_events(second.id, session_id, [_record("e")])
    # The other project's create takes a shadow of the id (tenancy.py): a session of its own.
    assert storage.create_or_attach_session(second.id, SessionFields(session_id)) is True
    assert storage.insert_events(second.id, session_id, [_record("e")]) == 1
    assert storage.insert_events(first.id, session_id, [_record("e")]) == 1  # nothing of b's
    shadow = storage.session(second.id, session_id)
    assert shadow is not None
    assert (shadow.id, shadow.project_id, shadow.event_count) == (session_id, second.id, 1)
    own = storage.session(first.id, session_id)
    assert own is not None
    assert (own.project_id, own.event_count, own.tags) == (first.id, 1, '["x"]')
    with pytest.raises(ValueError, match="already exists"):
        storage.create_project("a")


def test_keys_revoke_by_prefix_or_whole(storage: Storage) -> None:
    project = storage.create_project("p")
    key, info = storage.create_api_key(project.id)
    other, _ = storage.create_api_key(project.id)
    owner = storage.key_owner(key)
    assert owner is not None
    assert owner.project_id == project.id
    with pytest.raises(ValueError, match="4 characters"):
        storage.revoke_api_keys(key[:3])
    assert [k.id for k in storage.revoke_api_keys(info.prefix)] == [info.id]
    assert storage.key_owner(key) is None
    assert storage.key_owner(other) is not None
    assert storage.revoke_api_keys(other)[0].revoked_at is not None
    assert storage.key_owner(other) is None
    assert storage.revoke_api_keys(other) == []


def test_unsafe_postgresql_settings_are_reported(pg_url: str) -> None:
    from agentwatch.server.storage.engine import create_engine, durability_warnings

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            fsync = conn.exec_driver_sql("SHOW fsync").scalar_one()
        # The cluster started by conftest runs with fsync=off for speed.
        reported = any("fsync=off" in w for w in durability_warnings(engine))
        assert reported == (fsync == "off")
    finally:
        engine.dispose()


def test_read_queries_use_indexes(tmp_path: Path) -> None:
    """The list, drilldown and tag filter are index walks, whatever the table sizes."""
    from agentwatch.server.storage import ListOrder, SessionFilter
    from agentwatch.server.storage.schema import events
    from agentwatch.server.storage.sessionlist import list_statement

    storage = Storage.open(f"sqlite:///{tmp_path}/plan.db")
    try:
        with storage.read() as conn:

            def plan(statement: sa.Select[Any]) -> str:
                compiled = statement.compile(conn, compile_kwargs={"literal_binds": True})
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
                return " | ".join(str(row[-1]) for row in rows)

            where = SessionFilter(tags=("a",))
            listing = list_statement(conn, "p", where, ListOrder(), None, 50)
            assert "ix_sessions_project_init" in plan(listing)
            assert "sqlite_autoindex_session_tags_1" in plan(listing)
            drilldown = (
                sa.select(events)
                .where(events.c.session_id == "s")
                .order_by(events.c.init_timestamp)
            )
            assert "ix_events_session_init" in plan(drilldown)
    finally:
        storage.close()


def test_migrations_match_the_schema(storage: Storage) -> None:
    """Nothing in schema.py is missing from the migrations (autogenerate finds no diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from agentwatch.server.storage.schema import database_only, metadata

    with storage.read() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": database_only})
        diff = compare_metadata(context, metadata)
    assert diff == []
