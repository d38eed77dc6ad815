"""A stand-in backend for the reference SDKs, on 127.0.0.1 only; runs in the floor venv.

It answers what the SDKs call and counts what arrives:

* AgentOps 0.3 (v2 REST): ``/v2/create_session`` (needs ``jwt``), ``/v2/update_session``
  (reads ``token_cost``), ``/v2/create_events`` (counts ``v2_events``), ``/v2/create_agent``,
  ``/v2/reauthorize_jwt``, ``/v2/developer_errors``. Every answer is JSON because 0.3's
  ``Response.parse`` calls ``res.json()``.
* AgentOps 0.4: ``/v3/auth/token`` and OTLP/HTTP ``/v1/traces`` (counts ``otlp_spans``
  and, of those, ``otlp_unit_spans``: spans named after the benchmarked unit), ``/v1/metrics``.
* Langfuse: OTLP/HTTP at ``/api/public/otel/v1/traces`` (gzip by default).

``wire_bytes`` counts the bytes of event payloads as sent (create_events and OTLP bodies,
before gunzip). ``GET /_stub/stats`` returns the counters; anything else is answered 200 ``{}`` and its
path counted under ``other:<path>`` so that unexpected calls show up in the results.
Usage: ``python stub_server.py --port N``.
"""

from __future__ import annotations

import gzip
import uuid
from collections import Counter
from typing import Any

import orjson
import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from common import arg

counters: Counter[str] = Counter()
# Looks like a JWT; neither SDK verifies it.
FAKE_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdHViIn0.c3R1Yg"
PROTOBUF = "application/x-protobuf"
# The benchmarks name their unit of work "web_search"; the SDKs add suffixes (".tool").
UNIT_SPAN_PREFIX = "web_search"
EMPTY_OTLP_RESPONSE = ExportTraceServiceResponse().SerializeToString()


async def create_session(request: Request) -> Response:
    counters["v2_sessions"] += 1
    return JSONResponse({"status": "Success", "jwt": FAKE_JWT, "session_url": ""})


async def update_session(request: Request) -> Response:
    counters["v2_session_updates"] += 1
    return JSONResponse({"status": "success", "token_cost": "0.00", "session_url": ""})


async def create_events(request: Request) -> Response:
    raw = await request.body()
    counters["wire_bytes"] += len(raw)
    if request.headers.get("content-encoding") == "gzip":  # agentwatch gzips its batches
        raw = gzip.decompress(raw)
    body = orjson.loads(raw)
    counters["v2_events"] += len(body.get("events", []))
    counters["v2_event_requests"] += 1
    return JSONResponse("Success")


async def v2_success(request: Request) -> Response:
    counters[f"v2:{request.url.path}"] += 1
    return JSONResponse("Success")


async def reauthorize_jwt(request: Request) -> Response:
    return JSONResponse({"status": "Success", "jwt": FAKE_JWT})


async def developer_errors(request: Request) -> Response:
    counters["v2_developer_errors"] += 1
    return Response(status_code=204)


async def auth_token(request: Request) -> Response:
    counters["v3_auth"] += 1
    return JSONResponse(
        {"token": FAKE_JWT, "project_id": str(uuid.uuid4()), "project_prem_status": "pro"}
    )


async def otlp_traces(request: Request) -> Response:
    body = await request.body()
    counters["wire_bytes"] += len(body)  # as sent, before any gunzip
    if request.headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    counters["otlp_requests"] += 1
    counters["otlp_bytes"] += len(body)
    total, units = _count_spans(body, request.headers.get("content-type", ""))
    counters["otlp_spans"] += total
    counters["otlp_unit_spans"] += units
    return Response(EMPTY_OTLP_RESPONSE, media_type=PROTOBUF)


def _count_spans(body: bytes, content_type: str) -> tuple[int, int]:
    """(all spans, spans of the benchmarked unit) in one OTLP export request."""
    if content_type.startswith("application/json"):
        data: dict[str, Any] = orjson.loads(body)
        names = [
            span.get("name", "")
            for rs in data.get("resourceSpans", [])
            for scope in rs.get("scopeSpans", [])
            for span in scope.get("spans", [])
        ]
    else:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        names = [
            span.name for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans
        ]
    return len(names), sum(name.startswith(UNIT_SPAN_PREFIX) for name in names)


async def otlp_other(request: Request) -> Response:
    counters[f"otlp:{request.url.path}"] += 1
    return Response(b"", media_type=PROTOBUF)


async def stats(request: Request) -> Response:
    return JSONResponse(dict(counters))


async def anything_else(request: Request) -> Response:
    counters[f"other:{request.method} {request.url.path}"] += 1
    return JSONResponse({})


ROUTES = [
    Route("/_stub/stats", stats),
    Route("/v2/create_session", create_session, methods=["POST"]),
    Route("/v2/update_session", update_session, methods=["POST"]),
    Route("/v2/create_events", create_events, methods=["POST"]),
    Route("/v2/create_agent", v2_success, methods=["POST"]),
    Route("/v2/create_thread", v2_success, methods=["POST"]),
    Route("/v2/update_events", v2_success, methods=["POST"]),
    Route("/v2/reauthorize_jwt", reauthorize_jwt, methods=["POST"]),
    Route("/v2/developer_errors", developer_errors, methods=["POST"]),
    Route("/v3/auth/token", auth_token, methods=["POST"]),
    Route("/v1/traces", otlp_traces, methods=["POST"]),
    Route("/api/public/otel/v1/traces", otlp_traces, methods=["POST"]),
    Route("/v1/metrics", otlp_other, methods=["POST"]),
    Route("/v1/logs", otlp_other, methods=["POST"]),
    Route("/{path:path}", anything_else, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
]
app = Starlette(routes=ROUTES)

if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(arg("port", "18080")),
        log_level="warning",
        access_log=False,
        http="httptools",
        loop="uvloop",
    )
