"""Finished OpenTelemetry spans as an OTLP/HTTP ``/v1/traces`` request body.

Protobuf (``application/x-protobuf``) through OpenTelemetry's own encoder where
``opentelemetry-exporter-otlp-proto-http`` is installed (it brings
``opentelemetry-exporter-otlp-proto-common``), else OTLP JSON (``application/json``,
https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding: hex ids, integer enums,
64-bit integers as strings) encoded here. Each span goes with attributes of ours added
(``extra``), in the copy that is encoded: the span object itself is never changed.
"""

from __future__ import annotations

import base64
import importlib.util
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["JSON", "PROTOBUF", "encode", "protobuf_available", "rejected_spans"]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

SpanWithExtra = tuple["ReadableSpan", Mapping[str, str]]


def protobuf_available() -> bool:
    """Whether OpenTelemetry's protobuf encoder can be imported here."""
    try:
        return importlib.util.find_spec("opentelemetry.exporter.otlp.proto.common") is not None
    except (ImportError, ValueError):
        return False


def encode(spans: Sequence[SpanWithExtra], content_type: str) -> bytes:
    """The body of one export request holding ``spans`` in ``content_type``."""
    if content_type == PROTOBUF:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        message = encode_spans([_with_extra(span, extra) for span, extra in spans])
        data: bytes = message.SerializeToString()
        return data
    return orjson.dumps(_json_request(spans))


def rejected_spans(body: bytes, content_type: str) -> tuple[int, str]:
    """(rejected span count, message) of an export answer's ``partial_success``; (0, "")
    when it has none or cannot be read."""
    try:
        if content_type == PROTOBUF:
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                ExportTraceServiceResponse,
            )

            answer = ExportTraceServiceResponse.FromString(body)
            partial = answer.partial_success
            return int(partial.rejected_spans), str(partial.error_message)
        parsed = orjson.loads(body) if body else {}
        partial = parsed.get("partialSuccess") or parsed.get("partial_success") or {}
        rejected = partial.get("rejectedSpans", partial.get("rejected_spans", 0))
        message = partial.get("errorMessage", partial.get("error_message", ""))
        return int(rejected or 0), str(message or "")
    except Exception:  # an answer we cannot read does not make the spans lost
        return 0, ""


def _with_extra(span: ReadableSpan, extra: Mapping[str, str]) -> ReadableSpan:
    """A copy of ``span`` with ``extra`` among its attributes (public constructor only)."""
    from opentelemetry.sdk.trace import ReadableSpan

    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes={**(span.attributes or {}), **extra},
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


# -- OTLP JSON -------------------------------------------------------------------------------


def _json_request(spans: Sequence[SpanWithExtra]) -> dict[str, Any]:
    """``{"resourceSpans": [...]}``, spans grouped by resource, then by scope."""
    by_resource: dict[int, tuple[Any, dict[tuple[str, str | None], list[Any]]]] = {}
    for span, extra in spans:
        resource = span.resource
        _, scopes = by_resource.setdefault(id(resource), (resource, {}))
        scope = span.instrumentation_scope
        key = ("", None) if scope is None else (scope.name, scope.version)
        scopes.setdefault(key, []).append(_json_span(span, extra))
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attributes(resource.attributes if resource else {})},
                "scopeSpans": [
                    {"scope": _scope(name, version), "spans": encoded}
                    for (name, version), encoded in scopes.items()
                ],
            }
            for resource, scopes in by_resource.values()
        ]
    }


def _scope(name: str, version: str | None) -> dict[str, str]:
    return {"name": name, "version": version} if version else {"name": name}


def _json_span(span: ReadableSpan, extra: Mapping[str, str]) -> dict[str, Any]:
    context = span.context
    assert context is not None  # a finished SDK span always has one
    encoded: dict[str, Any] = {
        "traceId": f"{context.trace_id:032x}",
        "spanId": f"{context.span_id:016x}",
        "name": span.name,
        "kind": span.kind.value + 1,  # OTLP counts SPAN_KIND_UNSPECIFIED as 0
        "startTimeUnixNano": str(span.start_time or 0),
        "endTimeUnixNano": str(span.end_time or span.start_time or 0),
        "attributes": _attributes({**(span.attributes or {}), **extra}),
        "status": _status(span),
    }
    if span.parent is not None:
        encoded["parentSpanId"] = f"{span.parent.span_id:016x}"
    if span.events:
        encoded["events"] = [
            {
                "timeUnixNano": str(event.timestamp),
                "name": event.name,
                "attributes": _attributes(event.attributes or {}),
            }
            for event in span.events
        ]
    if span.links:
        encoded["links"] = [
            {
                "traceId": f"{link.context.trace_id:032x}",
                "spanId": f"{link.context.span_id:016x}",
                "attributes": _attributes(link.attributes or {}),
            }
            for link in span.links
        ]
    return encoded


def _status(span: ReadableSpan) -> dict[str, Any]:
    from opentelemetry.trace import StatusCode

    status = span.status
    code = {StatusCode.UNSET: 0, StatusCode.OK: 1, StatusCode.ERROR: 2}[status.status_code]
    return {"code": code, "message": status.description} if status.description else {"code": code}


def _attributes(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": str(key), "value": _any_value(value)} for key, value in attributes.items()]


def _any_value(value: Any) -> dict[str, Any]:
    """An OTLP ``AnyValue`` (bool before int: a bool is an int in Python)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": _attributes(value)}}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    return {"stringValue": str(value)}
