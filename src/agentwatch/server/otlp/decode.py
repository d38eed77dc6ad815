"""OTLP request bodies, protobuf or OTLP JSON, into the neutral types of :mod:`.spans`.

Both encodings go through the same checks. What makes the whole body unreadable
(truncated protobuf, JSON that is not an ``Export*ServiceRequest``) raises
:class:`BadRequest`; what is wrong with one span or log record (an id of the wrong
length, a time that cannot be one, an attribute nested past :data:`MAX_DEPTH`) refuses that
item only, with a message naming where it is and which field, so the rest of the request
is still stored (``partial_success``).

OTLP JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) differs from
protobuf's JSON mapping: trace and span ids are hex, not base64; enums are integers;
64-bit integers may be strings or numbers. Keys are lowerCamelCase; the protobuf field
names (snake_case) are accepted too. Unknown keys are ignored, as the spec requires.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agentwatch.server.errors import BadRequest
from agentwatch.server.otlp.spans import Decoded, LogRecord, Span, SpanEvent
from agentwatch.server.wire import NonFinite

__all__ = ["MAX_DEPTH", "Encoding", "decode_logs", "decode_traces", "metric_points"]

Encoding = str  # "protobuf" or "json": the request's, which the answer uses too

MAX_DEPTH = 32  # arrays / kvlists inside attribute values
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
_FUTURE = dt.timedelta(days=1)  # clock skew tolerated
_SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUSES = ("unset", "ok", "error")


class _Refused(Exception):
    """One item cannot be stored: ``field`` and ``reason`` say why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# -- shared checks ----------------------------------------------------------------------


def _trace_id(raw: bytes, field: str = "traceId") -> str:
    if len(raw) != 16:
        raise _Refused(field, f"a trace id has 16 bytes (32 hex digits), got {len(raw)}")
    if not any(raw):
        raise _Refused(field, "the all-zero trace id is invalid")
    return raw.hex()


def _span_id(raw: bytes, field: str = "spanId") -> str:
    if len(raw) != 8:
        raise _Refused(field, f"a span id has 8 bytes (16 hex digits), got {len(raw)}")
    if not any(raw):
        raise _Refused(field, "the all-zero span id is invalid")
    return raw.hex()


def _parent_id(raw: bytes) -> str | None:
    # Empty or all-zero: no parent (the spec's "invalid span id" means "none").
    if not raw or not any(raw):
        return None
    return _span_id(raw, "parentSpanId")


def _time(nanos: int, field: str, now: dt.datetime) -> dt.datetime:
    """Unix nanoseconds as an aware datetime, refusing what cannot be a span's time."""
    if nanos <= 0:
        raise _Refused(field, "not set (OTLP times are Unix nanoseconds)")
    when = _EPOCH + dt.timedelta(microseconds=nanos // 1000)
    if when < _EARLIEST:
        raise _Refused(
            field, f"{nanos} is before 2000-01-01 (Unix nanoseconds, not seconds or milliseconds?)"
        )
    if when > now + _FUTURE:
        raise _Refused(field, f"{when.isoformat()} is more than a day ahead of the server's clock")
    return when


def _span_times(
    start_ns: int, end_ns: int, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime | None]:
    start = _time(start_ns, "startTimeUnixNano", now)
    if end_ns == 0:
        return start, None
    end = _time(end_ns, "endTimeUnixNano", now)
    if end < start:
        raise _Refused("endTimeUnixNano", "before startTimeUnixNano")
    return start, end


def _float(value: float) -> float:
    # JSON has no NaN: the value is kept as a NonFinite float, which storage writes as text.
    return value if math.isfinite(value) else NonFinite(value)


def _check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")


def _attributes(pairs: Iterable[Any], read: Callable[[Any], tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, value = read(pair)
        out[key] = value
    return out


# -- protobuf -----------------------------------------------------------------------------


def _pb_value(value: Any, depth: int = 0) -> Any:
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "bool_value":
        return value.bool_value
    if which == "double_value":
        return _float(value.double_value)
    if which == "array_value":
        _check_depth(depth + 1)
        return [_pb_value(v, depth + 1) for v in value.array_value.values]
    if which == "kvlist_value":
        _check_depth(depth + 1)
        return {kv.key: _pb_value(kv.value, depth + 1) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def _pb_pair(kv: Any) -> tuple[str, Any]:
    try:
        return kv.key, _pb_value(kv.value)
    except ValueError as exc:
        raise _Refused(f"attributes[{kv.key!r}]", str(exc)) from None


def _pb_attributes(pairs: Any) -> dict[str, Any]:
    try:  # the common case in one comprehension: a fifth of the decoding time
        return {kv.key: _pb_value(kv.value) for kv in pairs}
    except ValueError:
        return _attributes(pairs, _pb_pair)  # again, to name the attribute at fault


def _pb_parse(message: Any, body: bytes, what: str) -> Any:
    try:
        message.ParseFromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise BadRequest(f"malformed protobuf {what}: {exc}") from None
    return message


def _pb_spans(body: bytes, now: dt.datetime) -> Decoded:
    request = _pb_parse(ExportTraceServiceRequest(), body, "ExportTraceServiceRequest")
    decoded = Decoded()
    for r, resource_spans in enumerate(request.resource_spans):
        try:
            resource = _pb_attributes(resource_spans.resource.attributes)
        except _Refused as refused:
            where = f"resourceSpans[{r}].resource"
            decoded.refused.append(f"{where}.{refused}")
            continue
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            scope = scope_spans.scope.name or None
            for i, span in enumerate(scope_spans.spans):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{i}]"
                try:
                    decoded.items.append(_pb_span(span, where, resource, scope, now))
                except _Refused as refused:
                    decoded.refused.append(f"{where}.{refused}")
    return decoded


def _pb_span(
    span: Any, where: str, resource: dict[str, Any], scope: str | None, now: dt.datetime
) -> Span:
    trace_id = _trace_id(span.trace_id)
    span_id = _span_id(span.span_id)
    start, end = _span_times(span.start_time_unix_nano, span.end_time_unix_nano, now)
    events = []
    for e, event in enumerate(span.events):
        try:
            attributes = _pb_attributes(event.attributes)
        except _Refused as refused:
            raise _Refused(f"events[{e}].{refused.field}", refused.reason) from None
        events.append(SpanEvent(event.name, _event_time(event.time_unix_nano), attributes))
    return Span(
        where=where,
        trace_id=trace_id,
        span_id=span_id,
        parent_id=_parent_id(span.parent_span_id),
        name=span.name,
        kind=_SPAN_KINDS[span.kind] if 0 <= span.kind < len(_SPAN_KINDS) else "unspecified",
        start=start,
        end=end,
        attributes=_pb_attributes(span.attributes),
        events=events,
        status=_STATUSES[span.status.code] if 0 <= span.status.code < 3 else "unset",
        status_message=span.status.message or None,
        resource=resource,
        scope=scope,
    )


def _event_time(nanos: int) -> dt.datetime | None:
    # An event's time is shown, never indexed: a wrong one is kept as absent.
    if nanos <= 0 or nanos >= 2**62:
        return None
    return _EPOCH + dt.timedelta(microseconds=nanos // 1000)


def _pb_logs(body: bytes) -> Decoded:
    request = _pb_parse(ExportLogsServiceRequest(), body, "ExportLogsServiceRequest")
    decoded = Decoded()
    for r, resource_logs in enumerate(request.resource_logs):
        for s, scope_logs in enumerate(resource_logs.scope_logs):
            for i, record in enumerate(scope_logs.log_records):
                where = f"resourceLogs[{r}].scopeLogs[{s}].logRecords[{i}]"
                try:
                    decoded.items.append(_pb_log(record, where))
                except _Refused as refused:
                    decoded.refused.append(f"{where}.{refused}")
    return decoded


def _pb_log(record: Any, where: str) -> LogRecord:
    attributes = _pb_attributes(record.attributes)
    try:
        body = _pb_value(record.body)
    except ValueError as exc:
        raise _Refused("body", str(exc)) from None
    return _log_record(
        where,
        record.trace_id,
        record.span_id,
        record.time_unix_nano or record.observed_time_unix_nano,
        record.event_name,
        body,
        attributes,
        record.severity_text,
    )


def _log_record(
    where: str,
    trace_id: bytes,
    span_id: bytes,
    nanos: int,
    event_name: str,
    body: Any,
    attributes: dict[str, Any],
    severity: str,
) -> LogRecord:
    name = event_name or attributes.get("event.name")
    return LogRecord(
        where=where,
        trace_id=_trace_id(trace_id) if trace_id else None,
        span_id=_span_id(span_id) if span_id else None,
        time=_event_time(nanos),
        event_name=name if isinstance(name, str) and name else None,
        body=body,
        attributes=attributes,
        severity=severity or None,
    )


# -- OTLP JSON ----------------------------------------------------------------------------


def _json_body(body: bytes, what: str) -> Mapping[str, Any]:
    try:
        parsed = json.loads(body, parse_constant=NonFinite)
    except RecursionError:
        raise BadRequest(f"malformed OTLP JSON {what}: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed OTLP JSON {what}: {exc}") from None
    if not isinstance(parsed, dict):
        raise BadRequest(f"malformed OTLP JSON {what}: expected an object")
    return parsed


def _get(obj: Mapping[str, Any], camel: str, snake: str | None = None) -> Any:
    value = obj.get(camel)
    if value is None and snake is not None:
        value = obj.get(snake)
    return value


def _list(obj: Mapping[str, Any], camel: str, snake: str, where: str) -> list[Any]:
    value = _get(obj, camel, snake)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(f"{where}.{camel}: expected an array")
    return value


def _objects(obj: Any, camel: str, snake: str, where: str) -> Iterable[tuple[str, Any]]:
    """``(where, item)`` of the array ``obj[camel]``; 400 when the structure is not OTLP's."""
    if not isinstance(obj, dict):
        raise BadRequest(f"{where}: expected an object")
    for i, item in enumerate(_list(obj, camel, snake, where)):
        yield f"{where}.{camel}[{i}]" if where else f"{camel}[{i}]", item


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Refused(field, "expected a string")
    return _valid_text(value)


def _valid_text(text: str) -> str:
    # JSON may carry lone surrogates ("\ud800"), which no database column can hold.
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode()
    return text


def _json_int(value: Any, field: str) -> int:
    """A 64-bit integer: a number or a decimal string (the OTLP JSON rules)."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise _Refused(field, "expected an integer, got a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, int) and -(2**63) <= value < 2**64:
        return value
    raise _Refused(
        field, f"expected a 64-bit integer (number or decimal string), got {value!r:.40}"
    )


def _json_bytes(value: Any, field: str) -> bytes:
    """An id in OTLP JSON: hex (empty: absent)."""
    if value is None or value == "":
        return b""
    if isinstance(value, str):
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    raise _Refused(field, f"expected hex digits, got {value!r:.40}")


def _json_value(value: Any, depth: int = 0) -> Any:
    if not isinstance(value, dict):
        raise ValueError('expected an AnyValue object such as {"stringValue": "..."}')
    for key, raw in value.items():
        if key in ("stringValue", "string_value") and isinstance(raw, str):
            return _valid_text(raw)
        if key in ("boolValue", "bool_value") and isinstance(raw, bool):
            return raw
        if key in ("intValue", "int_value"):
            try:
                return _json_int(raw, key)
            except _Refused as refused:
                raise ValueError(refused.reason) from None
        if key in ("doubleValue", "double_value"):
            return _json_double(raw)
        if key in ("bytesValue", "bytes_value") and isinstance(raw, str):
            try:
                return base64.b64encode(base64.b64decode(raw, validate=True)).decode()
            except binascii.Error:
                raise ValueError("bytesValue: expected base64") from None
        if key in ("arrayValue", "array_value", "kvlistValue", "kvlist_value"):
            return _json_composite(key, raw, depth)
    if value:
        raise ValueError(f"not an AnyValue: {json.dumps(value, default=str)[:60]}")
    return None


def _json_double(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError("doubleValue: expected a number")
    try:
        return _float(float(raw))
    except ValueError:
        raise ValueError(f"doubleValue: expected a number, got {raw!r:.40}") from None


def _json_composite(key: str, raw: Any, depth: int) -> Any:
    _check_depth(depth + 1)
    values = raw.get("values", []) if isinstance(raw, dict) else None
    if not isinstance(values, list):
        raise ValueError(f'{key}: expected {{"values": [...]}}')
    if key.startswith("array"):
        return [_json_value(v, depth + 1) for v in values]
    out = {}
    for kv in values:
        pair = _json_pair(kv, depth + 1)
        out[pair[0]] = pair[1]
    return out


def _json_pair(kv: Any, depth: int = 0) -> tuple[str, Any]:
    if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
        raise ValueError('expected a KeyValue object {"key": ..., "value": {...}}')
    value = kv.get("value")
    return _valid_text(kv["key"]), None if value is None else _json_value(value, depth)


def _json_attribute(kv: Any) -> tuple[str, Any]:
    try:
        return _json_pair(kv)
    except ValueError as exc:
        key = kv.get("key") if isinstance(kv, dict) else None
        raise _Refused(f"attributes[{key!r}]", str(exc)) from None


def _json_attributes(obj: Mapping[str, Any]) -> dict[str, Any]:
    pairs = _get(obj, "attributes")
    if pairs is None:
        return {}
    if not isinstance(pairs, list):
        raise _Refused("attributes", "expected an array of KeyValue objects")
    return _attributes(pairs, _json_attribute)


def _json_spans(body: bytes, now: dt.datetime) -> Decoded:
    request = _json_body(body, "ExportTraceServiceRequest")
    decoded = Decoded()
    for where_r, resource_spans in _objects(request, "resourceSpans", "resource_spans", ""):
        if not isinstance(resource_spans, dict):
            raise BadRequest(f"{where_r}: expected an object")
        try:
            resource = _json_attributes(_get(resource_spans, "resource") or {})
        except _Refused as refused:
            decoded.refused.append(f"{where_r}.resource.{refused}")
            continue
        for where_s, scope_spans in _objects(resource_spans, "scopeSpans", "scope_spans", where_r):
            scope = (
                (_get(scope_spans, "scope") or {}).get("name")
                if isinstance(scope_spans, dict)
                else None
            )
            for where, span in _objects(scope_spans, "spans", "spans", where_s):
                try:
                    decoded.items.append(_json_span(span, where, resource, scope, now))
                except _Refused as refused:
                    decoded.refused.append(f"{where}.{refused}")
    return decoded


def _json_span(
    span: Any, where: str, resource: dict[str, Any], scope: Any, now: dt.datetime
) -> Span:
    if not isinstance(span, dict):
        raise _Refused("span", "expected an object")
    trace_id = _trace_id(_json_bytes(_get(span, "traceId", "trace_id"), "traceId"))
    span_id = _span_id(_json_bytes(_get(span, "spanId", "span_id"), "spanId"))
    parent = _parent_id(_json_bytes(_get(span, "parentSpanId", "parent_span_id"), "parentSpanId"))
    start, end = _span_times(
        _json_int(_get(span, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano"),
        _json_int(_get(span, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano"),
        now,
    )
    status = _get(span, "status") or {}
    if not isinstance(status, dict):
        raise _Refused("status", "expected an object")
    return Span(
        where=where,
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent,
        name=_text(_get(span, "name"), "name"),
        kind=_enum(_get(span, "kind"), _SPAN_KINDS, "SPAN_KIND_", "kind"),
        start=start,
        end=end,
        attributes=_json_attributes(span),
        events=_json_events(span),
        status=_enum(status.get("code"), _STATUSES, "STATUS_CODE_", "status.code"),
        status_message=_text(status.get("message"), "status.message") or None,
        resource=resource,
        scope=scope if isinstance(scope, str) and scope else None,
    )


def _enum(value: Any, names: tuple[str, ...], prefix: str, field: str) -> str:
    """An OTLP enum sent as its number (the spec) or its protobuf name (some encoders)."""
    if value is None:
        return names[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return names[value] if 0 <= value < len(names) else names[0]
    if isinstance(value, str) and value.upper().removeprefix(prefix).lower() in names:
        return value.upper().removeprefix(prefix).lower()
    raise _Refused(field, f"expected one of 0..{len(names) - 1}, got {value!r:.40}")


def _json_events(span: Mapping[str, Any]) -> list[SpanEvent]:
    events = _get(span, "events") or []
    if not isinstance(events, list):
        raise _Refused("events", "expected an array")
    out = []
    for e, event in enumerate(events):
        if not isinstance(event, dict):
            raise _Refused(f"events[{e}]", "expected an object")
        try:
            attributes = _json_attributes(event)
            nanos = _json_int(_get(event, "timeUnixNano", "time_unix_nano"), "timeUnixNano")
            out.append(SpanEvent(_text(event.get("name"), "name"), _event_time(nanos), attributes))
        except _Refused as refused:
            raise _Refused(f"events[{e}].{refused.field}", refused.reason) from None
    return out


def _json_logs(body: bytes) -> Decoded:
    request = _json_body(body, "ExportLogsServiceRequest")
    decoded = Decoded()
    for where_r, resource_logs in _objects(request, "resourceLogs", "resource_logs", ""):
        for where_s, scope_logs in _objects(resource_logs, "scopeLogs", "scope_logs", where_r):
            for where, record in _objects(scope_logs, "logRecords", "log_records", where_s):
                try:
                    decoded.items.append(_json_log(record, where))
                except _Refused as refused:
                    decoded.refused.append(f"{where}.{refused}")
    return decoded


def _json_log(record: Any, where: str) -> LogRecord:
    if not isinstance(record, dict):
        raise _Refused("logRecord", "expected an object")
    try:
        body = None if record.get("body") is None else _json_value(record["body"])
    except ValueError as exc:
        raise _Refused("body", str(exc)) from None
    nanos = _json_int(_get(record, "timeUnixNano", "time_unix_nano"), "timeUnixNano")
    if not nanos:
        observed = _get(record, "observedTimeUnixNano", "observed_time_unix_nano")
        nanos = _json_int(observed, "observedTimeUnixNano")
    return _log_record(
        where,
        _json_bytes(_get(record, "traceId", "trace_id"), "traceId"),
        _json_bytes(_get(record, "spanId", "span_id"), "spanId"),
        nanos,
        _text(_get(record, "eventName", "event_name"), "eventName"),
        body,
        _json_attributes(record),
        _text(_get(record, "severityText", "severity_text"), "severityText"),
    )


# -- entry points -------------------------------------------------------------------------


def decode_traces(body: bytes, encoding: Encoding, now: dt.datetime) -> Decoded:
    """The spans of an ``ExportTraceServiceRequest`` (items: :class:`Span`).

    Raises :class:`BadRequest` for a body that cannot be read at all.
    """
    return _pb_spans(body, now) if encoding == "protobuf" else _json_spans(body, now)


def decode_logs(body: bytes, encoding: Encoding) -> Decoded:
    """The records of an ``ExportLogsServiceRequest`` (items: :class:`LogRecord`)."""
    return _pb_logs(body) if encoding == "protobuf" else _json_logs(body)


_POINT_KINDS = ("gauge", "sum", "histogram", "exponentialHistogram", "summary")


def metric_points(body: bytes, encoding: Encoding) -> int:
    """How many data points an ``ExportMetricsServiceRequest`` holds (they are only counted)."""
    if encoding == "protobuf":
        request = _pb_parse(ExportMetricsServiceRequest(), body, "ExportMetricsServiceRequest")
        return sum(
            len(getattr(metric, metric.WhichOneof("data")).data_points)
            for resource in request.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.WhichOneof("data")
        )
    request_json = _json_body(body, "ExportMetricsServiceRequest")
    count = 0
    for where_r, resource in _objects(request_json, "resourceMetrics", "resource_metrics", ""):
        for where_s, scope in _objects(resource, "scopeMetrics", "scope_metrics", where_r):
            for _, metric in _objects(scope, "metrics", "metrics", where_s):
                for kind in _POINT_KINDS:
                    data = metric.get(kind) if isinstance(metric, dict) else None
                    points = data.get("dataPoints") if isinstance(data, dict) else None
                    count += len(points) if isinstance(points, list) else 0
    return count
