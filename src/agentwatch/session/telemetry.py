"""``SessionTelemetry``: the export pipeline of a client's sessions.

One instance per :class:`~agentwatch.Client`, shared by all its sessions: one
:class:`ExportProcessor` (one worker thread) and one :class:`SessionExporter` sending
through the client's transport. A thousand concurrent sessions cost a thousand small
state objects, not a thousand threads.

Recording an event costs one JSON encoding, one small object and one deque append on
the caller's thread; no tracer, no context attach. Where OpenTelemetry span processors
are attached, the event is also built into a genuine ``ReadableSpan`` for them
(:mod:`agentwatch.telemetry.span`).

With ``otlp_endpoint`` set, a second processor (the OTLP tee: its own bounded queue and
worker) gets the same queued events and session operations, and a
:class:`GenAISpanExporter` sends them as GenAI spans to that collector. Recording then
costs one more deque append; the mapping and the sending happen on the tee's worker, and
its losses are counted in the same :class:`DropCounter` as ``otlp_<reason>``.

Given a poster for them, the application's own OpenTelemetry spans captured in its
sessions (:mod:`agentwatch.telemetry.capture`) have a third, :class:`AppSpans`, started
with the first span: flushed, counted and shut down with the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from agentwatch import encoding
from agentwatch.config import Config
from agentwatch.events import Event, to_wire
from agentwatch.host_env import host_env, sdk_version
from agentwatch.telemetry.drops import DropCounter, PrefixedDrops
from agentwatch.telemetry.exporters.session import SessionExporter
from agentwatch.telemetry.items import (
    CreateAgent,
    CreateSession,
    QueuedEvent,
    SessionOp,
    UpdateSession,
)
from agentwatch.telemetry.processor import ExportProcessor, stop_all

if TYPE_CHECKING:
    from decimal import Decimal

    from opentelemetry.sdk.trace import SpanProcessor

    from agentwatch.telemetry.appspans import AppSpans
    from agentwatch.telemetry.exporters.appspans import Poster
    from agentwatch.telemetry.span import EventSpans
    from agentwatch.telemetry.transport import SessionTransport

__all__ = ["SessionTelemetry"]

logger = logging.getLogger("agentwatch")

# The OTLP exporter encodes a whole batch into one protobuf request: OpenTelemetry's own
# batch size keeps requests (with message content) well under collectors' body limits.
_OTLP_BATCH = 512


class SessionTelemetry:
    """Queues events and session operations; the worker delivers them through ``transport``.

    ``span_processors`` are OpenTelemetry processors (an OTLP exporter's, say) that also
    receive every event, as a finished span, when it is recorded. Given ``span_poster``,
    :attr:`app_spans` is the pipeline of the application's captured OpenTelemetry spans
    (sent through it).
    """

    def __init__(
        self,
        config: Config,
        transport: SessionTransport,
        *,
        span_processors: Sequence[SpanProcessor] = (),
        span_poster: Poster | None = None,
    ) -> None:
        self.drops = DropCounter()
        self.app_spans: AppSpans | None = None
        if span_poster is not None:
            from agentwatch.telemetry.appspans import AppSpans

            self.app_spans = AppSpans(config, span_poster, self.drops)
        self.exporter = SessionExporter(
            transport, self.drops, host_env=lambda: host_env(config.env_data_opt_out)
        )
        self.processor = ExportProcessor(
            self.exporter,
            max_queue_size=config.max_queue_size,
            max_batch_size=config.max_export_batch_size,
            interval=config.flush_interval,
            drops=self.drops,
        )
        self.spans: EventSpans | None = None
        if span_processors:
            from agentwatch.telemetry.span import EventSpans

            self.spans = EventSpans(span_processors, sdk_version())
        self.tee: ExportProcessor | None = None
        if config.otlp_endpoint is not None:
            self.tee = _otlp_tee(config, self.drops)

    # -- the hot path ------------------------------------------------------------------

    def record_event(self, session_id: str, event: Event) -> bool:
        """Queue ``event`` for export; False if it was dropped (and counted). No I/O."""
        wire = to_wire(event, session_id)
        # orjson returns its output in a 4 KB buffer whatever the length; an event may wait
        # in the queue a long time, so keep a right-sized copy (4.5 KB -> 0.7 KB per event).
        data = memoryview(encoding.dumps(wire)).tobytes()
        item = QueuedEvent(session_id, data)
        queued = self.processor.put_event(item)
        tee = self.tee
        if tee is not None:
            tee.put_event(item)
        if self.spans is not None:
            self.spans.on_end(wire, data)
        return queued

    # -- session operations (queued in order with the events) ----------------------------

    def create_session(self, session_id: str, body: dict[str, Any]) -> Future[str | None]:
        """Queue the session's creation; the future gets the URL the server answers."""
        op = CreateSession(session_id, body)
        self.processor.put_op(op)
        self._tee_op(op)
        return op.result

    def create_agent(self, session_id: str, agent_id: str, name: str) -> None:
        op = CreateAgent(session_id, agent_id, name)
        self.processor.put_op(op)
        self._tee_op(op)

    def update_session(
        self, session_id: str, body: dict[str, Any], *, final: bool = False, urgent: bool = False
    ) -> Future[Decimal | None]:
        """Queue an update; ``urgent`` when the caller waits for its answer (the cost)."""
        op = UpdateSession(session_id, body, final=final)
        self.processor.put_op(op, urgent=urgent)
        self._tee_op(op)
        return op.result

    def _tee_op(self, op: SessionOp) -> None:
        # The same object: the tee reads its body and never touches its future (nobody
        # waits on the tee), bar failing it at shutdown if the main worker had not.
        if self.tee is not None:
            self.tee.put_op(op)

    # -- delivery ------------------------------------------------------------------------

    def pending(self) -> int:
        """Events (and captured spans) recorded but neither delivered nor dropped yet."""
        spans = 0 if self.app_spans is None else self.app_spans.pending()
        return self.processor.pending() + spans

    def delivery_problem(self) -> str | None:
        """Why events are not getting through right now (endpoint and error), or None."""
        problem = self.exporter.problem()
        if problem is None and self.tee is not None:
            return self.tee.problem()
        return problem

    def flush(self, timeout: float) -> bool:
        """Block until everything queued so far is delivered (or given up), to agentwatch
        and to the OTLP endpoint if set, both at once; False on timeout."""
        deadline = time.monotonic() + timeout
        flushes = [p.start_flush() for p in self._processors()]
        return all(done.wait(max(0.0, deadline - time.monotonic())) for done in flushes)

    def shutdown(self, timeout: float) -> None:
        """Flush within ``timeout``, then stop (within a small fixed grace however many
        workers there are); what could not be sent is counted as dropped, in one warning."""
        self.flush(timeout)  # the deliveries share the budget
        if self.app_spans is not None:
            self.app_spans.closed = True  # spans ending from now on are counted, not queued
        stop_all(self._processors())
        if self.spans is not None:
            self.spans.shutdown()

    def _processors(self) -> list[ExportProcessor]:
        processors = [self.processor] if self.tee is None else [self.processor, self.tee]
        if self.app_spans is not None and self.app_spans.used:
            processors.append(self.app_spans.processor)
        return processors


def _otlp_tee(config: Config, drops: DropCounter) -> ExportProcessor | None:
    """The processor of the OTLP tee, or None (said once) when its exporter is missing."""
    from agentwatch.telemetry.exporters.otlp import GenAISpanExporter

    try:
        exporter = GenAISpanExporter(config, sdk_version())
    except ImportError as exc:
        logger.warning(
            "otlp_endpoint is set (%s) but %s; sessions go to agentwatch only",
            config.otlp_endpoint,
            exc,
        )
        return None
    return ExportProcessor(
        exporter,
        max_queue_size=config.max_queue_size,
        max_batch_size=min(config.max_export_batch_size, _OTLP_BATCH),
        interval=config.flush_interval,
        drops=PrefixedDrops(drops, "otlp_"),
    )
