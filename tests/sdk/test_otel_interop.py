"""Event spans are genuine OpenTelemetry spans for the processors a user adds.

``Client(span_processors=...)`` hands every event, built into an SDK ``ReadableSpan``
through its public constructor, to other OpenTelemetry processors too: an in-memory
exporter sees what a tracer's span would show (the session tree as span parents), and
the OTLP/HTTP exporter sends them to a collector (a local one here) that decodes them.

Marked ``otel``: ``make otel-versions`` runs these against the oldest supported
OpenTelemetry SDK (1.27) and the latest, each in its own virtual environment.
"""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agentwatch import ActionEvent, Client, LLMEvent
from agentwatch.server.testing import TestServer
from agentwatch.telemetry import attributes

pytestmark = pytest.mark.otel

LOW_64 = 2**64 - 1


def test_extra_processors_see_each_event_as_a_span_of_the_session_trace(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    memory = InMemorySpanExporter()
    client = make_client(span_processors=[SimpleSpanProcessor(memory)])
    session = client.start_session()
    agent = session.create_agent("planner")
    action = ActionEvent(action_type="plan", params={"goal": "trip"}, agent_id=agent)
    llm = LLMEvent(model="gpt-4o-mini", prompt="hi", completion="hello")
    session.record(action)
    session.record(llm)
    session.end_session("Success")
    client.shutdown()

    spans = memory.get_finished_spans()
    assert [s.name for s in spans] == ["actions", "llms"]
    first, second = spans
    assert type(first) is ReadableSpan  # the SDK's own class, not a subclass of ours
    trace_id = uuid.UUID(session.session_id).int
    assert first.context.trace_id == trace_id
    assert second.context.trace_id == trace_id
    assert first.context.span_id == action.id.int & (2**64 - 1)
    assert first.context.trace_flags.sampled
    assert not first.context.is_remote
    assert first.context is first.get_span_context()  # stable once computed
    assert first.parent is None
    attrs = dict(first.attributes or {})
    assert attrs[attributes.SESSION_ID] == session.session_id
    assert attrs[attributes.EVENT_ID] == str(action.id)
    assert attrs[attributes.EVENT_TYPE] == "actions"
    assert attrs[attributes.AGENT_ID] == agent
    data = json.loads(attrs[attributes.EVENT_DATA])
    assert data["id"] == str(action.id)
    assert data["params"] == {"goal": "trip"}
    assert attributes.AGENT_ID not in dict(second.attributes or {})
    assert first.start_time is not None
    assert first.end_time is not None
    assert 0 <= first.end_time - first.start_time < 60 * 10**9
    assert first.resource.attributes["service.name"] == "agentwatch"
    assert first.instrumentation_scope is not None
    assert first.instrumentation_scope.name == "agentwatch"
    assert json.loads(first.to_json())["context"]["trace_id"] == f"0x{trace_id:032x}"
    # The same events reached the agentwatch server, unchanged.
    stored = server.session(session.session_id)
    assert sorted(e["id"] for e in stored["events"]) == sorted([str(action.id), str(llm.id)])


class _Collector(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[ExportTraceServiceRequest]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.requests.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def otlp_collector() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    received: list[ExportTraceServiceRequest] = []
    handler = type("Handler", (_Collector,), {"requests": received})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/traces", received
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_event_spans_go_to_an_otlp_collector_through_the_standard_exporter(
    make_client: Callable[..., Client],
    otlp_collector: tuple[str, list[ExportTraceServiceRequest]],
) -> None:
    url, received = otlp_collector
    client = make_client(span_processors=[BatchSpanProcessor(OTLPSpanExporter(endpoint=url))])
    session = client.start_session()
    events = [ActionEvent(action_type=f"step-{n}") for n in range(5)]
    with session.span("steps") as block:
        for event in events:
            session.record(event)
    session.end_session("Success")
    client.shutdown()  # shuts the extra processors down too, which flushes them

    spans = [
        span
        for request in received
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    assert len(spans) == 6
    *spans, parent = spans  # the block ends, and is recorded, after its children
    block_span_id = (block.id.int & LOW_64).to_bytes(8, "big")
    assert parent.span_id == block_span_id
    assert parent.parent_span_id == b""  # a child of the session
    assert {span.parent_span_id for span in spans} == {block_span_id}
    assert {span.trace_id for span in spans} == {uuid.UUID(session.session_id).bytes}
    assert [span.span_id for span in spans] == [
        (e.id.int & LOW_64).to_bytes(8, "big") for e in events
    ]
    names = [
        {kv.key: kv.value.string_value for kv in span.attributes}[attributes.EVENT_ID]
        for span in spans
    ]
    assert names == [str(e.id) for e in events]
    assert all(span.end_time_unix_nano >= span.start_time_unix_nano > 0 for span in spans)


def test_the_session_tree_is_the_span_tree(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    memory = InMemorySpanExporter()
    client = make_client(span_processors=[SimpleSpanProcessor(memory)])
    session = client.start_session()
    with session.span("retrieve", kind="retrieval") as block:
        inner = LLMEvent(model="gpt-4o-mini")
        session.record(inner)
    session.end_session("Success")
    client.shutdown()

    llm, outer = memory.get_finished_spans()  # a span is recorded when it ends
    trace_id = uuid.UUID(session.session_id).int
    assert outer.parent is None
    assert llm.parent is not None
    assert (llm.parent.trace_id, llm.parent.span_id) == (trace_id, block.id.int & LOW_64)
    assert llm.parent == outer.context
    assert dict(llm.attributes or {})[attributes.PARENT_ID] == str(block.id)
    assert dict(outer.attributes or {})[attributes.EVENT_KIND] == "retrieval"
    assert attributes.EVENT_KIND not in dict(llm.attributes or {})
    assert json.loads(llm.to_json())["parent_id"] == f"0x{block.id.int & LOW_64:016x}"
    stored = {e["id"]: e for e in server.session(session.session_id)["events"]}
    assert stored[str(inner.id)]["parent_id"] == str(block.id)


def test_a_span_that_raised_has_the_error_status(make_client: Callable[..., Client]) -> None:
    memory = InMemorySpanExporter()
    client = make_client(span_processors=[SimpleSpanProcessor(memory)])
    session = client.start_session()
    with pytest.raises(RuntimeError), session.span("boom"):
        raise RuntimeError("boom")
    session.end_session("Success")
    client.shutdown()
    span, error = memory.get_finished_spans()
    assert (span.name, error.name) == ("actions", "errors")
    assert span.status.status_code is StatusCode.ERROR
    assert error.parent == span.context
    assert error.status.status_code is StatusCode.ERROR


def test_span_processors_need_no_tracer_provider(make_client: Callable[..., Client]) -> None:
    # (A provider is installed only to capture the application's spans: test_app_spans.py.)
    before = trace.get_tracer_provider()
    client = make_client(
        span_processors=[SimpleSpanProcessor(InMemorySpanExporter())], capture_otel_spans=False
    )
    session = client.start_session()
    session.record(ActionEvent(action_type="a"))
    session.end_session("Success")
    assert trace.get_tracer_provider() is before
    assert not hasattr(client.telemetry, "provider")
