"""The application's own OpenTelemetry spans land in the current session, where they ran.

A real application tracer (the OpenTelemetry SDK's ``TracerProvider``, with an in-memory
exporter of the application's own) and the real server in-process: the test records
spans inside ``session.span()`` blocks, decorated calls, threads and asyncio tasks, and
reads the stored tree back (parent ids, kinds, names). The application's exporter must
see its spans exactly as without agentwatch.

Marked ``otel``: ``make otel-versions`` runs these on OpenTelemetry 1.27 and the latest.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentwatch
from agentwatch import Client, record_action, record_tool, track_agent
from agentwatch.server.testing import TestServer
from agentwatch.telemetry import capture
from agentwatch.telemetry.exporters import otlpspans
from tests.otel_globals import forget_global_provider, set_app_provider

pytestmark = pytest.mark.otel


@pytest.fixture
def app_exporter() -> InMemorySpanExporter:
    """The application's tracing, set before agentwatch (conftest puts it back after)."""
    return set_app_provider()


@pytest.fixture
def no_provider() -> Iterator[None]:
    forget_global_provider()
    try:
        yield
    finally:
        forget_global_provider()


def stored(server: TestServer, session_id: str) -> dict[str, dict[str, Any]]:
    """The session's stored events by name."""
    events = server.session(session_id)["events"]
    return {e["name"]: e for e in events}


def hex_id(span: Any) -> str:
    return f"{span.get_span_context().span_id:016x}"


def test_app_spans_nest_under_the_agentwatch_span_they_ran_in(
    server: TestServer, make_client: Callable[..., Client], app_exporter: InMemorySpanExporter
) -> None:
    client = make_client()
    tracer = trace.get_tracer("trip-app")

    @record_tool("lookup")
    def lookup(city: str) -> str:
        with tracer.start_as_current_span("geo.query"):
            return city.upper()

    session = client.start_session()
    with session.span("plan") as plan, tracer.start_as_current_span("outer") as outer:
        with tracer.start_as_current_span("inner") as inner:
            inner.set_attribute("step", 2)
        lookup("rome")
    session.end_session("Success")

    events = stored(server, session.session_id)
    assert set(events) == {"plan", "outer", "inner", "lookup", "geo.query"}
    assert events["plan"]["parent_id"] is None
    assert events["outer"]["id"] == hex_id(outer)
    assert events["outer"]["parent_id"] == str(plan.id)  # the agentwatch span it ran in
    assert events["inner"]["parent_id"] == hex_id(outer)  # its OpenTelemetry parent
    assert events["inner"]["kind"] == "other"
    assert events["inner"]["data"]["attributes"]["step"] == 2
    # The decorated call runs inside "outer": it nests there ...
    tool = events["lookup"]
    assert (tool["kind"], tool["parent_id"]) == ("tool", hex_id(outer))
    # ... and a span opened inside it (under "outer" as OpenTelemetry sees it) under it.
    assert events["geo.query"]["parent_id"] == tool["id"]
    assert server.session(session.session_id)["session"]["end_state"] == "Success"
    assert client.dropped == {}

    # The application's exporter saw its spans as they were: none of our attributes.
    seen = {s.name: s for s in app_exporter.get_finished_spans()}
    # (The in-process server traces its requests too: FastAPI sees the global provider.)
    seen = {name: s for name, s in seen.items() if not name.startswith(("fastapi", "POST"))}
    assert set(seen) == {"outer", "inner", "geo.query"}
    assert dict(seen["inner"].attributes or {}) == {"step": 2}
    assert all(
        capture.PARENT_EVENT_ID not in (s.attributes or {})
        and "session.id" not in (s.attributes or {})
        for s in seen.values()
    )
    assert seen["geo.query"].parent is not None
    assert seen["geo.query"].parent.span_id == outer.get_span_context().span_id


def test_an_agent_created_inside_an_app_span_nests_under_it(
    server: TestServer, make_client: Callable[..., Client], app_exporter: InMemorySpanExporter
) -> None:
    client = make_client()
    tracer = trace.get_tracer("agent-app")

    @track_agent("planner")
    class Planner:
        @record_action("plan")
        def plan(self) -> None:
            with tracer.start_as_current_span("plan.step"):
                pass

    session = client.start_session()
    with tracer.start_as_current_span("request") as request:
        planner = Planner()
        with session.span("inner-block"):
            Planner(agentwatch_name="helper")  # an agentwatch span is innermost here
        with tracer.start_as_current_span("handler"):
            pass
    planner.plan()  # called after "request" ended: it nests where the agent was made
    session.end_session("Success")

    events = stored(server, session.session_id)
    assert {"request", "planner", "helper", "inner-block", "handler", "plan", "plan.step"} <= set(
        events
    )
    assert events["planner"]["kind"] == "agent"
    assert events["planner"]["parent_id"] == hex_id(request)  # like any other event
    assert events["helper"]["parent_id"] == events["inner-block"]["id"]
    assert events["inner-block"]["parent_id"] == hex_id(request)
    assert events["handler"]["parent_id"] == hex_id(request)
    assert events["plan"]["parent_id"] == events["planner"]["id"]
    assert events["plan.step"]["parent_id"] == events["plan"]["id"]
    assert client.dropped == {}


def test_with_no_provider_set_ours_becomes_the_global_one(
    server: TestServer, make_client: Callable[..., Client], no_provider: None
) -> None:
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    tracer = trace.get_tracer("made-before-init")  # a proxy: it follows the provider set later
    client = make_client()
    assert isinstance(trace.get_tracer_provider(), TracerProvider)
    session = client.start_session()
    with tracer.start_as_current_span("step"):
        pass
    session.end_session("Success")
    assert set(stored(server, session.session_id)) == {"step"}


def test_capture_off_leaves_tracing_alone(
    server: TestServer, make_client: Callable[..., Client], no_provider: None
) -> None:
    client = make_client(capture_otel_spans=False)
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert client.telemetry.app_spans is None
    provider = TracerProvider()
    trace.set_tracer_provider(provider)
    session = client.start_session()
    with provider.get_tracer("app").start_as_current_span("step"):
        pass
    session.end_session("Success")
    assert stored(server, session.session_id) == {}


def test_spans_outside_any_session_are_not_sent(
    server: TestServer, make_client: Callable[..., Client], app_exporter: InMemorySpanExporter
) -> None:
    client = make_client()
    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("before"):
        pass
    session = client.start_session()
    # A thread started without a copy of the context has no session (nor OTel parent).
    other = threading.Thread(target=lambda: tracer.start_span("elsewhere").end())
    with tracer.start_as_current_span("during") as during:
        other.start()
        other.join()
        # ... but a child of a captured span is captured, wherever it starts.
        context = contextvars.copy_context()
        child = threading.Thread(
            target=lambda: context.run(lambda: tracer.start_span("child-of-during").end())
        )
        child.start()
        child.join()
    session.end_session("Success")
    client.flush()
    events = stored(server, session.session_id)
    assert set(events) == {"during", "child-of-during"}
    assert events["child-of-during"]["parent_id"] == hex_id(during)
    assert events["during"]["parent_id"] is None
    names = {s.name for s in app_exporter.get_finished_spans()}
    assert {"before", "elsewhere", "during", "child-of-during"} <= names


def test_threads_and_tasks_inherit_the_open_span(
    server: TestServer, make_client: Callable[..., Client], app_exporter: InMemorySpanExporter
) -> None:
    client = make_client()
    tracer = trace.get_tracer("app")

    async def fetch(name: str) -> None:
        await asyncio.sleep(0)
        with tracer.start_as_current_span(name):
            await asyncio.sleep(0)

    async def agent() -> None:
        with session.span("gather", kind="chain"):
            await asyncio.gather(fetch("task-a"), fetch("task-b"))
            await asyncio.to_thread(lambda: tracer.start_span("in-thread").end())

    session = client.start_session()
    asyncio.run(agent())
    session.end_session("Success")
    events = stored(server, session.session_id)
    gather = events["gather"]
    assert gather["kind"] == "chain"
    for name in ("task-a", "task-b", "in-thread"):
        assert events[name]["parent_id"] == gather["id"], name


def test_a_dead_server_blocks_nothing_and_every_lost_span_is_counted(
    make_client: Callable[..., Client], app_exporter: InMemorySpanExporter
) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    client = make_client(
        endpoint=f"http://127.0.0.1:{port}",
        transport=None,
        retry_deadline=0.5,
        max_queue_size=50,
        max_export_batch_size=10,
    )
    tracer = trace.get_tracer("app")
    client.start_session()
    started = time.perf_counter()
    for i in range(200):
        with tracer.start_as_current_span(f"span-{i}"):
            pass
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5 * 200 / 10, "spans must not wait on the server"  # loose: no timing target
    client.shutdown(timeout=1)
    dropped = client.dropped
    assert dropped.get("queue_full", 0) > 0
    # Every span is accounted for, once: none delivered, each dropped for a reason (and
    # the session's own creation and update are no events).
    assert sum(dropped.values()) == 200, dropped
    assert client.pending == 0
    assert len(app_exporter.get_finished_spans()) == 200  # the application's own got them all


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_both_encodings_store_the_same_span(
    server: TestServer,
    make_client: Callable[..., Client],
    app_exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
    encoding: str,
) -> None:
    monkeypatch.setattr(otlpspans, "protobuf_available", lambda: encoding == "protobuf")
    client = make_client()
    assert client.telemetry.app_spans is not None
    expected = otlpspans.PROTOBUF if encoding == "protobuf" else otlpspans.JSON
    assert client.telemetry.app_spans.exporter.content_type == expected
    tracer = trace.get_tracer("app", "1.2")
    session = client.start_session()
    with (
        session.span("plan") as plan,
        tracer.start_as_current_span(
            "search", kind=trace.SpanKind.CLIENT, attributes={"q": "rome", "n": 3, "ok": True}
        ) as span,
    ):
        span.add_event("hit", {"rank": 1.5, "tags": ["a", "b"]})
        span.set_status(trace.Status(trace.StatusCode.ERROR, "no results"))
    session.end_session("Success")
    events = stored(server, session.session_id)
    search = events["search"]
    assert search["parent_id"] == str(plan.id)
    assert search["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    attributes = search["data"]["attributes"]
    assert {k: attributes[k] for k in ("q", "n", "ok")} == {"q": "rome", "n": 3, "ok": True}
    assert attributes["session.id"] == session.session_id
    assert search["status"] == "error"
    assert search["data"]["span"]["kind"] == "client"
    assert search["data"]["events"][0]["attributes"] == {"rank": 1.5, "tags": ["a", "b"]}
    # The error the span gives is under it; the session's end state is the SDK's.
    errors = [e for e in events.values() if e["kind"] == "error"]
    assert [e["parent_id"] for e in errors] == [search["id"]]
    assert server.session(session.session_id)["session"]["end_state"] == "Success"
    assert client.dropped == {}


def test_an_unused_capture_starts_no_thread(
    make_client: Callable[..., Client], app_exporter: InMemorySpanExporter
) -> None:
    client = make_client()
    session = client.start_session()
    session.end_session("Success")
    assert client.telemetry.app_spans is not None
    assert client.telemetry.app_spans.processor._worker is None


def test_spans_the_server_refuses_are_counted_by_its_answer(
    server: TestServer, make_client: Callable[..., Client], app_exporter: InMemorySpanExporter
) -> None:
    client = make_client()
    tracer = trace.get_tracer("app")
    session = client.start_session()
    assert client.flush(5)
    assert server.storage.revoke_api_keys(server.api_key)  # the key stops working
    for i in range(5):
        with tracer.start_as_current_span(f"refused-{i}"):
            pass
    assert client.flush(5)
    assert client.dropped == {"http_401": 5}
    assert client.pending == 0
    session.end_session("Success")


def test_a_bug_of_ours_never_reaches_the_applications_tracing(
    make_client: Callable[..., Client],
    app_exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client()
    assert client.telemetry.app_spans is not None

    def broken(*args: Any) -> bool:
        raise RuntimeError("a bug")

    monkeypatch.setattr(client.telemetry.app_spans, "put_span", broken)
    monkeypatch.setattr(capture, "_failed", set())
    tracer = trace.get_tracer("app")
    session = client.start_session()
    for _ in range(3):
        with tracer.start_as_current_span("still-traced"):
            pass
    session.end_session("Success")
    assert [s.name for s in app_exporter.get_finished_spans()].count("still-traced") == 3
    logged = [r for r in caplog.records if "internal error" in r.getMessage()]
    assert len(logged) == 1  # once, with its traceback
    assert logged[0].exc_info is not None


def test_init_takes_the_spans_with_no_extra_code(server: TestServer, no_provider: None) -> None:
    """The README's example: ``agentwatch.init()``, then an instrumentor's or the
    application's tracer, which gets its provider from OpenTelemetry's global."""
    session = agentwatch.init(
        api_key=server.api_key,
        endpoint=server.url,
        transport=server.transport,
        handle_signals=False,
        flush_interval=0.05,
    )
    assert session is not None
    try:
        tracer = trace.get_tracer("trip-app")
        with agentwatch.span("plan") as plan, tracer.start_as_current_span("search"):
            pass
        agentwatch.end_session("Success")
    finally:
        agentwatch.shutdown(timeout=5)
    events = stored(server, session.session_id)
    assert events["search"]["parent_id"] == str(plan.id)
