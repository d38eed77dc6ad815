"""Bad OTLP input: a clear 400 or a partial_success naming the span and field, never a
500, and the request's good spans are stored all the same. Both encodings, both databases."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google.rpc.status_pb2 import Status

from agentwatch.server.otlp.sessions import named_session, trace_session
from agentwatch.server.testing import TestServer, inprocess_server
from tests.server.otlp_requests import (
    JSON,
    PROTOBUF,
    SECOND,
    new_span_id,
    new_trace_id,
    now_ns,
    post,
    rejected,
    span,
    traces_json,
    traces_request,
)

ENCODINGS = [PROTOBUF, JSON]


@pytest.fixture
def http(server: TestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, transport=server.transport) as client:
        yield client


def stored(server: TestServer, trace: str) -> list[dict[str, Any]]:
    try:
        return server.session(trace_session(server.project_id, trace))["events"]
    except KeyError:
        return []


def status_of(response: httpx.Response) -> tuple[int, str]:
    if response.headers["content-type"].startswith(PROTOBUF):
        status = Status.FromString(response.content)
        return status.code, status.message
    return response.json()["code"], response.json()["message"]


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (PROTOBUF, b"\x0a\xff\xff\xff\xff\x0f", "malformed protobuf"),
        (PROTOBUF, b"\x12\x34\x56", "malformed protobuf"),
        (JSON, b"{not json", "malformed OTLP JSON"),
        (JSON, b"[]", "expected an object"),
        (JSON, b'{"resourceSpans": 5}', "resourceSpans: expected an array"),
        (JSON, b"[" * 100_000 + b"]" * 100_000, "malformed OTLP JSON"),
        (
            JSON,
            b'{"resourceSpans": [{"scopeSpans": [{"spans": {"a": 1}}]}]}',
            "spans: expected an array",
        ),
    ],
)
def test_undecodable_body_is_400_in_the_otlp_shape(
    server: TestServer, http: httpx.Client, content_type: str, body: bytes, expected: str
) -> None:
    response = post(http, "/v1/traces", body, content_type, server.api_key)
    assert response.status_code == 400
    code, message = status_of(response)
    assert code == 3  # INVALID_ARGUMENT
    assert expected in message


@pytest.mark.parametrize("content_type", ENCODINGS)
def test_empty_request_is_fine(server: TestServer, http: httpx.Client, content_type: str) -> None:
    body = b"" if content_type == PROTOBUF else b"{}"
    assert rejected(post(http, "/v1/traces", body, content_type, server.api_key)) == (0, "")


def _bad_ids(trace: str) -> list[tuple[dict[str, Any], str]]:
    return [
        (span(trace[:30]), "spans[1].traceId: a trace id has 16 bytes (32 hex digits), got 15"),
        (span("0" * 32), "spans[2].traceId: the all-zero trace id is invalid"),
        (span(trace, "ab" * 9), "spans[3].spanId: a span id has 8 bytes (16 hex digits), got 9"),
        (span(trace, "0" * 16), "spans[4].spanId: the all-zero span id is invalid"),
        (span(trace, parent="abcd"), "spans[5].parentSpanId: a span id has 8 bytes"),
    ]


def _bad_times(trace: str) -> list[tuple[dict[str, Any], str]]:
    now = now_ns()
    return [
        (span(trace, start=0, end=now), "spans[1].startTimeUnixNano: not set"),
        (
            span(trace, start=1_700_000_000, end=1_700_000_001),
            "spans[2].startTimeUnixNano: 1700000000 is before 2000-01-01",
        ),
        (span(trace, start=now + 400 * 24 * 3600 * SECOND), "spans[3].startTimeUnixNano"),
        (
            span(trace, start=now, end=now - SECOND),
            "spans[4].endTimeUnixNano: before startTimeUnixNano",
        ),
        (span(trace, start=now, end=2**64 - 1), "spans[5].endTimeUnixNano"),
    ]


@pytest.mark.parametrize("content_type", ENCODINGS)
@pytest.mark.parametrize("cases", [_bad_ids, _bad_times], ids=["ids", "times"])
def test_bad_spans_are_refused_by_name_and_the_good_ones_kept(
    server: TestServer, http: httpx.Client, content_type: str, cases: Any
) -> None:
    trace = new_trace_id()
    good = span(trace, name="good", attributes={"gen_ai.operation.name": "execute_tool"})
    bad = cases(trace)
    response = post(
        http,
        "/v1/traces",
        traces_request([good, *(b for b, _ in bad)], content_type),
        content_type,
        server.api_key,
    )
    count, message = rejected(response)
    assert count == len(bad)
    for _, expected in bad[:5]:
        assert expected in message
    [event] = stored(server, trace)
    assert event["name"] == "good"
    assert (
        server.session(trace_session(server.project_id, trace))["session"]["counts"]["tools"] == 1
    )


def test_unfinished_span_is_stored_without_end(server: TestServer, http: httpx.Client) -> None:
    trace = new_trace_id()
    body = traces_request([span(trace, start=now_ns() - SECOND, end=0)], PROTOBUF)
    assert rejected(post(http, "/v1/traces", body, PROTOBUF, server.api_key)) == (0, "")
    [event] = stored(server, trace)
    assert event["end_timestamp"] is None


@pytest.mark.parametrize("content_type", ENCODINGS)
def test_every_attribute_type_is_kept(
    server: TestServer, http: httpx.Client, content_type: str
) -> None:
    trace = new_trace_id()
    values: dict[str, Any] = {
        "s": "text ✓",
        "b": True,
        "i": -(2**63),
        "big": 2**63 - 1,
        "d": 0.25,
        "nan": math.nan,
        "inf": math.inf,
        "bytes": b"\x00\x01\xff",
        "array": ["a", 1, 2.5, False],
        "nested": {"k": {"deeper": [1, {"x": "y"}]}},
        "empty_array": [],
        "empty_map": {},
        "nul": "a\x00b",
    }
    response = post(
        http,
        "/v1/traces",
        traces_request([span(trace, attributes=values)], content_type),
        content_type,
        server.api_key,
    )
    assert rejected(response) == (0, "")
    [event] = stored(server, trace)
    kept = event["data"]["attributes"]
    assert kept["s"] == "text ✓"
    assert kept["b"] is True
    assert kept["i"] == -(2**63)
    assert kept["big"] == 2**63 - 1
    assert kept["d"] == 0.25
    assert kept["nan"] == "nan"
    assert kept["inf"] == "inf"
    assert kept["bytes"] == "AAH/"  # base64
    assert kept["array"] == ["a", 1, 2.5, False]
    assert kept["nested"] == {"k": {"deeper": [1, {"x": "y"}]}}
    assert kept["empty_array"] == []
    assert kept["empty_map"] == {}
    assert kept["nul"] == "a\x00b"


@pytest.mark.parametrize("content_type", ENCODINGS)
def test_too_deep_attribute_refuses_its_span_only(
    server: TestServer, http: httpx.Client, content_type: str
) -> None:
    trace = new_trace_id()
    deep: Any = "bottom"
    for _ in range(30):  # kvlists inside kvlists: protobuf's own nesting limit stays below
        deep = {"k": deep}
    too_deep: Any = "bottom"
    for _ in range(40):  # arrays: 80 protobuf levels, within protobuf's limit of 100
        too_deep = [too_deep]
    spans = [
        span(trace, name="deep", attributes={"deep": deep}),
        span(trace, name="too deep", attributes={"x": too_deep}),
    ]
    body = traces_request(spans, content_type)
    response = post(http, "/v1/traces", body, content_type, server.api_key)
    count, message = rejected(response)
    assert count == 1
    assert "spans[1].attributes['x']: nested deeper than 32 levels" in message
    assert [e["name"] for e in stored(server, trace)] == ["deep"]


@pytest.mark.parametrize("content_type", ENCODINGS)
def test_ten_thousand_attributes_are_all_kept(
    server: TestServer, http: httpx.Client, content_type: str
) -> None:
    trace = new_trace_id()
    attributes = {f"attr.{i}": i for i in range(10_000)}
    response = post(
        http,
        "/v1/traces",
        traces_request([span(trace, attributes=attributes)], content_type),
        content_type,
        server.api_key,
    )
    assert rejected(response) == (0, "")
    [event] = stored(server, trace)
    assert len(event["data"]["attributes"]) == 10_000
    assert event["data"]["attributes"]["attr.9999"] == 9999


@pytest.mark.parametrize("content_type", ENCODINGS)
def test_huge_strings_are_kept_and_indexed_columns_cut(
    server: TestServer, http: httpx.Client, content_type: str
) -> None:
    trace = new_trace_id()
    huge = "x" * 3_000_000
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "m" * 5000,
        "gen_ai.agent.id": "a" * 5000,
        "session.id": "s" * 50_000,
        "user.id": "u" * 5000,
        "payload": huge,
        "agentops.tags": ["t" * 5000],
    }
    body = traces_request([span(trace, name="n\x00" * 3000, attributes=attributes)], content_type)
    assert rejected(post(http, "/v1/traces", body, content_type, server.api_key)) == (0, "")
    session_id, _ = named_session(server.project_id, "s" * 1000)
    [event] = server.session(session_id)["events"]
    assert event["data"]["attributes"]["payload"] == huge
    assert len(event["name"]) == 200
    assert "\x00" not in event["name"]
    assert len(event["model"]) == 200
    assert len(event["agent_id"]) == 128


def test_json_with_wrong_types_refuses_the_span_naming_the_field(
    server: TestServer, http: httpx.Client
) -> None:
    trace = new_trace_id()
    good = json.loads(traces_json([span(trace, name="good")]))
    spans = good["resourceSpans"][0]["scopeSpans"][0]["spans"]
    template = spans[0]
    broken = [
        ({"startTimeUnixNano": "soon"}, "startTimeUnixNano: expected a 64-bit integer"),
        ({"traceId": "zz" * 16}, "traceId: expected hex digits"),
        ({"attributes": 5}, "attributes: expected an array"),
        ({"attributes": [{"key": "a", "value": {"intValue": "1.5"}}]}, "attributes['a']"),
        ({"attributes": [{"key": "a", "value": {"bogus": 1}}]}, "not an AnyValue"),
        ({"kind": "SIDEWAYS"}, "kind: expected one of"),
        ({"status": "bad"}, "status: expected an object"),
        ({"name": 5}, "name: expected a string"),
        ({"events": [{"name": "e", "attributes": [{"key": 3}]}]}, "events[0].attributes"),
    ]
    for i, (change, _) in enumerate(broken):
        spans.append(
            {**template, "spanId": new_span_id(), **change, "name": change.get("name", f"bad {i}")}
        )
    spans.append(
        {
            **template,
            "spanId": new_span_id(),
            "name": "ok too",
            "unknownField": {"x": 1},
            "kind": "SPAN_KIND_CLIENT",
        }
    )
    response = post(http, "/v1/traces", json.dumps(good).encode(), JSON, server.api_key)
    count, message = rejected(response)
    assert count == len(broken)
    for _, expected in broken[:5]:
        assert expected in message
    assert sorted(e["name"] for e in stored(server, trace)) == ["good", "ok too"]


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ("name", "name"),
        ("attribute value", "attributes['k']"),
        ("attribute key", "attributes["),
    ],
)
def test_a_lone_surrogate_refuses_its_span_alone(
    server: TestServer, http: httpx.Client, where: str, field: str
) -> None:
    """JSON may escape a lone surrogate; it is no text and no column holds it: that span is
    refused, naming the field, and the good span of the same request is stored as sent."""
    trace = new_trace_id()
    spans = [span(trace, name="x", attributes={"k": "v"}), span(trace, name="good")]
    body = traces_json(spans)
    bad = {
        "name": (b'"name": "x"', b'"name": "bad \\ud800 text"'),
        "attribute value": (b'"stringValue": "v"', b'"stringValue": "\\udfff"'),
        "attribute key": (b'"key": "k"', b'"key": "k\\ud800"'),
    }[where]
    assert bad[0] in body
    count, message = rejected(post(http, "/v1/traces", body.replace(*bad), JSON, server.api_key))
    assert count == 1
    assert "lone surrogate" in message
    assert field in message
    assert [e["name"] for e in stored(server, trace)] == ["good"]


def test_many_traces_in_one_request(server: TestServer, http: httpx.Client) -> None:
    traces = [new_trace_id() for _ in range(1200)]
    body = traces_request([span(t, name="one") for t in traces], PROTOBUF)
    assert rejected(post(http, "/v1/traces", body, PROTOBUF, server.api_key)) == (0, "")
    assert len(stored(server, traces[0])) == 1
    assert len(stored(server, traces[-1])) == 1


@pytest.mark.parametrize("content_type", ENCODINGS)
def test_too_large_after_decompression_is_413_in_the_otlp_shape(
    db_url: str, content_type: str
) -> None:
    with (
        inprocess_server(db_url, max_body_bytes=50_000) as server,
        httpx.Client(base_url=server.url, transport=server.transport) as http,
    ):
        bomb = gzip.compress(b"\x00" * 5_000_000)
        response = post(
            http, "/v1/traces", bomb, content_type, server.api_key, **{"Content-Encoding": "gzip"}
        )
        assert response.status_code == 413
        assert response.headers["content-type"].startswith(content_type)
        code, message = status_of(response)
        assert code == 8
        assert "after decompression" in message
        corrupt = post(
            http,
            "/v1/traces",
            b"\x1f\x8b garbage",
            content_type,
            server.api_key,
            **{"Content-Encoding": "gzip"},
        )
        assert corrupt.status_code == 400
        assert "corrupt gzip" in status_of(corrupt)[1]


@pytest.mark.parametrize("content_type", ENCODINGS)
def test_shedding_is_503_with_retry_after_in_the_otlp_shape(db_url: str, content_type: str) -> None:
    with (
        inprocess_server(db_url, max_inflight=0) as server,
        httpx.Client(base_url=server.url, transport=server.transport) as http,
    ):
        body = traces_request([span(new_trace_id())], content_type)
        response = post(http, "/v1/traces", body, content_type, server.api_key)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert status_of(response)[0] == 14  # UNAVAILABLE
        # Elsewhere the protocol's own error shape stays.
        assert set(http.post("/v2/create_session", json={}).json()) == {"path", "message"}
