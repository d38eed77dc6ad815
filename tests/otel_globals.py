"""OpenTelemetry's process-wide tracer provider, put back after each test.

A client installs agentwatch's span processor on the global provider (or a provider of
its own as the global one: README "The application's own spans"), and OpenTelemetry lets
a process set its global provider once. Without a reset, the first test to make a client
would decide the tracing of every test after it (and every in-process server would trace
its requests from then on).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def forget_global_provider() -> None:
    """As if no global tracer provider had ever been set (OpenTelemetry's test utilities
    do the same to these private names)."""
    from opentelemetry import trace

    from agentwatch.telemetry import capture

    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER_SET_ONCE._done = False  # type: ignore[attr-defined]
    capture._installed_on.clear()


@contextmanager
def restored_global_provider() -> Iterator[None]:
    """Run the block, then put the global provider back as it was before it."""
    import sys

    if "opentelemetry.trace" not in sys.modules:
        yield  # nothing can have been set before; reset after only if the block loaded it
        if "opentelemetry.trace" in sys.modules:
            forget_global_provider()
        return
    from opentelemetry import trace

    saved = trace._TRACER_PROVIDER  # type: ignore[attr-defined]
    done = trace._TRACER_PROVIDER_SET_ONCE._done  # type: ignore[attr-defined]
    try:
        yield
    finally:
        forget_global_provider()
        trace._TRACER_PROVIDER = saved  # type: ignore[attr-defined]
        trace._TRACER_PROVIDER_SET_ONCE._done = done  # type: ignore[attr-defined]


def set_app_provider() -> InMemorySpanExporter:
    """The application's tracing, set up as an application does before agentwatch: a
    global SDK provider, with an exporter of its own (returned)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    forget_global_provider()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter
