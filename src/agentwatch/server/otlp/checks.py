"""Checks both OTLP encodings share: what a span's ids and times must be to be stored.

What fails a check refuses one item (:class:`Refused` names the field and why), never
the request: ``decode.py`` collects the refusals for the answer's ``partial_success``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from typing import Any

from agentwatch.server.jsonbody import NonFinite
from agentwatch.server.otlp.spans import LogRecord

__all__ = [
    "MAX_DEPTH",
    "SPAN_KINDS",
    "STATUSES",
    "Refused",
    "attributes",
    "check_depth",
    "event_time",
    "log_record",
    "number",
    "parent_id",
    "span_id",
    "span_times",
    "trace_id",
]

MAX_DEPTH = 32  # arrays / kvlists inside attribute values
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
_FUTURE = dt.timedelta(days=1)  # clock skew tolerated
SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
STATUSES = ("unset", "ok", "error")


class Refused(Exception):
    """One item cannot be stored: ``field`` and ``reason`` say why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# -- shared checks ----------------------------------------------------------------------


def trace_id(raw: bytes, field: str = "traceId") -> str:
    if len(raw) != 16:
        raise Refused(field, f"a trace id has 16 bytes (32 hex digits), got {len(raw)}")
    if not any(raw):
        raise Refused(field, "the all-zero trace id is invalid")
    return raw.hex()


def span_id(raw: bytes, field: str = "spanId") -> str:
    if len(raw) != 8:
        raise Refused(field, f"a span id has 8 bytes (16 hex digits), got {len(raw)}")
    if not any(raw):
        raise Refused(field, "the all-zero span id is invalid")
    return raw.hex()


def parent_id(raw: bytes, own: str) -> str | None:
    """The parent span id of the span whose id is ``own``, or None for a root.

    A span naming itself is refused, as a v2 event naming itself is; links that loop
    through several spans are taken as sent (ingest is order-free, and every read of the
    tree places each span once: README "The v2 protocol")."""
    # Empty or all-zero: no parent (the spec's "invalid span id" means "none").
    if not raw or not any(raw):
        return None
    parent = span_id(raw, "parentSpanId")
    if parent == own:
        raise Refused("parentSpanId", "a span cannot be its own parent")
    return parent


def _time(nanos: int, field: str, now: dt.datetime) -> dt.datetime:
    """Unix nanoseconds as an aware datetime, refusing what cannot be a span's time."""
    if nanos <= 0:
        raise Refused(field, "not set (OTLP times are Unix nanoseconds)")
    when = _EPOCH + dt.timedelta(microseconds=nanos // 1000)
    if when < _EARLIEST:
        raise Refused(
            field, f"{nanos} is before 2000-01-01 (Unix nanoseconds, not seconds or milliseconds?)"
        )
    if when > now + _FUTURE:
        raise Refused(field, f"{when.isoformat()} is more than a day ahead of the server's clock")
    return when


def span_times(
    start_ns: int, end_ns: int, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime | None]:
    start = _time(start_ns, "startTimeUnixNano", now)
    if end_ns == 0:
        return start, None
    end = _time(end_ns, "endTimeUnixNano", now)
    if end < start:
        raise Refused("endTimeUnixNano", "before startTimeUnixNano")
    return start, end


def number(value: float) -> float:
    # JSON has no NaN: the value is kept as a NonFinite float, which storage writes as text.
    return value if math.isfinite(value) else NonFinite(value)


def check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")


def attributes(pairs: Iterable[Any], read: Callable[[Any], tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, value = read(pair)
        out[key] = value
    return out


def event_time(nanos: int) -> dt.datetime | None:
    """A span event's or log record's time; None when it cannot be one."""
    # An event's time is shown, never indexed: a wrong one is kept as absent.
    if nanos <= 0 or nanos >= 2**62:
        return None
    return _EPOCH + dt.timedelta(microseconds=nanos // 1000)


def log_record(
    where: str,
    raw_trace: bytes,
    raw_span: bytes,
    nanos: int,
    event_name: str,
    body: Any,
    attributes: dict[str, Any],
    severity: str,
) -> LogRecord:
    name = event_name or attributes.get("event.name")
    return LogRecord(
        where=where,
        trace_id=trace_id(raw_trace) if raw_trace else None,
        span_id=span_id(raw_span) if raw_span else None,
        time=event_time(nanos),
        event_name=name if isinstance(name, str) and name else None,
        body=body,
        attributes=attributes,
        severity=severity or None,
    )
