"""POST /v1/traces: the real OTel exporter and hand-built requests, on both databases."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status as OtelStatus
from opentelemetry.trace import StatusCode

from agentwatch.server.otlp.sessions import named_session, trace_session
from agentwatch.server.testing import TestServer, uvicorn_server
from tests.server.conftest import event
from tests.server.otlp_requests import (
    JSON,
    PROTOBUF,
    new_span_id,
    new_trace_id,
    post,
    rejected,
    span,
    traces_request,
)

ENCODINGS = [PROTOBUF, JSON]


@pytest.fixture
def http(server: TestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, transport=server.transport) as client:
        yield client


def sessions_of(server: TestServer) -> list[dict[str, Any]]:
    with httpx.Client(base_url=server.url, transport=server.transport) as client:
        listed = client.get("/api/sessions", headers={"X-Agentops-Api-Key": server.api_key})
    assert listed.status_code == 200, listed.text
    return [server.session(s["id"]) for s in listed.json()["sessions"]]


def by_name(detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in detail["events"]}


def genai_messages(text: str, role: str = "user") -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


def test_real_exporter_stores_the_agent_tree(db_url: str) -> None:
    """opentelemetry-exporter-otlp-proto-http, BatchSpanProcessor, uvicorn: agent -> LLM,
    agent -> tool (which raised); stored as one session with parents, kinds, tokens, cost."""
    with uvicorn_server(db_url) as server:
        exporter = OTLPSpanExporter(
            endpoint=f"{server.url}/v1/traces",
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
        provider = TracerProvider(resource=Resource.create({"service.name": "planner-app"}))
        provider.add_span_processor(BatchSpanProcessor(exporter))
        tracer = provider.get_tracer("test")
        try:
            with tracer.start_as_current_span(
                "invoke_agent planner",
                attributes={
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.name": "planner",
                },
            ):
                with tracer.start_as_current_span(
                    "chat gpt-4o-mini",
                    attributes={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": "gpt-4o-mini",
                        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                        "gen_ai.usage.input_tokens": 1000,
                        "gen_ai.usage.output_tokens": 200,
                        "gen_ai.usage.cache_read.input_tokens": 400,
                        "gen_ai.input.messages": genai_messages("Plan Rome"),
                        "gen_ai.output.messages": genai_messages("Day 1: Forum", "assistant"),
                    },
                ):
                    pass
                with tracer.start_as_current_span(
                    "execute_tool search",
                    attributes={
                        "gen_ai.operation.name": "execute_tool",
                        "gen_ai.tool.name": "search",
                        "gen_ai.tool.call.arguments": '{"q": "Rome"}',
                        "gen_ai.tool.call.result": '{"hits": 3}',
                    },
                ) as tool:
                    tool.record_exception(TimeoutError("search timed out"))
                    tool.set_status(OtelStatus(StatusCode.ERROR, "search timed out"))
            assert provider.force_flush(10_000)
        finally:
            provider.shutdown()
        [detail] = sessions_of(server)
    events = by_name(detail)
    agent, llm, tool_event = events["planner"], events["chat gpt-4o-mini"], events["search"]
    error = events["TimeoutError"]
    assert agent["kind"] == "agent"
    assert agent["parent_id"] is None
    assert llm["kind"] == "llm"
    assert llm["parent_id"] == agent["id"]
    assert tool_event["kind"] == "tool"
    assert tool_event["parent_id"] == agent["id"]
    assert error["kind"] == "error"
    assert error["parent_id"] == tool_event["id"]
    assert error["trigger_event_id"] == tool_event["id"]
    assert error["details"] == "search timed out"
    assert "TimeoutError" in error["logs"]
    assert llm["model"] == "gpt-4o-mini-2024-07-18"
    assert (llm["prompt_tokens"], llm["completion_tokens"], llm["cached_tokens"]) == (
        1000,
        200,
        400,
    )
    # gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per 1M tokens.
    assert llm["cost"] == pytest.approx((600 * 0.15 + 400 * 0.075 + 200 * 0.60) / 1e6)
    assert llm["prompt"] == [{"role": "user", "content": "Plan Rome"}]
    assert llm["completion"] == {"role": "assistant", "content": "Day 1: Forum"}
    assert tool_event["params"] == {"q": "Rome"}
    assert tool_event["returns"] == {"hits": 3}
    assert tool_event["status"] == "error"
    assert agent["data"]["resource"]["service.name"] == "planner-app"
    session = detail["session"]
    assert session["counts"] == {
        "llms": 1,
        "tools": 1,
        "actions": 0,
        "errors": 1,
        "apis": 0,
        "other": 1,
    }
    assert session["tokens"] == {"prompt": 1000, "completion": 200, "cached": 400, "total": 1200}
    assert session["cost"] == pytest.approx(llm["cost"])
    assert session["end_timestamp"] == agent["end_timestamp"]
    assert [a["name"] for a in detail["agents"]] == ["planner"]


@pytest.mark.parametrize("content_type", ENCODINGS)
def test_both_encodings_store_the_same_span(
    server: TestServer, http: httpx.Client, content_type: str
) -> None:
    trace = new_trace_id()
    root = span(trace, name="run", attributes={"session.id": "chat-42", "user.id": "ada"})
    child = span(
        trace,
        parent=root["span_id"],
        name="lookup",
        attributes={"openinference.span.kind": "TOOL", "tool.name": "lookup", "n": 3, "ok": True},
    )
    response = post(
        http,
        "/v1/traces",
        traces_request([root, child], content_type),
        content_type,
        server.api_key,
    )
    assert response.headers["content-type"].startswith(content_type)
    assert rejected(response) == (0, "")
    session_id, external = named_session(server.project_id, "chat-42")
    detail = server.session(session_id)
    events = by_name(detail)
    assert events["lookup"]["parent_id"] == root["span_id"] == events["run"]["id"]
    assert events["lookup"]["trace_id"] == trace
    assert events["lookup"]["data"]["attributes"] == {
        "openinference.span.kind": "TOOL",
        "tool.name": "lookup",
        "n": 3,
        "ok": True,
    }
    assert events["run"]["kind"] == "other"  # declares nothing
    row = server.storage.session(server.project_id, session_id)
    assert row is not None
    assert row.external_id == external == "chat-42"
    assert row.user_id == "ada"


def test_langfuse_path_is_the_same_receiver(server: TestServer, http: httpx.Client) -> None:
    trace = new_trace_id()
    body = gzip.compress(traces_request([span(trace, name="x")], PROTOBUF))
    basic = base64.b64encode(f"pk-lf-public:{server.api_key}".encode()).decode()
    response = http.post(
        "/api/public/otel/v1/traces",
        content=body,
        headers={
            "Content-Type": PROTOBUF,
            "Content-Encoding": "gzip",
            "Authorization": f"Basic {basic}",
        },
    )
    assert rejected(response) == (0, "")
    assert server.session(trace_session(server.project_id, trace))["session"]["event_count"] == 1


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda key: {"X-Agentops-Api-Key": key}, id="x-agentops-api-key"),
        pytest.param(lambda key: {"Authorization": f"Bearer {key}"}, id="bearer"),
        pytest.param(lambda key: {"Authorization": key}, id="bare"),
        pytest.param(
            lambda key: {
                "Authorization": "Basic " + base64.b64encode(f"{key}:x".encode()).decode()
            },
            id="basic-user",
        ),
        pytest.param(
            lambda key: {
                "Authorization": "Basic " + base64.b64encode(f"pk:{key}".encode()).decode()
            },
            id="basic-password",
        ),
    ],
)
def test_every_credential_form_is_accepted(
    server: TestServer, http: httpx.Client, headers: Any
) -> None:
    trace = new_trace_id()
    body = traces_request([span(trace)], PROTOBUF)
    response = http.post(
        "/v1/traces", content=body, headers={"Content-Type": PROTOBUF, **headers(server.api_key)}
    )
    assert rejected(response) == (0, "")
    assert server.session(trace_session(server.project_id, trace))["session"]["event_count"] == 1


@pytest.mark.parametrize("content_type", ENCODINGS)
@pytest.mark.parametrize("key", [None, "not-a-key", str(uuid.uuid4())])
def test_refused_credentials_are_401_in_the_otlp_shape(
    server: TestServer, http: httpx.Client, content_type: str, key: str | None
) -> None:
    body = traces_request([span(new_trace_id())], content_type)
    response = post(http, "/v1/traces", body, content_type, key)
    assert response.status_code == 401
    if content_type == PROTOBUF:
        status = Status.FromString(response.content)
        code, message = status.code, status.message
    else:
        code, message = response.json()["code"], response.json()["message"]
    assert code == 16  # UNAUTHENTICATED
    assert "X-Agentops-Api-Key" in message
    assert sessions_of(server) == []


def test_revoked_key_is_refused(server: TestServer, http: httpx.Client) -> None:
    server.storage.revoke_api_keys(server.api_key)
    response = post(
        http,
        "/v1/traces",
        traces_request([span(new_trace_id())], PROTOBUF),
        PROTOBUF,
        server.api_key,
    )
    assert response.status_code == 401


def test_unknown_content_type_is_415(server: TestServer, http: httpx.Client) -> None:
    response = post(http, "/v1/traces", b"hello", "text/plain", server.api_key)
    assert response.status_code == 415
    assert "application/x-protobuf" in response.json()["message"]


def test_same_span_twice_is_stored_once(server: TestServer, http: httpx.Client) -> None:
    trace = new_trace_id()
    llm = span(
        trace,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.output_tokens": 5,
        },
    )
    body = traces_request([llm, llm], PROTOBUF)
    for _ in range(3):
        assert rejected(post(http, "/v1/traces", body, PROTOBUF, server.api_key)) == (0, "")
    session = server.session(trace_session(server.project_id, trace))["session"]
    assert session["event_count"] == 1
    assert session["counts"]["llms"] == 1
    assert session["tokens"]["total"] == 15


def test_a_large_request_partly_stored_already_adds_only_the_new_spans(
    server: TestServer, http: httpx.Client
) -> None:
    # Past one query's worth of (session, id) pairs, spans already stored mixed in: the
    # counters move by exactly the spans that are new.
    traces = [new_trace_id() for _ in range(3)]
    chat = {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 2}
    spans = [span(traces[i % 3], attributes=chat) for i in range(900)]
    first = spans[::2]
    assert rejected(
        post(http, "/v1/traces", traces_request(first, PROTOBUF), PROTOBUF, server.api_key)
    ) == (0, "")
    assert rejected(
        post(http, "/v1/traces", traces_request(spans, PROTOBUF), PROTOBUF, server.api_key)
    ) == (0, "")
    for trace_id in traces:
        session = server.session(trace_session(server.project_id, trace_id))["session"]
        assert session["event_count"] == 300
        assert session["counts"]["llms"] == 300
        assert session["tokens"]["prompt"] == 600


def test_children_first_then_the_span_naming_the_session(
    server: TestServer, http: httpx.Client
) -> None:
    """A trace whose early spans went to its own session moves when a span names one; the
    derived session disappears and both sessions' counters are right."""
    trace, root_id = new_trace_id(), new_span_id()
    llm = span(
        trace,
        parent=root_id,
        name="llm",
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 7,
        },
    )
    tool = span(
        trace, parent=root_id, name="tool", attributes={"gen_ai.operation.name": "execute_tool"}
    )
    assert (
        rejected(
            post(
                http, "/v1/traces", traces_request([llm, tool], PROTOBUF), PROTOBUF, server.api_key
            )
        )[0]
        == 0
    )
    derived = trace_session(server.project_id, trace)
    assert server.session(derived)["session"]["event_count"] == 2
    other = span(
        new_trace_id(), name="elsewhere", attributes={"session.id": "conv"}
    )  # already in "conv"
    post(http, "/v1/traces", traces_request([other], PROTOBUF), PROTOBUF, server.api_key)
    root = span(
        trace,
        root_id,
        name="root",
        attributes={"session.id": "conv", "tag.tags": ["beta"]},
        status=2,
    )
    assert (
        rejected(
            post(
                http, "/v1/traces", traces_request([root, llm], PROTOBUF), PROTOBUF, server.api_key
            )
        )[0]
        == 0
    )
    with pytest.raises(KeyError):
        server.session(derived)
    detail = server.session(named_session(server.project_id, "conv")[0])
    names = sorted(e["name"] for e in detail["events"])
    assert names == ["Error", "elsewhere", "llm", "root", "tool"]  # Error: the root's status
    session = detail["session"]
    assert session["event_count"] == 5
    assert session["counts"] == {
        "llms": 1,
        "tools": 1,
        "actions": 0,
        "errors": 1,
        "apis": 0,
        "other": 2,
    }
    assert session["tokens"]["prompt"] == 7
    assert session["tags"] == ["beta"]
    assert session["end_state"] == "Fail"
    assert {s["session"]["id"] for s in sessions_of(server)} == {detail["session"]["id"]}


def _sent_into(http: httpx.Client, key: str, session_id: str) -> tuple[Any, ...]:
    """What a project sees sending a span that names ``session_id`` and reading it back."""
    theirs = span(new_trace_id(), name="theirs", attributes={"session.id": session_id})
    answer = rejected(post(http, "/v1/traces", traces_request([theirs], PROTOBUF), PROTOBUF, key))
    detail = http.get(f"/api/sessions/{session_id}", headers={"X-Agentops-Api-Key": key})
    assert detail.status_code == 200, detail.text
    shown = detail.json()
    return (
        answer,
        shown["session"]["id"] == session_id,
        shown["session"]["event_count"],
        [e["name"] for e in shown["events"]],
    )


def test_a_uuid_session_of_another_project_answers_as_a_fresh_id_and_stays_theirs(
    server: TestServer, http: httpx.Client, other_project: Any
) -> None:
    """The attack: a project names another project's session id in ``session.id``. It must
    learn nothing (the answers a fresh id gets) and write nothing into that session."""
    foreign, jwt = other_project.create_session()
    assert other_project.events(jwt, [event("tools", name="secret")]).status_code == 200
    other = server.storage.project_by_name("other")
    assert other is not None

    squatted = _sent_into(http, server.api_key, foreign)
    fresh = _sent_into(http, server.api_key, str(uuid.uuid4()))
    assert squatted == fresh == ((0, ""), True, 1, ["theirs"])

    row = server.storage.session(other.id, foreign)
    assert row is not None
    assert row.event_count == 1  # their one event, none of ours
    theirs = other_project.get(f"/api/sessions/{foreign}").json()
    assert [e["name"] for e in theirs["events"]] == ["secret"]


def test_a_uuid_session_key_is_the_session_id(
    server: TestServer, http: httpx.Client, v2: Any
) -> None:
    """An agentwatch v2 session and spans naming its id meet in one session."""
    session_id, jwt = v2.create_session()
    trace = new_trace_id()
    body = traces_request(
        [span(trace, name="otel", attributes={"session.id": session_id.upper()})], PROTOBUF
    )
    assert rejected(post(http, "/v1/traces", body, PROTOBUF, server.api_key)) == (0, "")
    assert v2.events(jwt, [event("actions", action_type="v2")]).status_code == 200
    detail = server.session(session_id)
    assert sorted(e["name"] for e in detail["events"]) == ["otel", "v2"]


def test_agentops_root_gives_tags_and_end_state(server: TestServer, http: httpx.Client) -> None:
    trace = new_trace_id()
    root = span(
        trace,
        name="my_run.session",
        attributes={
            "agentops.span.kind": "session",
            "agentops.tags": ["prod", "eu"],
            "agentops.session.end_state": "Success",
        },
    )
    agent = span(
        trace,
        parent=root["span_id"],
        name="researcher.agent",
        attributes={"agentops.span.kind": "agent", "agentops.entity.name": "researcher"},
    )
    task = span(
        trace,
        parent=agent["span_id"],
        name="search.task",
        attributes={
            "agentops.span.kind": "task",
            "agentops.task.input": '{"q": "otel"}',
            "agentops.task.output": '"done"',
        },
    )
    post(
        http, "/v1/traces", traces_request([task, agent, root], PROTOBUF), PROTOBUF, server.api_key
    )
    detail = server.session(trace_session(server.project_id, trace))
    session = detail["session"]
    assert session["tags"] == ["prod", "eu"]
    assert session["end_state"] == "Success"
    assert session["init_timestamp"] == min(e["init_timestamp"] for e in detail["events"])
    events = by_name(detail)
    assert events["researcher"]["kind"] == "agent"
    assert events["search.task"]["kind"] == "action"
    assert events["search.task"]["params"] == {"q": "otel"}
    assert events["search.task"]["returns"] == "done"
    assert [a["name"] for a in detail["agents"]] == ["researcher"]
    assert session["counts"]["actions"] == 1
    assert session["counts"]["other"] == 2


def test_logfire_pending_spans_are_dropped(server: TestServer, http: httpx.Client) -> None:
    trace = new_trace_id()
    pending = span(trace, name="pending", attributes={"logfire.span_type": "pending_span"})
    real = span(trace, name="real", attributes={"logfire.span_type": "span"})
    assert rejected(
        post(
            http, "/v1/traces", traces_request([pending, real], PROTOBUF), PROTOBUF, server.api_key
        )
    ) == (0, "")
    assert [
        e["name"] for e in server.session(trace_session(server.project_id, trace))["events"]
    ] == ["real"]


@pytest.mark.parametrize("content_type", ENCODINGS)
def test_metrics_are_accepted_and_counted(
    server: TestServer, http: httpx.Client, content_type: str
) -> None:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    request = ExportMetricsServiceRequest()
    metric = (
        request.resource_metrics.add()
        .scope_metrics.add()
        .metrics.add(name="gen_ai.client.token.usage")
    )
    metric.histogram.data_points.add(count=1)
    metric.histogram.data_points.add(count=2)
    if content_type == PROTOBUF:
        body = request.SerializeToString()
    else:
        from google.protobuf.json_format import MessageToJson

        body = MessageToJson(request).encode()
    response = post(http, "/v1/metrics", body, content_type, server.api_key)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    stats = http.get("/api/otlp/stats", headers={"X-Agentops-Api-Key": server.api_key}).json()
    assert stats["metrics"]["data_points"] == 2
    assert stats["metrics"]["requests"] == 1


def test_logfire_and_langfuse_auth_checks(server: TestServer, http: httpx.Client) -> None:
    info = http.get("/v1/info", headers={"Authorization": server.api_key})
    assert info.status_code == 200
    assert info.json()["project_name"] == "test"
    projects = http.get(
        "/api/public/projects",
        headers={
            "Authorization": "Basic " + base64.b64encode(f"pk:{server.api_key}".encode()).decode()
        },
    )
    assert projects.status_code == 200
    assert [p["id"] for p in projects.json()["data"]] == [server.project_id]
    assert http.get("/v1/info", headers={"Authorization": "nope"}).status_code == 401
