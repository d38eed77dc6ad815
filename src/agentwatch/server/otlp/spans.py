"""The neutral span and log types every OTLP encoding decodes into.

Decoding (``decode.py``) checks everything a span must have to be stored (ids of the
right length, times that are times, attribute values of OTLP's types) and produces these
plain objects; mapping (``mapping.py``) reads only them, never protobuf or JSON.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Decoded", "LogRecord", "Span", "SpanEvent"]


@dataclass(slots=True)
class SpanEvent:
    """A timed event inside a span (``exception``, a GenAI message event, ...)."""

    name: str
    time: dt.datetime | None
    attributes: dict[str, Any]


@dataclass(slots=True)
class Span:
    """One OTLP span, checked: hex ids, aware UTC times, attributes as plain JSON values.

    ``where`` names it in the request (``resourceSpans[0].scopeSpans[1].spans[7]``) for
    messages about it.
    """

    where: str
    trace_id: str  # 32 lower-case hex digits, not all zero
    span_id: str  # 16 lower-case hex digits, not all zero
    parent_id: str | None  # 16 hex digits, or None for a root
    name: str
    kind: str  # OTel SpanKind: internal, server, client, producer, consumer, unspecified
    start: dt.datetime
    end: dt.datetime | None  # None: the span was exported before it ended
    attributes: dict[str, Any]
    events: list[SpanEvent]
    status: str  # unset, ok, error
    status_message: str | None
    resource: dict[str, Any]  # shared by every span of its resource: never mutate
    scope: str | None  # instrumentation scope name


@dataclass(slots=True)
class LogRecord:
    """One OTLP log record with the span it belongs to (``span_id`` None: no span context)."""

    where: str
    trace_id: str | None
    span_id: str | None
    time: dt.datetime | None
    event_name: str | None  # LogRecord.event_name, else the ``event.name`` attribute
    body: Any
    attributes: dict[str, Any]
    severity: str | None


@dataclass(slots=True)
class Decoded:
    """What a request held: the items that could be read, and why the others could not."""

    items: list[Any] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "<where>.<field>: <reason>"
