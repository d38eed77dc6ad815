"""Plain values that cross the storage interface, in and out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "ApiKeyInfo",
    "EventRecord",
    "KeyOwner",
    "Project",
    "SessionFields",
    "SpanLog",
    "SpanOutcome",
    "SpanWrite",
]


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    created_at: dt.datetime


@dataclass(frozen=True)
class ApiKeyInfo:
    """A key as listed: never its plaintext, only the display prefix."""

    id: str
    project_id: str
    project_name: str
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class KeyOwner:
    """Who an accepted API key belongs to."""

    key_id: str
    project_id: str


@dataclass(frozen=True)
class SessionFields:
    """Session attributes from a create/update body; ``None`` means "not given"."""

    session_id: str
    init_timestamp: dt.datetime | None = None
    end_timestamp: dt.datetime | None = None
    end_state: str | None = None
    end_state_reason: str | None = None
    tags: tuple[str, ...] | None = None
    host_env: str | None = None  # JSON text
    video: str | None = None
    dropped_events: str | None = None  # JSON text: {reason: count} the SDK could not deliver


class EventRecord(NamedTuple):
    """One event — a span of its session's tree — normalised: indexed columns plus the
    JSON document it is shown from (the v2 event as sent; for an OTLP span, its mapped
    fields and every attribute).

    A NamedTuple rather than a frozen dataclass, as :class:`SpanWrite`: as immutable, and
    made for every span of every batch at a third of the cost (a frozen dataclass's
    ``__init__`` calls ``object.__setattr__`` per field)."""

    id: str  # the span id: a v2 event id, or an OTLP span id as 16 hex digits
    event_type: str
    counter: str  # the session counter it adds to: one of schema.COUNTER_KINDS
    init_timestamp: dt.datetime
    end_timestamp: dt.datetime | None
    agent_id: str | None
    thread_id: str | None
    model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cached_tokens: int | None
    cost_pico: int | None
    trigger_event_id: str | None
    trigger_event_type: str | None
    data: dict[str, Any]
    kind: str = "other"  # one of schema.SPAN_KINDS
    parent_id: str | None = None  # the parent span's id in the same session; None: a root
    trace_id: str | None = None  # OTLP trace id, 32 hex digits; None for v2 events
    name: str | None = None  # display name: action type, tool name, model, span name ...
    status: str = "unset"  # one of schema.SPAN_STATUSES


class SpanWrite(NamedTuple):
    """One OpenTelemetry span to store, with what it says about its session.

    Which session it lands in is decided in the database (see ``storage/traces.py``):
    its trace's session if the trace is known, else ``named_session``, else
    ``trace_session``.
    """

    where: str  # the span's place in its request, for refusal messages
    trace_id: str
    trace_session: str  # the session of a trace no span names one for (derived from it)
    named_session: str | None  # the session a span names (session.id ...), as a UUID
    external_id: str | None  # the name as sent, when it is not the UUID itself
    records: tuple[EventRecord, ...]  # the span, then the error events it gives
    root: bool  # a span without parent: its end ends the session
    tags: tuple[str, ...] = ()
    end_state: str | None = None  # Success / Fail
    user_id: str | None = None
    metadata: str | None = None  # JSON text
    agent_id: str | None = None
    agent_name: str | None = None


@dataclass(frozen=True)
class SpanOutcome:
    """What became of a batch of :class:`SpanWrite`: spans taken (new or already stored)
    and the refusals, one message each."""

    accepted: int
    inserted: int
    refused: tuple[str, ...]
    sessions: tuple[str, ...]  # the sessions written into


@dataclass(frozen=True)
class SpanLog:
    """An OpenTelemetry log record kept for the span it names (``storage/spanlogs.py``)."""

    trace_id: str
    span_id: str
    id: str  # a digest of the record: the same record twice is kept once
    time: dt.datetime | None
    ordinal: int  # its place in its request
    event_name: str | None
    data: str  # JSON text: the record as sent, and what it adds to the span's view
