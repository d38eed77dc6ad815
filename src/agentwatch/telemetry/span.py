"""``EventSpan``: one recorded event as a finished OpenTelemetry span.

A ``ReadableSpan`` built the usual way costs the recording thread a ``SpanContext``, an
attribute dict, two timestamp conversions and a handful of objects that the garbage
collector then walks for as long as the span waits in the export queue. The
:class:`~agentwatch.telemetry.exporters.session.SessionExporter` needs none of that: it
sends the event's JSON, encoded once when the event was recorded.

So an ``EventSpan`` keeps only that JSON (bytes) and the session id, in slots: one
small object per queued event, holding nothing the collector has to follow. Everything
else a span has (context, attributes, start and end time) is read from the JSON on
first access, for the OpenTelemetry processors a user adds
(``Client(span_processors=...)``), and is then what a span from a tracer would be:
trace id = session id, span id = the low 64 bits of the event id, and the attributes
of :mod:`agentwatch.telemetry.attributes`.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

import orjson
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from agentwatch.telemetry import attributes

__all__ = ["EventSpan"]

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_LOW_64 = (1 << 64) - 1


class EventSpan(ReadableSpan):
    """A finished span for one event; cheap to build, cheap to keep queued."""

    __slots__ = (
        "_attribute_map",
        "_instrumentation_scope",
        "_name",
        "_resource",
        "_span_context",
        "_wire",
        "data",
        "session_id",
    )

    # The fields of ReadableSpan that are the same for every event span.
    _kind = SpanKind.INTERNAL
    _parent = None
    _events = ()
    _links = ()
    _status = Status(StatusCode.UNSET)
    _instrumentation_info = None

    def __init__(
        self,
        session_id: str,
        data: bytes,
        *,
        event_type: str,
        resource: Resource,
        scope: InstrumentationScope,
    ) -> None:
        # ReadableSpan.__init__ is not called: it would set eagerly what is computed lazily.
        self.session_id = session_id
        #: The event as the JSON object ``create_events`` carries (id, agent, times in it).
        self.data = data
        self._name = event_type
        self._resource = resource
        self._instrumentation_scope = scope
        self._span_context: SpanContext | None = None
        self._attribute_map: dict[str, Any] | None = None
        self._wire: dict[str, Any] | None = None

    def _event(self) -> dict[str, Any]:
        """The event's JSON, parsed once, for the fields a span shows."""
        if self._wire is None:
            wire = orjson.loads(self.data)
            self._wire = wire if isinstance(wire, dict) else {}
        return self._wire

    # -- what ReadableSpan reads, computed on first access -----------------------------

    @property
    def _context(self) -> SpanContext:  # type: ignore[override]
        if self._span_context is None:
            span_id = _id_int(self._event().get("id")) & _LOW_64 or 1  # a span id is not 0
            self._span_context = SpanContext(_trace_id(self.session_id), span_id, False, _SAMPLED)
        return self._span_context

    @property
    def _attributes(self) -> dict[str, Any]:  # type: ignore[override]
        if self._attribute_map is None:
            event = self._event()
            attrs: dict[str, Any] = {
                attributes.SESSION_ID: self.session_id,
                attributes.EVENT_ID: str(event.get("id")),
                attributes.EVENT_TYPE: self._name,
                attributes.EVENT_DATA: self.data.decode(),
            }
            if event.get("agent_id") is not None:
                attrs[attributes.AGENT_ID] = str(event["agent_id"])
            self._attribute_map = attrs
        return self._attribute_map

    @property
    def _start_time(self) -> int | None:  # type: ignore[override]
        return _nanos(self._event().get("init_timestamp"))

    @property
    def _end_time(self) -> int | None:  # type: ignore[override]
        return _nanos(self._event().get("end_timestamp"))


def _id_int(event_id: object) -> int:
    """The event id as a 128-bit int (a UUID's own; a hash of anything else)."""
    try:
        return uuid.UUID(str(event_id)).int
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_OID, str(event_id)).int


@functools.lru_cache(maxsize=4096)
def _trace_id(session_id: str) -> int:
    try:
        return uuid.UUID(session_id).int
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_OID, session_id).int


def _nanos(timestamp: str | None) -> int | None:
    if timestamp is None:
        return None
    try:
        return int(datetime.fromisoformat(timestamp).timestamp() * 1e9)
    except (TypeError, ValueError):
        return None
