"""The storage interface: everything the server reads and writes goes through :class:`Storage`."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from agentwatch.server import auth
from agentwatch.server.storage import engine as engines
from agentwatch.server.storage import (
    ingest,
    migrate,
    overview,
    queries,
    sessionlist,
    spanlogs,
    spanreads,
    tenancy,
    traces,
)
from agentwatch.server.storage.records import (
    ApiKeyInfo,
    EventRecord,
    KeyOwner,
    Project,
    SessionFields,
    SpanLog,
    SpanOutcome,
    SpanWrite,
)
from agentwatch.server.storage.schema import api_keys, projects

__all__ = ["Storage"]

_T = TypeVar("_T")

logger = logging.getLogger("agentwatch.server")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Storage:
    """A database of projects, keys, sessions and events, chosen by URL.

    Writes into a session raise ``ingest.UnknownSession`` when the project has no such
    session. A session id another project has stands for the project's shadow session of
    it (:mod:`.tenancy`), in writes and reads alike.

    Methods block (call them from a worker thread in async code) and each runs in
    one transaction. On SQLite every write holds an in-process lock: SQLite allows one
    writer, and queueing here is cheaper and fairer than spinning on ``SQLITE_BUSY``.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if self.dialect == "sqlite" else contextlib.nullcontext()
        )

    @classmethod
    def open(cls, url: str, *, migrate_schema: bool = True) -> Storage:
        """Connect to ``url`` and (by default) bring its schema up to date.

        Raises ``ValueError`` for an unusable URL and ``sqlalchemy.exc.OperationalError``
        when the database cannot be reached.
        """
        storage = cls(engines.create_engine(url))
        try:
            if migrate_schema:
                migrate.upgrade(storage.engine)
            for warning in engines.durability_warnings(storage.engine):
                logger.warning(warning)
        except BaseException:
            storage.close()
            raise
        return storage

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction: committed on normal exit, rolled back on an exception."""
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only snapshot connection."""
        with self.engine.connect() as conn:
            yield conn

    # -- projects and keys ---------------------------------------------------------------

    def create_project(self, name: str) -> Project:
        """A new project. Raises ``ValueError`` if the name is taken."""
        project = Project(str(uuid.uuid4()), name, utcnow())
        try:
            with self.write() as conn:
                conn.execute(
                    projects.insert().values(
                        id=project.id, name=name, created_at=project.created_at
                    )
                )
        except sa.exc.IntegrityError:
            raise ValueError(f"a project named {name!r} already exists") from None
        return project

    def list_projects(self) -> list[Project]:
        with self.read() as conn:
            rows = conn.execute(
                sa.select(projects).order_by(projects.c.created_at, projects.c.name)
            )
            return [Project(r.id, r.name, r.created_at) for r in rows]

    def project_by_name(self, name: str) -> Project | None:
        with self.read() as conn:
            row = conn.execute(sa.select(projects).where(projects.c.name == name)).first()
        return None if row is None else Project(row.id, row.name, row.created_at)

    def create_api_key(self, project_id: str) -> tuple[str, ApiKeyInfo]:
        """A new key for the project: (plaintext shown once, stored description)."""
        key = auth.new_api_key()
        now = utcnow()
        key_id = str(uuid.uuid4())
        with self.write() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key_id,
                    project_id=project_id,
                    key_hash=auth.hash_api_key(key),
                    prefix=auth.key_prefix(key),
                    created_at=now,
                )
            )
        info = next(k for k in self.list_api_keys() if k.id == key_id)
        return key, info

    def list_api_keys(self) -> list[ApiKeyInfo]:
        query = (
            sa.select(api_keys, projects.c.name.label("project_name"))
            .join(projects, projects.c.id == api_keys.c.project_id)
            .order_by(api_keys.c.created_at)
        )
        with self.read() as conn:
            return [
                ApiKeyInfo(r.id, r.project_id, r.project_name, r.prefix, r.created_at, r.revoked_at)
                for r in conn.execute(query)
            ]

    def revoke_api_keys(self, key_or_prefix: str) -> list[ApiKeyInfo]:
        """Revoke the key given in full, or every active key whose prefix starts with it.

        A prefix must have at least 4 characters. Returns the keys revoked.
        """
        text = key_or_prefix.strip().lower()
        if len(text) >= 32:
            match = api_keys.c.key_hash == auth.hash_api_key(text)
        elif len(text) >= 4:
            match = api_keys.c.prefix.startswith(text[:8], autoescape=True)
        else:
            raise ValueError("give the whole key or at least its first 4 characters")
        with self.write() as conn:
            ids = list(
                conn.execute(
                    sa.select(api_keys.c.id).where(match, api_keys.c.revoked_at.is_(None))
                ).scalars()
            )
            if ids:
                conn.execute(
                    api_keys.update().where(api_keys.c.id.in_(ids)).values(revoked_at=utcnow())
                )
        return [k for k in self.list_api_keys() if k.id in ids]

    def key_owner(self, key: str) -> KeyOwner | None:
        """The active key ``key`` (canonical UUID text) belongs to, or None."""
        digest = auth.hash_api_key(key)
        with self.read() as conn:
            row = conn.execute(
                sa.select(api_keys.c.id, api_keys.c.project_id, api_keys.c.key_hash).where(
                    api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None)
                )
            ).first()
        if row is None or not auth.keys_match(row.key_hash, key):
            return None
        return KeyOwner(row.id, row.project_id)

    def key_is_active(self, key_id: str) -> bool:
        with self.read() as conn:
            return (
                conn.execute(
                    sa.select(api_keys.c.id).where(
                        api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)
                    )
                ).first()
                is not None
            )

    # -- ingest ----------------------------------------------------------------------------

    def create_or_attach_session(
        self, project_id: str, fields: SessionFields, parent_project_id: str | None = None
    ) -> bool:
        """See :func:`ingest.create_or_attach_session`; True when created."""
        with self.write() as conn:
            return ingest.create_or_attach_session(
                conn, project_id, parent_project_id, fields, utcnow()
            )

    def update_session(self, project_id: str, fields: SessionFields) -> sa.Row[Any] | None:
        """Apply ``fields``; returns the updated session row, or None if there is none."""

        def update(session_id: str) -> sa.Row[Any]:
            with self.write() as conn:
                key = dataclasses.replace(fields, session_id=session_id)
                if not ingest.update_session(conn, project_id, key, utcnow()):
                    raise ingest.UnknownSession(session_id)
                row = queries.session_row(conn, project_id, session_id)
                assert row is not None
                return row

        try:
            return _in_session(project_id, fields.session_id, update)
        except ingest.UnknownSession:
            return None

    def insert_events(
        self, project_id: str, session_id: str, records: Sequence[EventRecord]
    ) -> int:
        """Store a batch once (see :func:`ingest.insert_prepared`); returns how many were new."""

        def insert(key: str) -> int:
            # Prepared first: on SQLite the write lock is then held only for the statements.
            batch = ingest.prepare_events(self.engine.dialect, project_id, key, records, utcnow())
            with self.write() as conn:
                return ingest.insert_prepared(conn, batch)

        return _in_session(project_id, session_id, insert)

    def update_events(
        self,
        project_id: str,
        session_id: str,
        records: Sequence[EventRecord],
        renormalize: Callable[[dict[str, Any]], EventRecord],
    ) -> int:
        def update(key: str) -> int:
            with self.write() as conn:
                ingest.require_session(conn, project_id, key)
                return ingest.update_events(conn, project_id, key, records, utcnow(), renormalize)

        return _in_session(project_id, session_id, update)

    def upsert_agent(
        self, project_id: str, session_id: str, agent_id: str, name: str | None, logs: str | None
    ) -> None:
        def upsert(key: str) -> None:
            with self.write() as conn:
                ingest.require_session(conn, project_id, key)
                ingest.upsert_agent(conn, key, agent_id, name, logs, utcnow())

        _in_session(project_id, session_id, upsert)

    def upsert_thread(
        self, project_id: str, session_id: str, thread_id: str, agent_id: str | None
    ) -> None:
        def upsert(key: str) -> None:
            with self.write() as conn:
                ingest.require_session(conn, project_id, key)
                ingest.upsert_thread(conn, key, thread_id, agent_id, utcnow())

        _in_session(project_id, session_id, upsert)

    def insert_spans(self, project_id: str, writes: Sequence[SpanWrite]) -> SpanOutcome:
        """Store OpenTelemetry spans in their sessions (see :mod:`.traces`), once each.

        Raises ``ingest.SessionConflict`` when a session it meant to create was created by
        another project meanwhile (nothing is stored: retrying sorts it out).
        """
        now = utcnow()
        batch = traces.prepare_spans(self.engine.dialect, project_id, writes, now)
        with self.write() as conn:
            return traces.store_spans(conn, batch, now)

    def insert_span_logs(self, project_id: str, logs: Sequence[SpanLog]) -> int:
        """Keep OpenTelemetry log records for the spans they name; returns how many were new."""
        with self.write() as conn:
            return spanlogs.insert_span_logs(conn, project_id, logs, utcnow())

    def set_trace_logs(self, project_id: str, trace_id: str, trace_session: str, text: str) -> str:
        """Keep a process's captured output on its trace's session; returns the session id."""
        with self.write() as conn:
            return traces.set_trace_logs(conn, project_id, trace_id, trace_session, text, utcnow())

    def record_developer_error(self, project_id: str, values: dict[str, Any]) -> None:
        with self.write() as conn:
            ingest.record_developer_error(conn, project_id, values, utcnow())

    # -- reads -----------------------------------------------------------------------------

    def session(
        self, project_id: str, session_id: str, *, as_reader: bool = False
    ) -> sa.Row[Any] | None:
        """The project's session row, or None. ``as_reader`` also finds its child
        projects' sessions (see :func:`queries.visible_to`)."""
        with self.read() as conn:
            found = _session_row(conn, project_id, session_id, as_reader)
        return None if found is None else found[1]

    def session_detail(
        self,
        project_id: str,
        session_id: str,
        events_after: tuple[dt.datetime, str] | None = None,
        event_limit: int | None = None,
    ) -> tuple[sa.Row[Any], list[sa.Row[Any]], list[Any]] | None:
        """(session, agents, events in time order) as the project may read them, or None.

        Events that are OpenTelemetry spans come with their log records merged in
        (:mod:`.spanlogs`).

        Events can be read a page at a time: those after the keyset ``events_after``,
        at most ``event_limit``.

        Read one after the other: a batch committed in between can show in the events
        and not yet in the session's counters.
        """
        with self.read() as conn:
            found = _session_row(conn, project_id, session_id, True)
            if found is None:
                return None
            key, row = found
            events = queries.session_events(conn, key, events_after, event_limit)
            return (
                row,
                queries.session_agents(conn, key),
                spanlogs.with_logs(conn, row.project_id, events),
            )

    def session_head(
        self, project_id: str, session_id: str
    ) -> tuple[str, sa.Row[Any], list[sa.Row[Any]]] | None:
        """(the id its events are stored under, the session, its agents) as the project may
        read them, or None; its events follow from :meth:`event_pages`."""
        with self.read() as conn:
            found = _session_row(conn, project_id, session_id, True)
            if found is None:
                return None
            key, row = found
            return key, row, queries.session_agents(conn, key)

    def event_pages(
        self,
        owner_id: str,
        key: str,
        page: int,
        types: tuple[str, ...] | None = None,
        other_than: tuple[str, ...] = (),
        after: tuple[dt.datetime, str] | None = None,
    ) -> Iterator[list[Any]]:
        """The events stored under ``key`` (of project ``owner_id``) after the keyset
        ``after``, ``page`` at a time in time order, log records merged in; each page is
        read in its own transaction, so none stays open between pages (``exports.py``)."""
        while True:
            with self.read() as conn:
                rows = queries.session_events(conn, key, after, page, types, other_than)
                merged = spanlogs.with_logs(conn, owner_id, rows)
            if merged:
                yield merged
            if len(rows) < page:
                return
            after = (rows[-1].init_timestamp, rows[-1].id)

    def session_page(
        self,
        project_id: str,
        where: sessionlist.SessionFilter,
        order: sessionlist.ListOrder,
        after: tuple[Any, str] | None,
        limit: int,
    ) -> sessionlist.SessionPage:
        """A page of the session list (see :func:`sessionlist.list_statement`), the main
        agent of each of its sessions, and how many sessions match in all."""
        with self.read() as conn:
            listing = sessionlist.list_statement(conn, project_id, where, order, after, limit)
            rows = list(conn.execute(listing))
            total, exact = sessionlist.count_sessions(conn, project_id, where)
            agents = sessionlist.main_agents(conn, [r.id for r in rows])
            return sessionlist.SessionPage(rows, agents, total, exact)

    def sessions_by_prefix(self, prefix: str, limit: int) -> list[sa.Row[Any]]:
        """Sessions of any project whose id starts with ``prefix`` (the dashboard's short
        ids), at most ``limit``."""
        with self.read() as conn:
            return sessionlist.by_prefix(conn, prefix, limit)

    def project_totals(
        self, project_id: str, since: dt.datetime | None, until: dt.datetime | None
    ) -> dict[str, int]:
        with self.read() as conn:
            return queries.project_totals(conn, project_id, since, until)

    # -- dashboard reads -------------------------------------------------------------------

    def session_project(self, session_id: str) -> str | None:
        with self.read() as conn:
            return overview.session_project(conn, session_id)

    def overview(
        self, project_id: str, since: int, until: int, step: int, offset: int
    ) -> tuple[list[sa.Row[Any]], list[sa.Row[Any]]]:
        """(sessions per slot, LLM calls per slot and model) of the project's rollups in
        [since, until) (epoch seconds): see :func:`overview.session_series`."""
        with self.read() as conn:
            return (
                overview.session_series(conn, project_id, since, until, step, offset),
                overview.llm_series(conn, project_id, since, until, step, offset),
            )

    def revoke_api_key_id(self, key_id: str) -> bool:
        """Revoke one key by its row id (the dashboard's revoke button); True if it was active."""
        with self.write() as conn:
            result = conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return bool(result.rowcount)

    # -- the session drilldown -------------------------------------------------------------

    def session_tree(
        self, project_id: str, session_id: str, limit: int
    ) -> tuple[sa.Row[Any], list[sa.Row[Any]], list[tuple[Any, ...]]] | None:
        """(session, agents, its first ``limit`` events as compact rows in time order) as
        the project may read them, or None."""
        with self.read() as conn:
            found = _session_row(conn, project_id, session_id, True)
            if found is None:
                return None
            session_id, row = found
            agents = queries.session_agents(conn, session_id)
            return row, agents, spanreads.tree_rows(conn, session_id, limit)

    def session_changes(
        self, project_id: str, session_id: str, after: tuple[dt.datetime, str], limit: int
    ) -> tuple[sa.Row[Any], list[sa.Row[Any]], list[tuple[Any, ...]]] | None:
        """(session, agents, compact rows of the events written after ``after``), or None."""
        with self.read() as conn:
            found = _session_row(conn, project_id, session_id, True)
            if found is None:
                return None
            session_id, row = found
            changed = spanreads.changed_rows(conn, session_id, after, limit)
            return row, queries.session_agents(conn, session_id), changed

    def session_event(
        self, project_id: str, session_id: str, event_id: str
    ) -> tuple[sa.Row[Any], list[sa.Row[Any]], Any] | None:
        """(session, agents, the event with its log records merged in, or None), or None
        when the project may not read the session."""
        with self.read() as conn:
            found = _session_row(conn, project_id, session_id, True)
            if found is None:
                return None
            session_id, row = found
            event = spanreads.event_row(conn, session_id, event_id)
            merged = None if event is None else spanlogs.with_logs(conn, row.project_id, [event])[0]
            return row, queries.session_agents(conn, session_id), merged

    def session_steps(
        self, project_id: str, session_id: str, limit: int
    ) -> tuple[sa.Row[Any], list[Any]] | None:
        """(session, its first ``limit`` LLM and tool calls with their payloads), or None."""
        with self.read() as conn:
            found = _session_row(conn, project_id, session_id, True)
            if found is None:
                return None
            session_id, row = found
            steps = spanreads.step_rows(conn, session_id, limit)
            return row, spanlogs.with_logs(conn, row.project_id, steps)


def _in_session(project_id: str, session_id: str, write: Callable[[str], _T]) -> _T:
    """``write(session_id)``, or ``write`` of the project's shadow of it when the project
    has no session under that id (:mod:`.tenancy`). Raises ``UnknownSession`` if neither."""
    try:
        return write(session_id)
    except ingest.UnknownSession:  # the transaction was rolled back: nothing was written
        return write(tenancy.shadow_id(project_id, session_id))


def _session_row(
    conn: sa.Connection, project_id: str, session_id: str, as_reader: bool
) -> tuple[str, sa.Row[Any]] | None:
    """(the id the session is stored under, its row shown under ``session_id``), or None."""
    row = queries.session_row(conn, project_id, session_id, as_reader=as_reader)
    if row is not None:
        return session_id, row
    shadow = tenancy.shown_as(conn, project_id, session_id)
    return None if shadow is None else (tenancy.shadow_id(project_id, session_id), shadow)
