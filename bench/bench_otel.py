"""Floor: one OpenTelemetry span with six attributes through a BatchSpanProcessor.

The unit is what perf.md §1 measured: ``start_as_current_span`` + 6 ``set_attribute``
(str, str, str, str, int, bool) + end, with a no-op exporter behind the default
BatchSpanProcessor (queue 2048, batch 512, 5 s). Each call is timed alone on the
caller's thread; a block-timed pass gives the per-span cost without timer overhead.

``--decorated``: the unit is instead one call of a function decorated with
``tracer.start_as_current_span`` (OTel's own decorator: a span around the call, no
attributes), for the decorated-call row beside ``@record_tool`` and agentops' ``@tool``.
Runs in the floor venv. Options: ``--n`` spans (default 100,000).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from common import PARAMS, RETURNS, arg, emit, flag, latency_summary_us, percentile, time_calls

BLOCK = 1000


class CountingExporter(SpanExporter):
    """Accepts everything; counts so that we can tell whether spans were dropped."""

    def __init__(self) -> None:
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.exported += len(spans)
        return SpanExportResult.SUCCESS


def main() -> None:
    n = int(arg("n", "100000"))
    exporter = CountingExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")

    def one_span(i: int) -> None:
        with tracer.start_as_current_span("tool_call") as span:
            span.set_attribute("event.type", "tools")
            span.set_attribute("tool.name", "web_search")
            span.set_attribute("session.id", "0b5d3b8e-6a43-4c1e-9b1f-5f0c2f6c9a11")
            span.set_attribute("event.params", '{"query": "flights to Rome"}')
            span.set_attribute("event.index", i)
            span.set_attribute("event.ok", True)

    @tracer.start_as_current_span("web_search")
    def web_search(query: str, max_results: int, strict: bool) -> str:
        return RETURNS

    if flag("decorated"):

        def one_span(i: int) -> None:
            web_search(**PARAMS)

    time_calls(one_span, 2000)  # warm-up
    singles = time_calls(one_span, n)
    blocks_us = []
    for _ in range(max(n // BLOCK // 2, 10)):
        start = time.perf_counter_ns()
        for i in range(BLOCK):
            one_span(i)
        blocks_us.append((time.perf_counter_ns() - start) / 1000 / BLOCK)
    provider.force_flush()
    sent = 2000 + n + len(blocks_us) * BLOCK
    provider.shutdown()
    emit(
        {
            **latency_summary_us(singles),
            "block_us_per_span": percentile(blocks_us, 50),
            "spans": sent,
            "exported": exporter.exported,
        }
    )


if __name__ == "__main__":
    main()
