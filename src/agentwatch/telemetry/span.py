"""Recorded events as genuine OpenTelemetry ``ReadableSpan`` objects.

agentwatch does not record through a tracer: a real OTel span costs the caller about as
much as the whole of ``record()`` is allowed to (bench/README.md, "An honest OpenTelemetry
layer"), and the export queue needs only the event's JSON. Where OpenTelemetry
processors are attached (``Client(span_processors=...)``), each event is also built into
a ``ReadableSpan`` through its public constructor, and handed to them when recorded.

The mapping, one span per event: trace id = the session id, span id = the low 64 bits
of the event id, parent = the span of the event's ``parent_id`` (same trace), start
and end = the event's timestamps, and the attributes of
:mod:`agentwatch.telemetry.attributes`. Built from the event's wire mapping, so the same
function serves the queued JSON of an event (an OTLP exporter on the export thread).

The OpenTelemetry SDK is imported by :class:`EventSpans`, not by this module's import.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agentwatch.telemetry import attributes

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
    from opentelemetry.trace import StatusCode

__all__ = ["EventSpans", "nanos", "span_id_of", "trace_id_of"]

_LOW_64 = (1 << 64) - 1


class EventSpans:
    """Builds each recorded event into a ``ReadableSpan`` for ``processors``."""

    def __init__(self, processors: Sequence[SpanProcessor], sdk_version: str) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        self.processors = tuple(processors)
        self.resource = Resource.create({"service.name": "agentwatch"})
        self.scope = InstrumentationScope("agentwatch", sdk_version)

    def on_end(self, wire: Mapping[str, Any], data: bytes) -> None:
        """Hand the span of one event (its wire mapping and JSON) to every processor."""
        span = self.build(wire, data)
        for processor in self.processors:
            processor.on_end(span)

    def build(self, wire: Mapping[str, Any], data: bytes) -> ReadableSpan:
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.trace import SpanContext, SpanKind, Status, TraceFlags

        session_id = str(wire["session_id"])
        trace_id = trace_id_of(session_id)
        flags = TraceFlags(TraceFlags.SAMPLED)
        parent_id = wire.get("parent_id")
        parent = (
            None
            if parent_id is None
            else SpanContext(trace_id, span_id_of(parent_id), is_remote=False, trace_flags=flags)
        )
        return ReadableSpan(
            name=str(wire.get("event_type")),
            context=SpanContext(
                trace_id, span_id_of(wire["id"]), is_remote=False, trace_flags=flags
            ),
            parent=parent,
            resource=self.resource,
            attributes=_attributes(wire, session_id, data),
            kind=SpanKind.INTERNAL,
            status=Status(_status_code(wire.get("status"))),
            start_time=nanos(wire.get("init_timestamp")),
            end_time=nanos(wire.get("end_timestamp")),
            instrumentation_scope=self.scope,
        )

    def shutdown(self) -> None:
        for processor in self.processors:
            processor.shutdown()


_OPTIONAL = (
    (attributes.AGENT_ID, "agent_id"),
    (attributes.EVENT_KIND, "kind"),
    (attributes.PARENT_ID, "parent_id"),
)


def _attributes(wire: Mapping[str, Any], session_id: str, data: bytes) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        attributes.SESSION_ID: session_id,
        attributes.EVENT_ID: str(wire["id"]),
        attributes.EVENT_TYPE: str(wire.get("event_type")),
        attributes.EVENT_DATA: data.decode(),
    }
    for key, name in _OPTIONAL:
        value = wire.get(name)
        if value is not None:
            attrs[key] = str(value)
    return attrs


def _status_code(status: object) -> StatusCode:
    from opentelemetry.trace import StatusCode

    if status == "error":
        return StatusCode.ERROR
    return StatusCode.OK if status == "ok" else StatusCode.UNSET


def span_id_of(event_id: object) -> int:
    """The span id of an event: the low 64 bits of its id (a UUID's; a hash of anything
    else), never 0 (an invalid span id)."""
    return _id_int(event_id) & _LOW_64 or 1


@functools.lru_cache(maxsize=4096)
def trace_id_of(session_id: str) -> int:
    """The trace id of a session: its id as a 128-bit integer."""
    return _id_int(session_id)


def _id_int(value: object) -> int:
    if isinstance(value, uuid.UUID):
        return value.int
    try:
        return uuid.UUID(str(value)).int
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_OID, str(value)).int


def nanos(timestamp: object) -> int | None:
    """An event's ISO-8601 timestamp in Unix nanoseconds, or None if it is not one."""
    if not isinstance(timestamp, str):
        return None
    try:
        return int(datetime.fromisoformat(timestamp).timestamp() * 1e9)
    except ValueError:
        return None
