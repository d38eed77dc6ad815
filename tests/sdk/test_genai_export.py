"""GenAI spans out: with ``otlp_endpoint`` set, each session also reaches an OTLP/HTTP
collector as OpenTelemetry GenAI spans, beside the normal delivery to agentwatch.

One agent run (an agent, an action, tools, a failing tool, an LLM call) is recorded and
read back three ways: from agentwatch's v2 delivery (the in-process server), from a
minimal protobuf receiver (``otlp_collector``), and from a second agentwatch server's own
``/v1/traces`` (uvicorn on 127.0.0.1). The trees must be the same tree.

Marked ``otel``: ``make otel-versions`` runs these on OpenTelemetry 1.27 and the latest.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agentwatch import Client, LLMEvent, Session, ToolEvent, record_action, record_tool, track_agent
from agentwatch.server.testing import TestServer, uvicorn_server
from agentwatch.telemetry.exporters.otlp import root_span_id
from tests.sdk.faults import BlackHole
from tests.sdk.otlp_collector import Collector, collector

pytestmark = pytest.mark.otel

LOW_64 = 2**64 - 1
SPAN_KIND_INTERNAL, SPAN_KIND_CLIENT = 1, 3
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
PROMPT = [
    {"role": "system", "content": "Answer in one word."},
    {"role": "user", "content": "Weather in Paris?"},
]
COMPLETION = {"role": "assistant", "content": "Sunny"}
CONTENT_KEYS = (
    "gen_ai.system_instructions",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "input.value",
    "output.value",
)


@record_tool("lookup")
def lookup(city: str) -> str:
    if city == "Atlantis":
        raise LookupError("no such city: Atlantis")
    return f"{city}: 21 C"


@track_agent("researcher")
class Researcher:
    @record_action("research")
    def research(self, session: Session) -> None:
        lookup("Paris")
        with pytest.raises(LookupError):
            lookup("Atlantis")
        session.record(
            LLMEvent(
                model="gpt-4o-mini",
                prompt=PROMPT,
                completion=COMPLETION,
                prompt_tokens=120,
                completion_tokens=3,
                cached_tokens=100,
                stop_reason="stop",
                params={"temperature": 0.2, "max_tokens": 50},
            )
        )
        session.record(ToolEvent(name="weather_api", tool_call_id="call_7", params={"q": "Paris"}))


def run_agent(client: Client) -> Session:
    """The agent run every test records: returns its ended session."""
    session = client.start_session(tags=["genai", "export"])
    Researcher().research(session)
    session.end_session("Success")
    return session


@pytest.fixture
def otlp() -> Iterator[Collector]:
    with collector() as running:
        yield running


def hex_of(event_id: str) -> str:
    return f"{uuid.UUID(event_id).int & LOW_64:016x}"


def by_event_id(spans: list[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    return {s["attributes"].get("agentwatch.event.id"): s for s in spans}


# -- to a plain collector ------------------------------------------------------------------


def test_the_session_reaches_a_collector_as_genai_spans_of_the_same_tree(
    server: TestServer, make_client: Callable[..., Client], otlp: Collector
) -> None:
    client = make_client(otlp_endpoint=otlp.url, otlp_headers={"X-Team": "agents"})
    session = run_agent(client)
    client.shutdown()
    assert client.dropped == {}
    assert set(otlp.paths) == {"/v1/traces"}  # appended to the base URL
    assert {h["x-team"] for h in otlp.headers} == {"agents"}

    stored = server.session(session.session_id)["events"]  # the v2 delivery
    spans = otlp.spans()
    by_id = by_event_id(spans)
    root = by_id.pop(None)
    trace_id = uuid.UUID(session.session_id).hex
    assert {s["trace_id"] for s in spans} == {trace_id}
    assert root["span_id"] == f"{root_span_id(session.session_id):016x}"
    assert root["parent_id"] is None
    assert root["name"] == "invoke_workflow agentwatch"
    assert root["status"] == STATUS_OK
    assert root["attributes"]["tag.tags"] == ["genai", "export"]
    assert root["resource"]["service.name"] == "agentwatch"
    assert {s["scope"] for s in spans} == {"agentwatch"}

    # Every stored event but the error (folded into the span it was raised in) is a span,
    # under the span of its parent event, or the root.
    errors = [e for e in stored if e["event_type"] == "errors"]
    assert len(errors) == 1
    assert set(by_id) == {e["id"] for e in stored} - {errors[0]["id"]}
    for event in stored:
        if event["event_type"] == "errors":
            continue
        span = by_id[event["id"]]
        assert span["span_id"] == hex_of(event["id"])
        parent = event.get("parent_id")
        assert span["parent_id"] == (hex_of(parent) if parent else root["span_id"])
        assert span["attributes"]["session.id"] == session.session_id
        assert span["attributes"]["agentwatch.event.kind"] == event["kind"]
        assert span["start"] <= span["end"]

    agent = next(e for e in stored if e["kind"] == "agent")
    assert by_id[agent["id"]]["name"] == "invoke_agent researcher"
    assert by_id[agent["id"]]["attributes"]["gen_ai.agent.id"] == agent["agent_id"]
    assert by_id[agent["id"]]["attributes"]["gen_ai.operation.name"] == "invoke_agent"

    action = next(e for e in stored if e["kind"] == "action")
    assert by_id[action["id"]]["name"] == "research"
    assert "gen_ai.operation.name" not in by_id[action["id"]]["attributes"]
    assert by_id[action["id"]]["kind"] == SPAN_KIND_INTERNAL

    llm = by_id[next(e for e in stored if e["kind"] == "llm")["id"]]
    assert llm["name"] == "chat gpt-4o-mini"
    assert llm["kind"] == SPAN_KIND_CLIENT
    attrs = llm["attributes"]
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == attrs["gen_ai.response.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.usage.input_tokens"] == 120  # cached tokens are a part of it
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 100
    assert attrs["gen_ai.usage.output_tokens"] == 3
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["gen_ai.agent.id"] == agent["agent_id"]
    assert attrs["gen_ai.agent.name"] == "researcher"
    assert json.loads(attrs["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Answer in one word."}
    ]
    assert json.loads(attrs["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}
    ]
    assert json.loads(attrs["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Sunny"}],
            "finish_reason": "stop",
        }
    ]

    tools = [s for s in spans if s["name"] == "execute_tool lookup"]
    ok, failed = sorted(tools, key=lambda s: s["status"])
    assert ok["status"] == STATUS_UNSET
    assert json.loads(ok["attributes"]["gen_ai.tool.call.arguments"]) == {"city": "Paris"}
    assert json.loads(ok["attributes"]["gen_ai.tool.call.result"]) == "Paris: 21 C"
    assert failed["status"] == STATUS_ERROR
    assert failed["status_message"] == "no such city: Atlantis"
    assert failed["attributes"]["error.type"] == "LookupError"
    [(name, exception)] = failed["events"]
    assert name == "exception"
    assert exception["exception.type"] == "LookupError"
    assert exception["exception.message"] == "no such city: Atlantis"
    assert "Traceback" in exception["exception.stacktrace"]
    assert failed["span_id"] == hex_of(errors[0]["parent_id"])
    api = next(s for s in spans if s["name"] == "execute_tool weather_api")
    assert api["attributes"]["gen_ai.tool.call.id"] == "call_7"
    assert api["attributes"]["gen_ai.tool.type"] == "function"


def test_without_content_capture_no_message_or_argument_leaves(
    make_client: Callable[..., Client], otlp: Collector
) -> None:
    client = make_client(otlp_endpoint=otlp.url, capture_content=False)
    run_agent(client)
    client.shutdown()
    spans = otlp.spans()
    assert len(spans) == 7
    for span in spans:
        leaked = [k for k in CONTENT_KEYS if k in span["attributes"]]
        assert leaked == [], f"{span['name']} carries {leaked}"
        assert "Paris" not in json.dumps(span["attributes"])
    llm = next(s for s in spans if s["name"] == "chat gpt-4o-mini")
    assert llm["attributes"]["gen_ai.usage.input_tokens"] == 120  # the rest stays
    assert llm["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]


# -- to agentwatch's own /v1/traces ------------------------------------------------------------


def _tree(events: list[dict[str, Any]], key: Callable[[str], str]) -> set[tuple[Any, ...]]:
    """(id, parent, kind, name, agent, model, tokens) of each event, ids through ``key``."""
    return {
        (
            key(e["id"]),
            None if e.get("parent_id") is None else key(e["parent_id"]),
            e["kind"],
            e["data"].get("error_type")
            or e["data"].get("tool_name")
            or e.get("model")
            or e["name"],
            e.get("agent_id"),
            e.get("model"),
            e.get("prompt_tokens"),
            e.get("completion_tokens"),
            e.get("cached_tokens"),
        )
        for e in events
    }


def test_agentwatch_stores_the_otlp_copy_as_the_tree_the_v2_delivery_stored(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    with uvicorn_server() as second:
        client = make_client(
            otlp_endpoint=second.url,
            otlp_headers={"Authorization": f"Bearer {second.api_key}"},
            otlp_service_name="trip-planner",
            # One request at shutdown: an error whose span went out in an earlier request
            # is stored as a span of its own (documented), which would make the two trees
            # differ by the timing of the batches, not by their content.
            flush_interval=60,
            # and time enough for that request on a loaded machine (this test compares
            # trees; the budgets have tests of their own).
            request_timeout=30,
            shutdown_timeout=60,
        )
        session = run_agent(client)
        client.shutdown()
        assert client.dropped == {}
        via_v2 = server.session(session.session_id)
        via_otlp = second.session(session.session_id)  # session.id names the same session

    root_hex = f"{root_span_id(session.session_id):016x}"
    otlp_events = via_otlp["events"]
    [root] = [e for e in otlp_events if e["id"] == root_hex]
    assert (root["kind"], root["name"], root.get("parent_id")) == ("chain", "trip-planner", None)
    children = [e for e in otlp_events if e is not root]
    for event in children:  # the v2 tree hangs off the session; the OTLP one off its root
        if event.get("parent_id") == root_hex:
            event["parent_id"] = None
    # Error events: the v2 delivery's own id, the receiver's derived from its span.
    v2_key = {
        e["id"]: (f"{hex_of(e['parent_id'])}.error.0" if e["kind"] == "error" else hex_of(e["id"]))
        for e in via_v2["events"]
    }
    assert _tree(children, lambda i: i) == _tree(
        via_v2["events"], lambda i: v2_key.get(i, hex_of(i))
    )

    llm_v2 = next(e for e in via_v2["events"] if e["kind"] == "llm")
    llm_otlp = next(e for e in children if e["kind"] == "llm")
    assert llm_otlp["data"]["prompt"] == PROMPT
    assert llm_otlp["data"]["completion"] == {**COMPLETION, "finish_reason": "stop"}
    assert llm_otlp["data"]["stop_reason"] == llm_v2["stop_reason"] == "stop"
    assert llm_otlp["cost"] == llm_v2["cost"]  # the same price table, cached tokens counted once
    error = next(e for e in children if e["kind"] == "error")
    assert error["data"]["details"] == "no such city: Atlantis"
    assert via_otlp["session"]["tags"] == via_v2["session"]["tags"] == ["genai", "export"]
    assert via_otlp["session"]["end_state"] == "Success"
    assert via_otlp["session"]["counts"]["llms"] == via_v2["session"]["counts"]["llms"] == 1
    assert via_otlp["session"]["counts"]["tools"] == via_v2["session"]["counts"]["tools"] == 3
    assert via_otlp["session"]["counts"]["errors"] == 1
    assert {a["id"] for a in via_otlp["agents"]} == {a["id"] for a in via_v2["agents"]}


# -- faults --------------------------------------------------------------------------------------


def _refused_url() -> str:
    """A loopback URL whose port refuses connections (bound, never listening, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_dead_collector_blocks_nothing_and_every_lost_span_is_counted(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    # A budget that lets the agentwatch delivery finish on a loaded machine; the dead
    # collector's batches fail within request_timeout each, which ends the wait early.
    client = make_client(otlp_endpoint=_refused_url(), shutdown_timeout=20.0, request_timeout=0.5)
    session = client.start_session()
    started = time.monotonic()
    for n in range(2000):
        session.record(ToolEvent(name=f"t{n}"))
    recorded = time.monotonic() - started
    session.end_session("Success")
    ended = time.monotonic() - started
    client.shutdown()
    # Generous bounds: record() only queues; end_session waits for the budget at most.
    assert recorded < 5, f"2,000 record() calls took {recorded:.1f} s"
    assert ended < 20 + 5, f"end_session took {ended:.1f} s"
    dropped = client.dropped
    otlp_lost = {k: v for k, v in dropped.items() if k.startswith("otlp_")}
    assert sum(otlp_lost.values()) == 2000, dropped
    assert set(otlp_lost) <= {"otlp_export_failed", "otlp_shutdown"}
    assert dropped.keys() == otlp_lost.keys()  # the agentwatch delivery lost nothing
    assert server.session(session.session_id)["session"]["counts"]["tools"] == 2000


def test_a_collector_that_never_answers_holds_shutdown_to_its_budget(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    with BlackHole() as hole:
        client = make_client(otlp_endpoint=hole.url, shutdown_timeout=1.0, request_timeout=30.0)
        session = client.start_session()
        for n in range(1000):
            session.record(ToolEvent(name=f"t{n}"))
        started = time.monotonic()
        session.end_session("Success")  # waits its 1 s budget: the tee's request hangs
        client.shutdown()
        took = time.monotonic() - started
        assert hole.received > 0  # the request was sent, and is never answered
    # The budget twice (end_session, then shutdown), plus the worker joins: never the
    # 30 s request timeout.
    assert took < 2 * 1.0 + 3, f"end_session + shutdown took {took:.1f} s"
    dropped = client.dropped
    assert sum(v for k, v in dropped.items() if k.startswith("otlp_")) == 1000, dropped
    assert "otlp_shutdown" in dropped
    assert server.session(session.session_id)["session"]["counts"]["tools"] == 1000


def test_a_collector_that_refuses_is_named_in_one_warning(
    make_client: Callable[..., Client], otlp: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    otlp.status = 400  # not retryable
    client = make_client(otlp_endpoint=otlp.url + "/v1/traces")
    session = client.start_session()
    for _ in range(3):
        session.record(ToolEvent(name="t"))
    session.end_session("Success")
    client.shutdown()
    assert client.dropped == {"otlp_export_failed": 3}
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dropped")]
    assert len(warnings) == 1
    assert f"the OTLP endpoint {otlp.url}/v1/traces did not take the spans" in warnings[0]


def test_without_the_exporter_package_one_message_says_what_to_install(
    server: TestServer,
    make_client: Callable[..., Client],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A module set to None in sys.modules raises ImportError when imported: not installed.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http", None)
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with caplog.at_level(logging.WARNING, logger="agentwatch"):
        client = make_client(otlp_endpoint="http://127.0.0.1:4318")
    [message] = [r.getMessage() for r in caplog.records if "otlp_endpoint" in r.getMessage()]
    assert "pip install 'agentwatch[otlp]'" in message
    assert "opentelemetry-exporter-otlp-proto-http" in message
    assert "http://127.0.0.1:4318/v1/traces" in message
    session = client.start_session()
    session.record(ToolEvent(name="t"))
    session.end_session("Success")
    assert client.dropped == {}
    assert server.session(session.session_id)["session"]["counts"]["tools"] == 1


# -- agent-controlled values ------------------------------------------------------------------


def test_values_otlp_cannot_carry_are_sent_as_json_text(
    make_client: Callable[..., Client], otlp: Collector
) -> None:
    client = make_client(otlp_endpoint=otlp.url)
    session = client.start_session()
    odd = {
        "gen_ai.nested": {"a": [1, {"b": None}]},
        "gen_ai.huge": 2**70,
        "gen_ai.mixed": [1, "a"],
        "gen_ai.empty": [],
        "gen_ai.ints": [1, 2],
    }
    session.record(LLMEvent(model="m", gen_ai=odd, prompt="<script>alert(1)</script>"))
    session.end_session("Success")
    client.shutdown()
    assert client.dropped == {}
    [llm] = [s for s in otlp.spans() if s["name"] == "text_completion m"]
    attrs = llm["attributes"]
    assert json.loads(attrs["gen_ai.nested"]) == {"a": [1, {"b": None}]}
    assert attrs["gen_ai.huge"] == str(2**70)
    assert json.loads(attrs["gen_ai.mixed"]) == [1, "a"]
    assert attrs["gen_ai.ints"] == [1, 2]
    assert json.loads(attrs["gen_ai.input.messages"])[0]["parts"][0]["content"] == (
        "<script>alert(1)</script>"
    )


def test_an_error_whose_span_went_in_an_earlier_batch_is_a_span_of_its_own(
    make_client: Callable[..., Client], otlp: Collector
) -> None:
    client = make_client(otlp_endpoint=otlp.url, max_export_batch_size=1)
    session = client.start_session()
    with pytest.raises(ValueError, match="bad step"), session.span("step"):
        raise ValueError("bad step")
    session.end_session("Success")
    client.shutdown()
    spans = otlp.spans()
    step = next(s for s in spans if s["name"] == "step")
    error = next(s for s in spans if s["name"] == "ValueError")
    assert step["status"] == error["status"] == STATUS_ERROR
    assert error["parent_id"] == step["span_id"]
    assert error["attributes"]["agentwatch.event.kind"] == "error"
    assert error["events"][0][1]["exception.message"] == "bad step"


def test_the_service_name_comes_from_the_setting_else_otel_service_name(
    make_client: Callable[..., Client], otlp: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-otel-env")
    for settings, expected in (({}, "from-otel-env"), ({"otlp_service_name": "mine"}, "mine")):
        client = make_client(otlp_endpoint=otlp.url, **settings)
        session = client.start_session()
        session.end_session("Success")
        client.shutdown()
        root = otlp.spans()[-1]
        assert root["resource"]["service.name"] == expected
        assert root["name"] == f"invoke_workflow {expected}"
