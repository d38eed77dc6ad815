"""Third-party OpenTelemetry instrumentors beside ours: one LLM call is one event.

OpenInference's ``openinference-instrumentation-openai`` (wraps the client's ``request``:
its span starts inside our recorded call) and OpenTelemetry's
``opentelemetry-instrumentation-openai-v2`` (wraps ``create``: its span is outside ours
when it patched after us, inside when before) trace every call through the application's
global provider; agentwatch captures the application's spans into the session. Each call
must show as exactly one LLM event (ours: tokens, cost, messages), nested where it ran,
while the application's exporter still gets the instrumentors' spans unchanged. Real
``openai`` client, the fake provider, the real server in-process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.resources.chat.completions import Completions
from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInference
from opentelemetry import trace
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as OpenAIv2
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentwatch import Client, record_tool
from agentwatch.instrumentation import instrument, uninstrument
from agentwatch.server.testing import TestServer, uvicorn_server
from agentwatch.telemetry import capture
from tests.instrumentation import fake_provider as fake
from tests.instrumentation.conftest import stored
from tests.otel_globals import set_app_provider

pytestmark = pytest.mark.otel

ASK = [{"role": "user", "content": "What is the weather in Rome?"}]


@pytest.fixture
def app_exporter() -> InMemorySpanExporter:
    """The application's tracing, set before agentwatch (conftest puts it back after)."""
    return set_app_provider()


@pytest.fixture(params=["ours-first", "theirs-first"])
def instrumentors(
    request: pytest.FixtureRequest, app_exporter: InMemorySpanExporter
) -> Iterator[str]:
    """OpenInference and openai-v2 active beside ours, patched after ours or before."""
    uninstrument()  # from a clean slate: each one wraps what it finds
    unpatched = vars(Completions)["create"]
    openinference, v2 = OpenInference(), OpenAIv2()
    ours_first = request.param == "ours-first"
    steps = [instrument, openinference.instrument, v2.instrument]
    undo = [v2.uninstrument, openinference.uninstrument, uninstrument]
    if not ours_first:
        steps, undo = [*steps[1:], steps[0]], [undo[2], undo[0], undo[1]]
    for step in steps:
        step()
    try:
        yield request.param
    finally:
        for step in undo:  # the reverse order: each one unwraps what it finds on top
            step()
        assert vars(Completions)["create"] is unpatched, "an instrumentor was left behind"
        instrument()


def llm_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if capture.declares_llm(s.attributes)]


def test_one_call_is_one_event_with_both_instrumentors(
    server: TestServer,
    make_client: Any,
    oai: openai.OpenAI,
    app_exporter: InMemorySpanExporter,
    instrumentors: str,
) -> None:
    client: Client = make_client()
    tracer = trace.get_tracer("trip-app")
    session = client.start_session()
    with session.span("planner", kind="agent") as agent:
        with tracer.start_as_current_span("plan-step") as step:
            reply = oai.chat.completions.create(model="gpt-4o-mini", messages=ASK)
        for _ in oai.chat.completions.create(model="gpt-4o-mini", messages=ASK, stream=True):
            pass
    assert reply.choices[0].message.content == fake.TEXT
    events = stored(server, session)

    llms = [e for e in events if e["kind"] == "llm"]
    assert len(llms) == 2, [(e["name"], e["data"].get("span")) for e in llms]
    assert all(e["event_type"] == "llms" and "span" not in e["data"] for e in llms), "ours"
    whole, streamed = sorted(llms, key=lambda e: e["init_timestamp"])
    step_event = next(e for e in events if e["name"] == "plan-step")
    assert step_event["parent_id"] == str(agent.id)
    assert step_event["id"] == f"{step.get_span_context().span_id:016x}"
    assert whole["parent_id"] == step_event["id"]  # made inside the application's span
    assert streamed["parent_id"] == str(agent.id)
    assert (whole["prompt_tokens"], whole["completion_tokens"]) == (
        fake.PROMPT_TOKENS,
        fake.COMPLETION_TOKENS,
    )
    assert whole["cost"] is not None
    assert streamed["data"]["tokens_estimated"] is True  # a stream without usage: ours says so
    # Nothing else in the tree claims to be an LLM call, nor dangles.
    ids = {e["id"] for e in events}
    assert all(e["parent_id"] is None or e["parent_id"] in ids for e in events), events
    session_row = server.session(session.session_id)["session"]
    assert session_row["counts"]["llms"] == 2
    assert client.dropped == {}

    # The application's exporter got each instrumentor's span of each call, unchanged.
    spans = llm_spans(app_exporter)
    scopes = sorted(s.instrumentation_scope.name for s in spans if s.instrumentation_scope)
    assert len(spans) == 4, scopes
    assert all(capture.PARENT_EVENT_ID not in (s.attributes or {}) for s in spans)


async def test_async_calls_are_one_event_each(
    server: TestServer,
    make_client: Any,
    aoai: openai.AsyncOpenAI,
    app_exporter: InMemorySpanExporter,
    instrumentors: str,
) -> None:
    client: Client = make_client()
    session = client.start_session()
    with session.span("planner", kind="agent") as agent:
        await aoai.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    events = stored(server, session)
    [llm] = [e for e in events if e["kind"] == "llm"]
    assert llm["parent_id"] == str(agent.id)
    assert len(llm_spans(app_exporter)) == 2


def test_without_our_instrumentation_the_instrumentors_span_is_the_event(
    server: TestServer,
    make_client: Any,
    oai: openai.OpenAI,
    app_exporter: InMemorySpanExporter,
) -> None:
    """With ``instrument_llm_calls=False`` the call is OpenInference's span, nested where
    it ran, with the model and tokens it carries."""
    openinference = OpenInference()
    openinference.instrument()
    try:
        client: Client = make_client(instrument_llm_calls=False)
        session = client.start_session()
        with session.span("planner", kind="agent") as agent:
            oai.chat.completions.create(model="gpt-4o-mini", messages=ASK)
        events = stored(server, session)
    finally:
        openinference.uninstrument()
    [llm] = [e for e in events if e["kind"] == "llm"]
    assert llm["data"]["span"]["declared_kind"] == "LLM"
    assert llm["parent_id"] == str(agent.id)
    assert llm["model"] == fake.RESPONSE_MODELS["gpt-4o-mini"]
    assert llm["prompt_tokens"] == fake.PROMPT_TOKENS


def test_the_whole_tree_over_http_on_both_databases(
    db_url: str,
    provider: fake.FakeProvider,
    app_exporter: InMemorySpanExporter,
    instrumentors: str,
) -> None:
    """uvicorn on 127.0.0.1 (the spans go as OTLP protobuf over a real socket), SQLite and
    PostgreSQL: an agent span, the application's span in it, the LLM call made there (one
    event), a tool with the application's span inside it."""
    tracer = trace.get_tracer("trip-app")
    with uvicorn_server(db_url) as server:
        client = Client(
            api_key=server.api_key, endpoint=server.url, handle_signals=False, flush_interval=0.05
        )
        try:

            @record_tool("get_weather")
            def get_weather(city: str) -> dict[str, Any]:
                with tracer.start_as_current_span("weather-api", attributes={"city": city}):
                    return {"city": city, "temperature_c": 21}

            session = client.start_session()
            with (
                openai.OpenAI(api_key="sk-test", base_url=provider.openai_url) as oai,
                session.span("planner", kind="agent") as agent,
                tracer.start_as_current_span("plan-step") as step,
            ):
                oai.chat.completions.create(model="gpt-4o-mini", messages=ASK)
                get_weather("Rome")
            session.end_session("Success")
            detail = server.session(session.session_id)
        finally:
            client.shutdown(timeout=5)
    events = {e["name"]: e for e in detail["events"]}
    step_id = f"{step.get_span_context().span_id:016x}"
    llms = [e for e in detail["events"] if e["kind"] == "llm"]
    assert len(llms) == 1
    [llm] = llms
    assert (events["planner"]["kind"], events["planner"]["parent_id"]) == ("agent", None)
    assert (events["plan-step"]["id"], events["plan-step"]["parent_id"]) == (step_id, str(agent.id))
    assert (events["plan-step"]["kind"], events["plan-step"]["name"]) == ("other", "plan-step")
    assert llm["parent_id"] == step_id
    assert llm["prompt_tokens"] == fake.PROMPT_TOKENS
    tool = events["get_weather"]
    assert (tool["kind"], tool["parent_id"]) == ("tool", step_id)
    assert events["weather-api"]["parent_id"] == tool["id"]
    assert events["weather-api"]["data"]["attributes"]["city"] == "Rome"
    assert len(detail["events"]) == 5
    assert detail["session"]["end_state"] == "Success"
    assert client.dropped == {}
