"""OTLP JSON bodies (``application/json``) into the neutral types of :mod:`.spans`.

OTLP JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) differs from
protobuf's JSON mapping: trace and span ids are hex, not base64; enums are integers;
64-bit integers may be strings or numbers. Keys are lowerCamelCase; the protobuf field
names (snake_case) are accepted too. Unknown keys are ignored, as the spec requires.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from agentwatch.server.errors import BadRequest
from agentwatch.server.jsonbody import TOO_DEEP, loads
from agentwatch.server.otlp import checks
from agentwatch.server.otlp.spans import Decoded, LogRecord, Span, SpanEvent

__all__ = ["logs", "metric_points", "spans"]


# An AnyValue nests in 4 JSON levels ({"kvlistValue": {"values": [{"value": ...), under
# an envelope of 8: what a body parsed past the C parser's depth keeps.
_MAX_JSON_DEPTH = 4 * checks.MAX_DEPTH + 16


def _json_body(body: bytes, what: str) -> Mapping[str, Any]:
    try:
        parsed = loads(body, _MAX_JSON_DEPTH)
    except BadRequest as exc:
        reason = exc.message.removeprefix("malformed JSON body: ")
        raise BadRequest(f"malformed OTLP JSON {what}: {reason}") from None
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
        raise checks.Refused(field, "expected a string")
    try:
        return _valid_text(value)
    except ValueError as exc:
        raise checks.Refused(field, str(exc)) from None


def _valid_text(text: str) -> str:
    """``text`` if it is text; ValueError (the item is refused, naming its field) when it
    holds a lone surrogate ("\ud800" is valid JSON), which no database column can hold
    and which is no character: storing it changed would store what was not sent."""
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        raise ValueError(
            f"holds a lone surrogate (U+{code:04X}) at character {exc.start}, which is not "
            "text: send valid UTF-8 (surrogates only in pairs)"
        ) from None
    return text


def _json_int(value: Any, field: str) -> int:
    """A 64-bit integer: a number or a decimal string (the OTLP JSON rules)."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise checks.Refused(field, "expected an integer, got a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, int) and -(2**63) <= value < 2**64:
        return value
    raise checks.Refused(
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
    raise checks.Refused(field, f"expected hex digits, got {value!r:.40}")


def _json_value(value: Any, depth: int = 0) -> Any:
    if value is TOO_DEEP:
        raise ValueError(f"nested deeper than {checks.MAX_DEPTH} levels")
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
            except checks.Refused as refused:
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
    if value:  # named by its keys: its values may nest as deep as the parser went
        raise ValueError(f"not an AnyValue: an object with keys {sorted(value)[:5]!r:.80}")
    return None


def _json_double(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError("doubleValue: expected a number")
    try:
        return checks.number(float(raw))
    except ValueError:
        raise ValueError(f"doubleValue: expected a number, got {raw!r:.40}") from None


def _json_composite(key: str, raw: Any, depth: int) -> Any:
    checks.check_depth(depth + 1)
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
        raise checks.Refused(f"attributes[{key!r}]", str(exc)) from None


def _json_attributes(obj: Mapping[str, Any]) -> dict[str, Any]:
    pairs = _get(obj, "attributes")
    if pairs is None:
        return {}
    if not isinstance(pairs, list):
        raise checks.Refused("attributes", "expected an array of KeyValue objects")
    return checks.attributes(pairs, _json_attribute)


def _json_spans(body: bytes, now: dt.datetime) -> Decoded:
    request = _json_body(body, "ExportTraceServiceRequest")
    decoded = Decoded()
    for where_r, resource_spans in _objects(request, "resourceSpans", "resource_spans", ""):
        if not isinstance(resource_spans, dict):
            raise BadRequest(f"{where_r}: expected an object")
        try:
            resource = _json_attributes(_get(resource_spans, "resource") or {})
        except checks.Refused as refused:
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
                except checks.Refused as refused:
                    decoded.refused.append(f"{where}.{refused}")
    return decoded


def _json_span(
    span: Any, where: str, resource: dict[str, Any], scope: Any, now: dt.datetime
) -> Span:
    if not isinstance(span, dict):
        raise checks.Refused("span", "expected an object")
    trace_id = checks.trace_id(_json_bytes(_get(span, "traceId", "trace_id"), "traceId"))
    span_id = checks.span_id(_json_bytes(_get(span, "spanId", "span_id"), "spanId"))
    parent = checks.parent_id(
        _json_bytes(_get(span, "parentSpanId", "parent_span_id"), "parentSpanId"), span_id
    )
    start, end = checks.span_times(
        _json_int(_get(span, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano"),
        _json_int(_get(span, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano"),
        now,
    )
    status = _get(span, "status") or {}
    if not isinstance(status, dict):
        raise checks.Refused("status", "expected an object")
    return Span(
        where=where,
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent,
        name=_text(_get(span, "name"), "name"),
        kind=_enum(_get(span, "kind"), checks.SPAN_KINDS, "SPAN_KIND_", "kind"),
        start=start,
        end=end,
        attributes=_json_attributes(span),
        events=_json_events(span),
        status=_enum(status.get("code"), checks.STATUSES, "STATUS_CODE_", "status.code"),
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
    raise checks.Refused(field, f"expected one of 0..{len(names) - 1}, got {value!r:.40}")


def _json_events(span: Mapping[str, Any]) -> list[SpanEvent]:
    events = _get(span, "events") or []
    if not isinstance(events, list):
        raise checks.Refused("events", "expected an array")
    out = []
    for e, event in enumerate(events):
        if not isinstance(event, dict):
            raise checks.Refused(f"events[{e}]", "expected an object")
        try:
            attributes = _json_attributes(event)
            nanos = _json_int(_get(event, "timeUnixNano", "time_unix_nano"), "timeUnixNano")
            out.append(
                SpanEvent(_text(event.get("name"), "name"), checks.event_time(nanos), attributes)
            )
        except checks.Refused as refused:
            raise checks.Refused(f"events[{e}].{refused.field}", refused.reason) from None
    return out


def _json_logs(body: bytes) -> Decoded:
    request = _json_body(body, "ExportLogsServiceRequest")
    decoded = Decoded()
    for where_r, resource_logs in _objects(request, "resourceLogs", "resource_logs", ""):
        for where_s, scope_logs in _objects(resource_logs, "scopeLogs", "scope_logs", where_r):
            for where, record in _objects(scope_logs, "logRecords", "log_records", where_s):
                try:
                    decoded.items.append(_json_log(record, where))
                except checks.Refused as refused:
                    decoded.refused.append(f"{where}.{refused}")
    return decoded


def _json_log(record: Any, where: str) -> LogRecord:
    if not isinstance(record, dict):
        raise checks.Refused("logRecord", "expected an object")
    try:
        body = None if record.get("body") is None else _json_value(record["body"])
    except ValueError as exc:
        raise checks.Refused("body", str(exc)) from None
    nanos = _json_int(_get(record, "timeUnixNano", "time_unix_nano"), "timeUnixNano")
    if not nanos:
        observed = _get(record, "observedTimeUnixNano", "observed_time_unix_nano")
        nanos = _json_int(observed, "observedTimeUnixNano")
    return checks.log_record(
        where,
        _json_bytes(_get(record, "traceId", "trace_id"), "traceId"),
        _json_bytes(_get(record, "spanId", "span_id"), "spanId"),
        nanos,
        _text(_get(record, "eventName", "event_name"), "eventName"),
        body,
        _json_attributes(record),
        _text(_get(record, "severityText", "severity_text"), "severityText"),
    )


def spans(body: bytes, now: dt.datetime) -> Decoded:
    """The spans of an ``ExportTraceServiceRequest``; ``BadRequest`` if it is unreadable."""
    return _json_spans(body, now)


def logs(body: bytes) -> Decoded:
    """The records of an ``ExportLogsServiceRequest``."""
    return _json_logs(body)


_POINT_KINDS = ("gauge", "sum", "histogram", "exponentialHistogram", "summary")


def metric_points(body: bytes) -> int:
    """How many data points an ``ExportMetricsServiceRequest`` holds."""
    request = _json_body(body, "ExportMetricsServiceRequest")
    count = 0
    for where_r, resource in _objects(request, "resourceMetrics", "resource_metrics", ""):
        for where_s, scope in _objects(resource, "scopeMetrics", "scope_metrics", where_r):
            for _, metric in _objects(scope, "metrics", "metrics", where_s):
                for kind in _POINT_KINDS:
                    data = metric.get(kind) if isinstance(metric, dict) else None
                    points = data.get("dataPoints") if isinstance(data, dict) else None
                    count += len(points) if isinstance(points, list) else 0
    return count
