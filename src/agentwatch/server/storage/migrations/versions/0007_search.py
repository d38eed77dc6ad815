"""Full-text search: documents of words per event and per session, indexed by the database.

SQLite: ``search_fts``, an FTS5 table over ``search_docs.body`` (external content, kept by
triggers). PostgreSQL: a generated ``tsvector`` column under a GIN index. Sessions gain
``models``, the models their events used. Every event, session and OpenTelemetry log
record stored before is indexed here, a chunk at a time, with the same word splitting as ingest
(``storage/search.py``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from agentwatch.server.storage import search

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_CHUNK = 500  # sessions at a time
_FTS = (
    # Documents are distinct words matched one at a time: no positions (detail=none) and
    # no sizes (columnsize=0) to keep, which makes each batch's index write smaller.
    "CREATE VIRTUAL TABLE search_fts USING fts5(body, content='search_docs', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 0', detail=none, "
    "columnsize=0)",
    "CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN "
    "INSERT INTO search_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER search_docs_au AFTER UPDATE OF body ON search_docs BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, body) VALUES ('delete', old.id, old.body); "
    "INSERT INTO search_fts(rowid, body) VALUES (new.id, new.body); END",
)


def upgrade() -> None:
    op.add_column("sessions", sa.Column("models", sa.Text(), nullable=True))
    id_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "search_docs",
        sa.Column("id", id_type, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=True),
        sa.Column("trace_id", sa.String(32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
    )
    op.create_index("ix_search_docs_session_event", "search_docs", ["session_id", "event_id"])
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for statement in _FTS:
            op.execute(statement)
    else:
        op.execute(
            "ALTER TABLE search_docs ADD COLUMN tsv tsvector "
            # The words as they are (split by search.py), not parsed again: PostgreSQL's
            # parser reads "6e9e19" as a number and would split what a query asks for.
            "GENERATED ALWAYS AS (array_to_tsvector(string_to_array(body, ' '))) STORED"
        )
    _backfill_events(conn)
    _backfill_sessions(conn)
    _backfill_span_logs(conn)
    if conn.dialect.name == "postgresql":
        # Built once over the backfilled rows: faster than growing it row by row.
        op.execute("CREATE INDEX ix_search_docs_tsv ON search_docs USING gin (tsv)")


def _backfill_events(conn: sa.Connection) -> None:
    """Documents as ingest writes them (:func:`search.index`): per session and trace, one
    for each :data:`search._DOC_EVENTS` events; and each session's models."""
    events = sa.table(
        "events",
        sa.column("session_id"),
        sa.column("id"),
        sa.column("trace_id"),
        sa.column("model"),
        sa.column("init_timestamp"),
        sa.column("data"),
    )
    docs = sa.table(
        "search_docs",
        sa.column("session_id"),
        sa.column("event_id"),
        sa.column("trace_id"),
        sa.column("body"),
    )
    sessions = sa.table("sessions", sa.column("id"), sa.column("models"))
    after = ""
    while True:
        # A chunk of sessions at a time, each with all of its events.
        chunk = list(
            conn.execute(
                sa.select(sessions.c.id)
                .where(sessions.c.id > after)
                .order_by(sessions.c.id)
                .limit(_CHUNK)
            ).scalars()
        )
        if not chunk:
            break
        groups: dict[tuple[str, str], list[str]] = {}
        models: dict[str, list[str]] = {}
        rows = conn.execute(
            sa.select(events.c.session_id, events.c.trace_id, events.c.model, events.c.data)
            .where(events.c.session_id.in_(chunk))
            .order_by(events.c.session_id, events.c.init_timestamp, events.c.id)
        )
        for session_id, trace_id, model, data in rows:
            groups.setdefault((session_id, trace_id or ""), []).append(
                search.text_of(_document(data))
            )
            used = models.setdefault(session_id, [])
            if model and model not in used:
                used.append(model)
        found = [
            {"session_id": s, "event_id": None, "trace_id": t or None, "body": body}
            for (s, t), texts in sorted(groups.items())
            for i in range(0, len(texts), search.DOC_EVENTS)
            if (body := search.document(texts[i : i + search.DOC_EVENTS]))
        ]
        if found:
            conn.execute(docs.insert(), found)
        for session_id, used in sorted(models.items()):
            if used:
                conn.execute(
                    sessions.update()
                    .where(sessions.c.id == session_id)
                    .values(models=json.dumps(used))
                )
        after = chunk[-1]


def _document(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return {}


def _backfill_sessions(conn: sa.Connection) -> None:
    sessions = sa.table(
        "sessions",
        sa.column("id"),
        sa.column("external_id"),
        sa.column("user_id"),
        sa.column("end_state_reason"),
        sa.column("tags"),
        sa.column("session_metadata"),
    )
    agents = sa.table("agents", sa.column("session_id"), sa.column("name"))
    docs = sa.table(
        "search_docs", sa.column("session_id"), sa.column("event_id"), sa.column("body")
    )
    after = ""
    while True:
        rows = conn.execute(
            sa.select(sessions).where(sessions.c.id > after).order_by(sessions.c.id).limit(_CHUNK)
        ).all()
        if not rows:
            break
        names: dict[str, list[str]] = {}
        for session_id, name in conn.execute(
            sa.select(agents.c.session_id, agents.c.name).where(
                agents.c.session_id.in_([r.id for r in rows])
            )
        ):
            names.setdefault(session_id, []).append(name)
        conn.execute(
            docs.insert(),
            [
                {
                    "session_id": r.id,
                    "event_id": "",
                    "body": search.session_body(r, names.get(r.id, [])),
                }
                for r in rows
            ],
        )
        after = rows[-1].id


def _backfill_span_logs(conn: sa.Connection) -> None:
    """Documents of the log records of traces that have a session, as ingest writes them."""
    logs = sa.table("span_logs", sa.column("project_id"), sa.column("trace_id"))
    found: dict[str, list[str]] = {}
    for project_id, trace_id in conn.execute(
        sa.select(logs.c.project_id, logs.c.trace_id).distinct()
    ):
        found.setdefault(project_id, []).append(trace_id)
    for project_id, trace_ids in sorted(found.items()):
        search.index(conn, log_traces=(project_id, trace_ids))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for name in ("search_docs_au", "search_docs_ad", "search_docs_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_index("ix_search_docs_session_event", "search_docs")
    op.drop_table("search_docs")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("models")
