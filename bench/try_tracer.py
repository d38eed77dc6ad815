"""The experiment behind "an honest OpenTelemetry layer" (issue 11, item 4); not part of
``make bench``.

Two ways for ``record()`` to be honest about OpenTelemetry: drop the TracerProvider it
built and never used (what the SDK does now), or record every event through a real
tracer whose span processor is the export queue. This times, in one process each:

* ``otel``    the raw OTel unit of ``bench_otel.py`` (span + 6 attributes);
* ``direct``  ``session.record()`` as the SDK does it (encode, queue);
* ``tracer``  ``session.record()`` with a real span per event: ``start_span`` (parented
              to the session's span, the event's JSON as an attribute) + ``end``, the
              provider's processor queuing the finished span for the same export worker.

The export worker sends to an in-memory transport (no network), the same for both
``record()`` variants, which counts what arrives (2,000 warm-up events included).
Run in the agentwatch venv: ``bench/.venvs/agentwatch/bin/python bench/try_tracer.py
MODE [--n 50000]``; prints one RESULT line.
"""

from __future__ import annotations

import sys
import uuid
import zlib
from collections.abc import Sequence
from typing import Any

import httpx
import orjson
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from agentwatch import ActionEvent, Client, encoding
from agentwatch.events import Event, to_wire
from agentwatch.session.telemetry import SessionTelemetry
from agentwatch.telemetry import attributes
from agentwatch.telemetry.items import QueuedEvent
from common import PARAMS, RETURNS, arg, emit, latency_summary_us, time_calls


class NoExport(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


delivered = [0]


def answer(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v2/create_session":
        return httpx.Response(200, json={"status": "Success", "jwt": "a.b.c"})
    if request.url.path == "/v2/create_events":
        body = request.read()
        if request.headers.get("content-encoding") == "gzip":
            body = zlib.decompress(body, wbits=31)
        delivered[0] += len(orjson.loads(body)["events"])
    return httpx.Response(200, json="Success")


def raw_otel(n: int) -> list[int]:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NoExport()))
    tracer = provider.get_tracer("bench")

    def one(i: int) -> None:
        with tracer.start_as_current_span("tool_call") as span:
            span.set_attribute("event.type", "tools")
            span.set_attribute("tool.name", "web_search")
            span.set_attribute("session.id", "0b5d3b8e-6a43-4c1e-9b1f-5f0c2f6c9a11")
            span.set_attribute("event.params", '{"query": "flights to Rome"}')
            span.set_attribute("event.index", i)
            span.set_attribute("event.ok", True)

    time_calls(one, 2000)
    return time_calls(one, n)


class QueueSpans(SpanProcessor):
    """The provider's processor: each finished span's event JSON into the export queue."""

    def __init__(self, telemetry: SessionTelemetry) -> None:
        self.telemetry = telemetry

    def on_end(self, span: ReadableSpan) -> None:
        attrs = span.attributes or {}
        data = str(attrs[attributes.EVENT_DATA]).encode()
        session_id = str(attrs[attributes.SESSION_ID])
        self.telemetry.processor.put_event(QueuedEvent(session_id, data))


def through_a_tracer() -> None:
    """Replace SessionTelemetry.record_event with one that records a real span."""
    provider = TracerProvider()
    tracer = provider.get_tracer("agentwatch")
    parents: dict[str, Any] = {}

    def record_event(self: SessionTelemetry, session_id: str, event: Event) -> bool:
        if not parents:
            provider.add_span_processor(QueueSpans(self))
        context = parents.get(session_id)
        if context is None:
            flags = trace_api.TraceFlags(trace_api.TraceFlags.SAMPLED)  # else nothing is recorded
            root = trace_api.SpanContext(uuid.UUID(session_id).int, 1, False, flags)
            context = parents[session_id] = trace_api.set_span_in_context(
                trace_api.NonRecordingSpan(root)
            )
        wire = to_wire(event, session_id)
        data = encoding.dumps(wire).decode()
        span = tracer.start_span(
            event.event_type,
            context=context,
            attributes={
                attributes.SESSION_ID: session_id,
                attributes.EVENT_ID: wire["id"],
                attributes.EVENT_TYPE: event.event_type,
                attributes.EVENT_DATA: data,
            },
        )
        span.end()
        return True

    SessionTelemetry.record_event = record_event  # type: ignore[method-assign]


def record(n: int) -> tuple[list[int], dict[str, int]]:
    client = Client(
        api_key=str(uuid.uuid4()),
        endpoint="http://bench.invalid",
        transport=httpx.MockTransport(answer),
        handle_signals=False,
        log_level="ERROR",
    )
    session = client.start_session()

    def one(i: int) -> None:
        session.record(ActionEvent(action_type="web_search", params=PARAMS, returns=RETURNS))

    time_calls(one, 2000)
    durations = time_calls(one, n)
    session.end_session("Success")
    client.shutdown(5)
    return durations, client.dropped


def main() -> None:
    mode, n = sys.argv[1], int(arg("n", "50000"))
    if mode == "otel":
        emit({"mode": mode, **latency_summary_us(raw_otel(n))})
        return
    if mode == "tracer":
        through_a_tracer()
    durations, dropped = record(n)
    emit(
        {
            "mode": mode,
            **latency_summary_us(durations),
            "delivered": delivered[0],
            "dropped": dropped,
        }
    )


if __name__ == "__main__":
    main()
