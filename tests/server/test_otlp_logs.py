"""POST /v1/logs: GenAI log events join their span, whichever arrives first."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from agentwatch.server import drilldown, views
from agentwatch.server.otlp.sessions import named_session, trace_session
from agentwatch.server.testing import TestServer
from tests.server.otlp_requests import (
    JSON,
    PROTOBUF,
    logs_json,
    logs_pb,
    new_trace_id,
    post,
    span,
    traces_request,
)


@pytest.fixture
def http(server: TestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, transport=server.transport) as client:
        yield client


def chat_span(trace: str, **attributes: object) -> dict[str, object]:
    return span(
        trace,
        name="chat gpt-4o",
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            **attributes,
        },
    )


def logs_rejected(response: httpx.Response) -> tuple[int, str]:
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith(PROTOBUF):
        parsed = ExportLogsServiceResponse.FromString(response.content)
        return parsed.partial_success.rejected_log_records, parsed.partial_success.error_message
    partial = response.json().get("partialSuccess", {})
    return int(partial.get("rejectedLogRecords", 0)), partial.get("errorMessage", "")


def test_message_events_before_their_span_become_its_conversation(
    server: TestServer, http: httpx.Client
) -> None:
    trace = new_trace_id()
    llm = chat_span(trace)
    ids = {"trace_id": trace, "span_id": llm["span_id"]}
    records = [
        {**ids, "event_name": "gen_ai.system.message", "body": {"content": "Be brief."}, "time": 1},
        {**ids, "event_name": "gen_ai.user.message", "body": {"content": "Hi"}, "time": 2},
        {
            **ids,
            "event_name": "gen_ai.choice",
            "body": {"index": 0, "finish_reason": "stop", "message": {"content": "Hello"}},
            "time": 3,
        },
    ]
    body = logs_pb(records)
    for _ in range(2):  # sent twice: kept once
        assert logs_rejected(post(http, "/v1/logs", body, PROTOBUF, server.api_key)) == (0, "")
    post(http, "/v1/traces", traces_request([llm], PROTOBUF), PROTOBUF, server.api_key)
    [event] = server.session(trace_session(server.project_id, trace))["events"]
    assert event["prompt"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert event["completion"] == {"role": "assistant", "content": "Hello", "finish_reason": "stop"}
    assert [e["event_name"] for e in event["log_events"]] == [r["event_name"] for r in records]


def test_operation_details_event_in_json(server: TestServer, http: httpx.Client) -> None:
    trace = new_trace_id()
    llm = chat_span(trace)
    post(http, "/v1/traces", traces_request([llm], PROTOBUF), PROTOBUF, server.api_key)
    details = {
        "trace_id": trace,
        "span_id": llm["span_id"],
        "event_name": "gen_ai.client.inference.operation.details",
        "attributes": {
            "gen_ai.input.messages": [
                {"role": "user", "parts": [{"type": "text", "content": "2+2?"}]}
            ],
            "gen_ai.output.messages": [
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": "4"}],
                    "finish_reason": "stop",
                }
            ],
        },
    }
    response = post(http, "/v1/logs", logs_json([details]), JSON, server.api_key)
    assert response.headers["content-type"].startswith(JSON)
    assert logs_rejected(response) == (0, "")
    [event] = server.session(trace_session(server.project_id, trace))["events"]
    assert event["prompt"] == [{"role": "user", "content": "2+2?"}]
    assert event["completion"] == {"role": "assistant", "content": "4", "finish_reason": "stop"}


def test_span_messages_win_over_log_events(server: TestServer, http: httpx.Client) -> None:
    trace = new_trace_id()
    llm = chat_span(
        trace, **{"gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "from span"}
    )
    post(http, "/v1/traces", traces_request([llm], PROTOBUF), PROTOBUF, server.api_key)
    record = {
        "trace_id": trace,
        "span_id": llm["span_id"],
        "event_name": "gen_ai.user.message",
        "body": {"content": "from log"},
    }
    post(http, "/v1/logs", logs_pb([record]), PROTOBUF, server.api_key)
    [event] = server.session(trace_session(server.project_id, trace))["events"]
    assert event["prompt"] == [{"role": "user", "content": "from span"}]
    assert len(event["log_events"]) == 1


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
def test_records_without_span_are_refused_others_kept(
    server: TestServer, http: httpx.Client, content_type: str
) -> None:
    trace = new_trace_id()
    llm = chat_span(trace)
    records = [
        {"event_name": "app.log", "body": "no span here"},
        {
            "trace_id": trace,
            "span_id": llm["span_id"],
            "event_name": "gen_ai.user.message",
            "body": {"content": "x"},
        },
    ]
    encode = logs_pb if content_type == PROTOBUF else logs_json
    count, message = logs_rejected(
        post(http, "/v1/logs", encode(records), content_type, server.api_key)
    )
    assert count == 1
    assert "logRecords[0]" in message
    assert "spanId" in message
    post(http, "/v1/traces", traces_request([llm], PROTOBUF), PROTOBUF, server.api_key)
    [event] = server.session(trace_session(server.project_id, trace))["events"]
    assert event["prompt"] == [{"role": "user", "content": "x"}]


def test_log_events_follow_a_moved_trace(server: TestServer, http: httpx.Client) -> None:
    trace = new_trace_id()
    llm = chat_span(trace)
    post(http, "/v1/traces", traces_request([llm], PROTOBUF), PROTOBUF, server.api_key)
    record = {
        "trace_id": trace,
        "span_id": llm["span_id"],
        "event_name": "gen_ai.user.message",
        "body": {"content": "q"},
    }
    post(http, "/v1/logs", logs_pb([record]), PROTOBUF, server.api_key)
    named = span(trace, name="turn", attributes={"gen_ai.conversation.id": "thread-9"})
    post(http, "/v1/traces", traces_request([named], PROTOBUF), PROTOBUF, server.api_key)
    detail = server.session(named_session(server.project_id, "thread-9")[0])
    llm_event = next(e for e in detail["events"] if e["kind"] == "llm")
    assert llm_event["prompt"] == [{"role": "user", "content": "q"}]
    assert json.loads(json.dumps(llm_event["log_events"]))[0]["body"] == {"content": "q"}


def _changes(http: httpx.Client, key: str, session_id: str, cursor: str) -> dict[str, str]:
    """{event id: its tree row} of what /changes reports written since ``cursor``."""
    answer = http.get(
        f"/api/sessions/{session_id}/changes",
        params={"cursor": cursor},
        headers={"X-Agentops-Api-Key": key},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return {row[body["columns"].index("id")]: row for row in body["rows"]}


def _tree_cursor(http: httpx.Client, key: str, session_id: str) -> str:
    answer = http.get(f"/api/sessions/{session_id}/tree", headers={"X-Agentops-Api-Key": key})
    assert answer.status_code == 200, answer.text
    cursor: str = answer.json()["cursor"]
    return cursor


def test_records_after_their_span_are_reported_as_a_change_of_it(
    server: TestServer, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The live page asks /changes what was written since its cursor and reloads a changed
    # event's detail: records merged into a span's detail must count as a write of it.
    monkeypatch.setattr(drilldown, "GRACE", dt.timedelta(0))  # no look-back: only what is new
    trace = new_trace_id()
    llm, tool = chat_span(trace), span(trace, name="execute_tool search")
    post(http, "/v1/traces", traces_request([llm, tool], PROTOBUF), PROTOBUF, server.api_key)
    session_id = trace_session(server.project_id, trace)
    cursor = _tree_cursor(http, server.api_key, session_id)
    time.sleep(0.01)
    assert _changes(http, server.api_key, session_id, cursor) == {}
    record = {**{"trace_id": trace, "span_id": llm["span_id"]}, "time": 1}
    record |= {"event_name": "gen_ai.user.message", "body": {"content": "late"}}
    assert logs_rejected(post(http, "/v1/logs", logs_pb([record]), PROTOBUF, server.api_key)) == (
        0,
        "",
    )
    changed = _changes(http, server.api_key, session_id, cursor)
    assert set(changed) == {llm["span_id"]}  # the span the record is for, not its sibling
    [event] = [e for e in server.session(session_id)["events"] if e["id"] == llm["span_id"]]
    assert event["prompt"] == [{"role": "user", "content": "late"}]


def test_another_projects_records_for_our_span_change_nothing_of_ours(
    server: TestServer, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Attack: a second project sends records naming our trace and span ids. They are kept
    # under its own project: our span is not reported changed and its detail is unchanged.
    monkeypatch.setattr(drilldown, "GRACE", dt.timedelta(0))
    other = server.storage.create_project(f"other-{uuid.uuid4().hex[:8]}").id
    other_key, _ = server.storage.create_api_key(other)
    trace = new_trace_id()
    llm = chat_span(trace)
    post(http, "/v1/traces", traces_request([llm], PROTOBUF), PROTOBUF, server.api_key)
    post(http, "/v1/traces", traces_request([llm], PROTOBUF), PROTOBUF, other_key)
    session_id = trace_session(server.project_id, trace)
    cursor = _tree_cursor(http, server.api_key, session_id)
    time.sleep(0.01)
    record = {"trace_id": trace, "span_id": llm["span_id"], "event_name": "gen_ai.user.message"}
    record["body"] = {"content": "not yours"}
    assert logs_rejected(post(http, "/v1/logs", logs_pb([record]), PROTOBUF, other_key)) == (0, "")
    assert _changes(http, server.api_key, session_id, cursor) == {}
    [event] = server.session(session_id)["events"]
    assert event.get("prompt") is None
    assert "log_events" not in event
    detail = server.storage.session_detail(other, trace_session(other, trace))
    assert detail is not None
    theirs = views.session_detail(*detail)["events"]
    assert theirs[0]["prompt"] == [{"role": "user", "content": "not yours"}]


def test_malformed_logs_body_is_400(server: TestServer, http: httpx.Client) -> None:
    response = post(http, "/v1/logs", b"\xff\xff\xff", PROTOBUF, server.api_key)
    assert response.status_code == 400
