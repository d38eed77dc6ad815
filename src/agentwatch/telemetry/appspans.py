"""``AppSpans``: one client's pipeline for the application's captured OpenTelemetry spans.

The :class:`~agentwatch.telemetry.capture.SpanSink` a client's sessions give the
capturing processor: a bounded queue with its own export worker (the same
:class:`ExportProcessor` the events use, so the same guarantees: ``put`` is an append,
nothing blocks the application's thread, every span is delivered, dropped and counted in
the client's drop counter, or pending), and an :class:`AppSpanExporter` to ``/v1/traces``.
A separate worker from the events': a span batch waiting on the server never holds up
session operations, and a client whose application has no OpenTelemetry never starts it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentwatch.telemetry.exporters.appspans import AppSpanExporter, Poster
from agentwatch.telemetry.items import QueuedSpan
from agentwatch.telemetry.processor import ExportProcessor

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from agentwatch.config import Config
    from agentwatch.telemetry.drops import DropCounter

__all__ = ["AppSpans"]

# Spans are bigger than events (a framework's attributes): a smaller request each.
_BATCH = 512


class AppSpans:
    """Queues captured spans; its worker sends them (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        poster: Poster,
        drops: DropCounter,
        *,
        content_type: str | None = None,
    ) -> None:
        assert config.api_key is not None  # a Client refuses to start without one
        self.exporter = AppSpanExporter(
            poster,
            api_key=config.api_key,
            retry_deadline=config.retry_deadline,
            gzip_bodies=config.compression == "gzip",
            content_type=content_type,
        )
        self.processor = ExportProcessor(
            self.exporter,
            max_queue_size=config.max_queue_size,
            max_batch_size=min(_BATCH, config.max_export_batch_size),
            interval=config.flush_interval,
            drops=drops,
            unit="captured span(s)",
        )
        self.closed = False  # set by the client's shutdown: later spans are counted, not sent
        self.used = False  # until a span comes, flushes need no worker thread

    def put_span(self, span: ReadableSpan, session_id: str, parent_event: str | None) -> bool:
        """Queue ``span``; False if it was dropped (queue full, or after shutdown)."""
        if self.closed:  # a span captured before the shutdown, ended after it
            self.processor.drops.add("after_shutdown", session_id=session_id)
            return False
        self.used = True
        return self.processor.put_event(QueuedSpan(session_id, span, parent_event))

    def pending(self) -> int:
        return self.processor.pending() if self.used else 0
