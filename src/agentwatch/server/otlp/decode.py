"""OTLP request bodies, protobuf or OTLP JSON, into the neutral types of :mod:`.spans`.

Both encodings (``protobuf.py``, ``otlpjson.py``) go through the same checks
(``checks.py``). What makes the whole body unreadable (truncated protobuf, JSON that is
not an ``Export*ServiceRequest``) raises :class:`BadRequest`; what is wrong with one span
or log record (an id of the wrong length, a time that cannot be one, an attribute nested
past :data:`checks.MAX_DEPTH`) refuses that item only, with a message naming where it is
and which field, so the rest of the request is still stored (``partial_success``).
"""

from __future__ import annotations

import datetime as dt

from agentwatch.server.otlp import otlpjson, protobuf
from agentwatch.server.otlp.spans import Decoded

__all__ = ["Encoding", "decode_logs", "decode_traces", "metric_points"]

Encoding = str  # "protobuf" or "json": the request's, which the answer uses too


def decode_traces(body: bytes, encoding: Encoding, now: dt.datetime) -> Decoded:
    """The spans of an ``ExportTraceServiceRequest`` (items: ``Span``).

    Raises ``BadRequest`` for a body that cannot be read at all.
    """
    return protobuf.spans(body, now) if encoding == "protobuf" else otlpjson.spans(body, now)


def decode_logs(body: bytes, encoding: Encoding) -> Decoded:
    """The records of an ``ExportLogsServiceRequest`` (items: ``LogRecord``)."""
    return protobuf.logs(body) if encoding == "protobuf" else otlpjson.logs(body)


def metric_points(body: bytes, encoding: Encoding) -> int:
    """How many data points an ``ExportMetricsServiceRequest`` holds (they are only counted)."""
    if encoding == "protobuf":
        return protobuf.metric_points(body)
    return otlpjson.metric_points(body)
