"""Tables, as SQLAlchemy Core metadata. Alembic migrations create them; this is what queries use.

Timestamps are stored as naive UTC (``UTCDateTime``) so that SQLite and PostgreSQL sort
and compare them the same way. JSON payloads are stored as text: PostgreSQL's ``jsonb``
refuses ``\\u0000`` and SQLite has no JSON type, and the server never queries inside them.
Costs are integers of pico-dollars (see :mod:`agentwatch.server.pricing`).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "COUNTER_KINDS",
    "EXPRESSION_INDEXES",
    "LLM_SUMS",
    "LOG_BUCKETS",
    "SESSION_SUMS",
    "SPAN_KINDS",
    "SPAN_STATUSES",
    "UTCDateTime",
    "agents",
    "api_keys",
    "dashboard_logins",
    "database_only",
    "developer_errors",
    "events",
    "metadata",
    "projects",
    "rollup_llm",
    "rollup_session_state",
    "rollup_sessions",
    "search_docs",
    "session_tags",
    "sessions",
    "span_logs",
    "threads",
    "traces",
]

# Session counters, one column each: the v2 event types plus "other" for custom types.
COUNTER_KINDS = ("llms", "tools", "actions", "errors", "apis", "other")

# What a span (every stored event is one) is, whichever protocol brought it.
SPAN_KINDS = ("llm", "tool", "action", "agent", "chain", "retrieval", "embedding", "error", "other")
SPAN_STATUSES = ("unset", "ok", "error")


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive UTC in the database."""

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is not None:
            if value.tzinfo is not dt.timezone.utc:
                value = value.astimezone(dt.timezone.utc)
            # The same naive value as replace(tzinfo=None), at a seventh of its cost (an
            # event binds two, and replace's keyword parsing took 4 % of ingest's CPU).
            value = dt.datetime.combine(value.date(), value.time())
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.timezone.utc)

    def bind_processor(self, dialect: Dialect) -> Any:
        """On SQLite, the text Core binds ("2025-01-24 15:43:20.101000", naive UTC) at a
        third of its cost: SQLite's DATETIME %-formats a dict per value, and every write
        binds several (a batch of spans, hundreds)."""
        core = super().bind_processor(dialect)
        if dialect.name != "sqlite" or core is None:
            return core
        return functools.partial(_sqlite_utc_text, core)


def _sqlite_utc_text(core: Any, value: Any) -> Any:
    if type(value) is not dt.datetime:
        return core(value)
    if value.tzinfo is None:
        return value.isoformat(" ", "microseconds")
    if value.tzinfo is not dt.timezone.utc:
        value = value.astimezone(dt.timezone.utc)
    return value.isoformat(" ", "microseconds")[:26]


metadata = sa.MetaData()

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("project_id", sa.String(36), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(8), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("project_id", sa.String(36), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("parent_project_id", sa.String(36), nullable=True),
    sa.Column("init_timestamp", UTCDateTime(), nullable=False),
    sa.Column("end_timestamp", UTCDateTime(), nullable=True),
    sa.Column("end_state", sa.String(32), nullable=False, server_default="Indeterminate"),
    sa.Column("end_state_reason", sa.Text(), nullable=True),
    sa.Column("tags", sa.Text(), nullable=False, server_default="[]"),
    sa.Column("host_env", sa.Text(), nullable=True),
    sa.Column("video", sa.Text(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("last_event_at", UTCDateTime(), nullable=True),
    sa.Column("event_count", sa.BigInteger(), nullable=False, server_default="0"),
    *(
        sa.Column(kind, sa.BigInteger(), nullable=False, server_default="0")
        for kind in COUNTER_KINDS
    ),
    sa.Column("prompt_tokens", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("completion_tokens", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("cached_tokens", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("cost_pico", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("unpriced_llms", sa.BigInteger(), nullable=False, server_default="0"),
    # {reason: count} of events the SDK reported it could not deliver (JSON text).
    sa.Column("dropped_events", sa.Text(), nullable=True),
    # OpenTelemetry sessions: the client's own session key (``session.id``, a conversation
    # id) when it is not the UUID ``id`` itself, the user, free metadata (JSON text) and
    # captured output (agentops 0.4 ``/v4/logs/upload/``).
    sa.Column("external_id", sa.Text(), nullable=True),
    sa.Column("user_id", sa.String(200), nullable=True),
    sa.Column("session_metadata", sa.Text(), nullable=True),
    sa.Column("logs", sa.Text(), nullable=True),
    # The models its events used, a JSON list in order of first use (storage/search.py).
    sa.Column("models", sa.Text(), nullable=True),
    sa.Index("ix_sessions_project_init", "project_id", "init_timestamp", "id"),
    sa.Index("ix_sessions_parent_init", "parent_project_id", "init_timestamp", "id"),
    # The list sorted by cost or errors reads in these (sessionlist.INDEXED_SORTS).
    sa.Index("ix_sessions_project_cost", "project_id", "cost_pico", "id"),
    sa.Index("ix_sessions_project_errors", "project_id", "errors", "id"),
)

session_tags = sa.Table(
    "session_tags",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("tag", sa.String(200), primary_key=True),
    sa.Column("project_id", sa.String(36), nullable=False),
    sa.Index("ix_session_tags_project_tag", "project_id", "tag"),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("name", sa.Text(), nullable=True),
    sa.Column("logs", sa.Text(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

threads = sa.Table(
    "threads",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("agent_id", sa.String(128), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# Every event is a span of its session's tree: ``id`` is its span id (a v2 event id, or an
# OTLP span id in hex), ``parent_id`` the id of its parent in the same session (None: a
# child of the session; a parent may arrive after its children). Keyed by (session_id, id),
# not id alone: an event id replayed into another project's session can then neither
# collide with nor shadow the original.
events = sa.Table(
    "events",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("project_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("init_timestamp", UTCDateTime(), nullable=False),
    sa.Column("end_timestamp", UTCDateTime(), nullable=True),
    sa.Column("agent_id", sa.String(128), nullable=True),
    sa.Column("thread_id", sa.String(128), nullable=True),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("prompt_tokens", sa.BigInteger(), nullable=True),
    sa.Column("completion_tokens", sa.BigInteger(), nullable=True),
    sa.Column("cached_tokens", sa.BigInteger(), nullable=True),
    sa.Column("cost_pico", sa.BigInteger(), nullable=True),
    sa.Column("trigger_event_id", sa.String(128), nullable=True),
    sa.Column("trigger_event_type", sa.String(64), nullable=True),
    sa.Column("data", sa.Text(), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("parent_id", sa.String(128), nullable=True),
    sa.Column("trace_id", sa.String(32), nullable=True),
    sa.Column("kind", sa.String(16), nullable=False, server_default="other"),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("status", sa.String(8), nullable=False, server_default="unset"),
    sa.Index("ix_events_session_init", "session_id", "init_timestamp"),
    sa.Index("ix_events_project_init", "project_id", "init_timestamp"),
)

# Which session an OpenTelemetry trace's spans go to, so that spans of one trace arriving
# over many requests (children first, the span naming the session last) end up together.
# ``explicit``: the session was named by a span (``session.id`` ...), not derived from the
# trace id.
traces = sa.Table(
    "traces",
    metadata,
    sa.Column("project_id", sa.String(36), primary_key=True),
    sa.Column("trace_id", sa.String(32), primary_key=True),
    sa.Column("session_id", sa.String(36), nullable=False),
    sa.Column("explicit", sa.Boolean(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_traces_session", "session_id"),
)

# OpenTelemetry log records that belong to a span (GenAI message events ...), by project,
# trace and span rather than session: a record may arrive before its span, or its span's
# trace may move to another session; they join the span when it is read. ``id`` is a
# digest of the record, so a record sent twice is kept once; ``ordinal`` its place in its
# request, to keep records with equal times in the order they were sent.
span_logs = sa.Table(
    "span_logs",
    metadata,
    sa.Column("project_id", sa.String(36), primary_key=True),
    sa.Column("trace_id", sa.String(32), primary_key=True),
    sa.Column("span_id", sa.String(16), primary_key=True),
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("time", UTCDateTime(), nullable=True),
    sa.Column("ordinal", sa.Integer(), nullable=False),
    sa.Column("event_name", sa.String(200), nullable=True),
    sa.Column("data", sa.Text(), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
)

# Search documents (storage/search.py): the distinct words of a batch of a session's events
# (``event_id`` NULL), of an event an update changed (its id) or of the session's own
# fields (""). Indexed by the database: on SQLite by the FTS5
# table ``search_fts`` (external content, kept by triggers), on PostgreSQL by the column
# ``tsv`` (a generated tsvector under a GIN index); migration 0007 makes both.
search_docs = sa.Table(
    "search_docs",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("session_id", sa.String(36), nullable=False),
    sa.Column("event_id", sa.String(128), nullable=True),
    sa.Column("trace_id", sa.String(32), nullable=True),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Index("ix_search_docs_session_event", "session_id", "event_id"),
)


# Indexes of (project_id, a sort's expression, id) over sessions, by sort: their SQL
# differs per database (sessionlist.sort_expr), so migration 0009 makes them, not this.
EXPRESSION_INDEXES = {
    "tokens": "ix_sessions_project_tokens",
    "duration": "ix_sessions_project_duration",
}


def database_only(name: str | None, type_: str, parent_names: Any) -> bool:
    """False for what migration 0007 makes outside this metadata, the databases' own
        search indexes: SQLite's ``search_fts`` (and its shadow tables), PostgreSQL's ``tsv``
        column and its index; and what 0009 makes, the indexes of the sessions' sort
    expressions (their SQL differs per database). An alembic ``include_name`` hook
    (comparing schemas)."""
    text = name or ""
    made_by_migrations = ("tsv", "ix_search_docs_tsv", *EXPRESSION_INDEXES.values())
    return not (text.startswith("search_fts") or text in made_by_migrations)


developer_errors = sa.Table(
    "developer_errors",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("project_id", sa.String(36), nullable=False),
    sa.Column("session_id", sa.String(36), nullable=True),
    sa.Column("sdk_version", sa.Text(), nullable=True),
    sa.Column("type", sa.Text(), nullable=True),
    sa.Column("message", sa.Text(), nullable=True),
    sa.Column("stack_trace", sa.Text(), nullable=True),
    sa.Column("host_env", sa.Text(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# One row per dashboard login (the login cookie's token, SHA-256 hashed): logging out
# deletes it, so a copied cookie stops working on every server process of the database.
# No foreign keys: it stands alone.
dashboard_logins = sa.Table(
    "dashboard_logins",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Index("ix_dashboard_logins_expires", "expires_at"),
)


# Rollups the overview reads instead of every session and event of a range, kept at ingest
# by ``storage/rollups.py`` (which says what each column holds). ``bucket``: the epoch
# second (UTC) a 15-minute bucket starts at; ``parent_project_id`` '' when none; ``h<i>``:
# a histogram of log-spaced milliseconds (``rollups.log_bucket``).
LOG_BUCKETS = 96
LLM_SUMS = ("calls", "prompt_tokens", "completion_tokens", "cached_tokens", "cost_pico", "unpriced")
SESSION_SUMS = (
    "sessions",
    "running",
    "success",
    "fail",
    "indeterminate",
    "errored",
    "errors",
    "llms",
    "cost_pico",
    "unpriced_llms",
)


def _histogram() -> list[sa.Column[Any]]:
    return [
        sa.Column(f"h{i}", sa.BigInteger(), nullable=False, server_default="0")
        for i in range(LOG_BUCKETS)
    ]


def _sums(*names: str) -> list[sa.Column[Any]]:
    return [sa.Column(n, sa.BigInteger(), nullable=False, server_default="0") for n in names]


rollup_llm = sa.Table(
    "rollup_llm",
    metadata,
    sa.Column("project_id", sa.String(36), primary_key=True),
    sa.Column("bucket", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("parent_project_id", sa.String(36), primary_key=True),
    sa.Column("model", sa.String(200), primary_key=True),
    *_sums(*LLM_SUMS),
    *_histogram(),
    sa.Index("ix_rollup_llm_parent", "parent_project_id", "bucket"),
)

rollup_sessions = sa.Table(
    "rollup_sessions",
    metadata,
    sa.Column("project_id", sa.String(36), primary_key=True),
    sa.Column("bucket", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("parent_project_id", sa.String(36), primary_key=True),
    *_sums(*SESSION_SUMS),
    *_histogram(),
    sa.Index("ix_rollup_sessions_parent", "parent_project_id", "bucket"),
)

# What each session adds to ``rollup_sessions`` now, so that a write moves the difference.
rollup_session_state = sa.Table(
    "rollup_session_state",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("project_id", sa.String(36), nullable=False),
    sa.Column("parent_project_id", sa.String(36), nullable=False),
    sa.Column("bucket", sa.BigInteger(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    *_sums("errored", "errors", "llms", "cost_pico", "unpriced_llms"),
    sa.Column("duration_bucket", sa.Integer(), nullable=False),
)
