"""OTLP bodies an attacker shapes: nesting past any parser's depth, token counts at int64's
edge. A bad span is refused by name in ``partial_success``, its neighbours are stored, and
the session stays readable. Both encodings where the attack can be encoded; both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentwatch.server.otlp.sessions import trace_session
from agentwatch.server.storage.engine import BIGINT_MAX as COUNTER_MAX
from agentwatch.server.testing import TestServer
from tests.server.otlp_requests import (
    JSON,
    PROTOBUF,
    new_trace_id,
    post,
    rejected,
    span,
    traces_json,
    traces_request,
)


@pytest.fixture
def http(server: TestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, transport=server.transport) as client:
        yield client


def readable(server: TestServer, http: httpx.Client, trace: str) -> dict[str, Any]:
    session_id = trace_session(server.project_id, trace)
    headers = {"X-Agentops-Api-Key": server.api_key}
    assert http.get(f"/v2/sessions/{session_id}/export", headers=headers).status_code == 200
    detail = http.get(f"/api/sessions/{session_id}", headers=headers)
    assert detail.status_code == 200, detail.text
    shown: dict[str, Any] = detail.json()
    return shown


def _with_raw_attribute(body: bytes, span_name: str, raw_value: str) -> bytes:
    """``body`` with an attribute whose value is ``raw_value`` (JSON text) on one span."""
    marker = json.dumps({"key": "marker", "value": {"stringValue": span_name}})
    attribute = '{"key": "deep", "value": ' + raw_value + "}"
    text = body.decode()
    assert marker in text
    return text.replace(marker, attribute).encode()


@pytest.mark.parametrize(
    "raw",
    [
        '{"kvlistValue": {"values": [' * 2_000 + "]}}" * 2_000,  # past the C parser
        '{"arrayValue": {"values": [' * 300 + "]}}" * 300,  # parsed, past the 32 levels
        '{"bogus": ' + "[" * 900 + "]" * 900 + "}",  # not an AnyValue, and deep inside
        "[" * 60_000 + "]" * 60_000,
    ],
    ids=["kvlist 2000 deep", "array 300 deep", "not an AnyValue 900 deep", "bare 60000 deep"],
)
def test_a_span_nested_past_any_depth_is_refused_alone(
    server: TestServer, http: httpx.Client, raw: str
) -> None:
    trace = new_trace_id()
    spans = [
        span(trace, name="good"),
        span(trace, name="deep", attributes={"marker": "deep"}),
        span(trace, name="good too"),
    ]
    body = _with_raw_attribute(traces_json(spans), "deep", raw)
    count, message = rejected(post(http, "/v1/traces", body, JSON, server.api_key))
    assert count == 1
    assert "spans[1]" in message
    assert "deep" in message
    names = sorted(e["name"] for e in readable(server, http, trace)["events"])
    assert names == ["good", "good too"]


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
def test_token_counts_at_int64s_edge_saturate_the_session(
    server: TestServer, http: httpx.Client, content_type: str
) -> None:
    trace = new_trace_id()
    usage = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 2**62 - 1,  # the largest count a span may carry
        "gen_ai.usage.output_tokens": 2**62 - 1,
    }
    for _ in range(2):  # within one request and across requests
        spans = [span(trace, name=f"chat {i}", attributes=usage) for i in range(3)]
        body = traces_request(spans, content_type)
        assert rejected(post(http, "/v1/traces", body, content_type, server.api_key)) == (0, "")
    shown = readable(server, http, trace)
    tokens = shown["session"]["tokens"]
    assert (tokens["prompt"], tokens["completion"]) == (COUNTER_MAX, COUNTER_MAX)
    assert shown["session"]["counts"]["llms"] == 6
    assert all(e["cost"] is None or e["cost"] <= COUNTER_MAX / 1e12 for e in shown["events"])
