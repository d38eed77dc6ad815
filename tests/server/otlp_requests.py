"""Hand-built OTLP requests: the same spans as protobuf or as OTLP JSON.

A span is a plain dict (see :func:`span`); :func:`traces_request` encodes a list of them
in either encoding, so a test can send the same spans both ways and assert the same
result.
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

import httpx
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
SECOND = 1_000_000_000


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()


def now_ns() -> int:
    return time.time_ns()


def span(
    trace_id: str,
    span_id: str | None = None,
    parent: str | None = None,
    *,
    name: str = "step",
    start: int | None = None,
    end: int | None = None,
    attributes: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    status: int = 0,
    status_message: str = "",
    kind: int = 1,
) -> dict[str, Any]:
    """A span: ids in hex, times in Unix ns, attributes as Python values."""
    start = now_ns() - SECOND if start is None else start
    return {
        "trace_id": trace_id,
        "span_id": span_id or new_span_id(),
        "parent": parent,
        "name": name,
        "start": start,
        "end": start + 1000 if end is None else end,
        "attributes": attributes or {},
        "events": events or [],
        "status": status,
        "status_message": status_message,
        "kind": kind,
    }


# -- protobuf ---------------------------------------------------------------------------


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    out = AnyValue()
    if isinstance(value, list):
        out.array_value.values.extend(any_value(v) for v in value)
    elif isinstance(value, dict):
        out.kvlist_value.values.extend(key_values(value))
    return out


def key_values(attributes: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attributes.items()]


def _pb_span(s: dict[str, Any]) -> Span:
    out = Span(
        trace_id=bytes.fromhex(s["trace_id"]),
        span_id=bytes.fromhex(s["span_id"]),
        parent_span_id=bytes.fromhex(s["parent"]) if s["parent"] else b"",
        name=s["name"],
        kind=s["kind"],
        start_time_unix_nano=s["start"],
        end_time_unix_nano=s["end"],
        status=Status(code=s["status"], message=s["status_message"]),
    )
    out.attributes.extend(key_values(s["attributes"]))
    for e in s["events"]:
        event = out.events.add(name=e["name"], time_unix_nano=e.get("time", s["start"]))
        event.attributes.extend(key_values(e.get("attributes", {})))
    return out


def traces_pb(spans: list[dict[str, Any]], resource: dict[str, Any] | None = None) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(key_values(resource or {"service.name": "test"}))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tests"
    scope_spans.spans.extend(_pb_span(s) for s in spans)
    return request.SerializeToString()


# -- OTLP JSON --------------------------------------------------------------------------


def json_value(value: Any) -> dict[str, Any]:
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
    if isinstance(value, list):
        return {"arrayValue": {"values": [json_value(v) for v in value]}}
    return {"kvlistValue": {"values": json_attributes(value)}}


def json_attributes(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": json_value(v)} for k, v in attributes.items()]


def _json_span(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "traceId": s["trace_id"],
        "spanId": s["span_id"],
        "parentSpanId": s["parent"] or "",
        "name": s["name"],
        "kind": s["kind"],
        "startTimeUnixNano": str(s["start"]),
        "endTimeUnixNano": str(s["end"]),
        "attributes": json_attributes(s["attributes"]),
        "events": [
            {
                "name": e["name"],
                "timeUnixNano": str(e.get("time", s["start"])),
                "attributes": json_attributes(e.get("attributes", {})),
            }
            for e in s["events"]
        ],
        "status": {"code": s["status"], "message": s["status_message"]},
    }


def traces_json(spans: list[dict[str, Any]], resource: dict[str, Any] | None = None) -> bytes:
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": json_attributes(resource or {"service.name": "test"})
                    },
                    "scopeSpans": [
                        {"scope": {"name": "tests"}, "spans": [_json_span(s) for s in spans]}
                    ],
                }
            ]
        }
    ).encode()


def traces_request(
    spans: list[dict[str, Any]], content_type: str, resource: dict[str, Any] | None = None
) -> bytes:
    return (traces_pb if content_type == PROTOBUF else traces_json)(spans, resource)


def logs_pb(records: list[dict[str, Any]]) -> bytes:
    """Log records: ``{"trace_id", "span_id", "event_name", "body", "attributes", "time"}``."""
    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add().scope_logs.add()
    for r in records:
        record = LogRecord(
            trace_id=bytes.fromhex(r.get("trace_id") or ""),
            span_id=bytes.fromhex(r.get("span_id") or ""),
            time_unix_nano=r.get("time", now_ns()),
            event_name=r.get("event_name", ""),
        )
        if "body" in r:
            record.body.CopyFrom(any_value(r["body"]))
        record.attributes.extend(key_values(r.get("attributes", {})))
        scope_logs.log_records.append(record)
    return request.SerializeToString()


def logs_json(records: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {
            "resourceLogs": [
                {
                    "scopeLogs": [
                        {
                            "logRecords": [
                                {
                                    "traceId": r.get("trace_id") or "",
                                    "spanId": r.get("span_id") or "",
                                    "timeUnixNano": str(r.get("time", now_ns())),
                                    "eventName": r.get("event_name", ""),
                                    **({"body": json_value(r["body"])} if "body" in r else {}),
                                    "attributes": json_attributes(r.get("attributes", {})),
                                }
                                for r in records
                            ]
                        }
                    ]
                }
            ]
        }
    ).encode()


# -- sending ------------------------------------------------------------------------------


def post(
    http: httpx.Client,
    path: str,
    body: bytes,
    content_type: str,
    key: str | None,
    **headers: str,
) -> httpx.Response:
    sent = {"Content-Type": content_type, **headers}
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    return http.post(path, content=body, headers=sent)


def rejected(response: httpx.Response) -> tuple[int, str]:
    """(rejected count, error message) of an ExportTraceServiceResponse, either encoding."""
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith(PROTOBUF):
        parsed = ExportTraceServiceResponse.FromString(response.content)
        return parsed.partial_success.rejected_spans, parsed.partial_success.error_message
    partial = response.json().get("partialSuccess", {})
    return int(partial.get("rejectedSpans", 0)), partial.get("errorMessage", "")


def agent_with_llm_call(session_id: str, start: int) -> tuple[list[dict[str, Any]], str, str]:
    """An agent span naming ``session_id`` (from ``start``, Unix ns, for 4 s) with a GenAI
    chat span under it, child first; returns (spans, agent span id, LLM span id)."""
    trace, root, llm = new_trace_id(), new_span_id(), new_span_id()
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 7,
        "gen_ai.usage.output_tokens": 3,
    }
    spans = [
        span(
            trace,
            llm,
            root,
            name="chat gpt-4o",
            start=start + SECOND,
            end=start + 3 * SECOND,
            attributes=attributes,
        ),
        span(
            trace,
            root,
            None,
            name="agent run",
            start=start,
            end=start + 4 * SECOND,
            attributes={"session.id": session_id},
        ),
    ]
    return spans, root, llm
