"""``SessionTelemetry``: the OpenTelemetry side of a client's sessions.

One instance per :class:`~agentwatch.Client`, shared by all its sessions: one
``TracerProvider``, one :class:`ExportProcessor` (one worker thread) and one
:class:`SessionExporter`. A thousand concurrent sessions cost a thousand small state
objects, not a thousand threads.

Each recorded event becomes one finished span whose trace id is the session id. The
span is an :class:`~agentwatch.telemetry.span.EventSpan` built directly (no tracer, no
context attach/detach, no sampler call): recording costs one JSON encoding, one small
object and one deque append on the caller's thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from agentwatch import encoding
from agentwatch.config import Config
from agentwatch.events import Event, to_wire
from agentwatch.host_env import host_env, sdk_version
from agentwatch.session.api import SessionApiClient
from agentwatch.session.registry import registry
from agentwatch.telemetry.drops import DropCounter
from agentwatch.telemetry.exporters.session import SessionExporter
from agentwatch.telemetry.ops import CreateAgent, CreateSession, UpdateSession
from agentwatch.telemetry.processor import ExportProcessor
from agentwatch.telemetry.span import EventSpan

if TYPE_CHECKING:
    from decimal import Decimal

__all__ = ["SessionTelemetry"]


class SessionTelemetry:
    """Records events as spans and runs the export pipeline.

    ``span_processors`` are extra OpenTelemetry processors (an OTLP exporter's, say)
    that also receive every event span.
    """

    def __init__(
        self,
        config: Config,
        api: SessionApiClient,
        *,
        span_processors: Sequence[SpanProcessor] = (),
    ) -> None:
        self.drops = DropCounter()
        self.exporter = SessionExporter(
            api,
            self.drops,
            host_env=lambda: host_env(config.env_data_opt_out),
            on_session_url=_remember_session_url,
        )
        self.processor = ExportProcessor(
            self.exporter,
            max_queue_size=config.max_queue_size,
            max_batch_size=config.max_export_batch_size,
            interval=config.flush_interval,
            drops=self.drops,
        )
        self.resource = Resource.create({"service.name": "agentwatch"})
        self.scope = InstrumentationScope("agentwatch", sdk_version())
        self.provider = TracerProvider(resource=self.resource, shutdown_on_exit=False)
        self.provider.add_span_processor(self.processor)
        self._extra = tuple(span_processors)
        for extra in self._extra:
            self.provider.add_span_processor(extra)

    # -- the hot path ------------------------------------------------------------------

    def record_event(self, session_id: str, event: Event) -> bool:
        """Queue ``event`` for export; False if it was dropped (and counted). No I/O."""
        # orjson returns its output in a 4 KB buffer whatever the length; an event may wait
        # in the queue a long time, so keep a right-sized copy (4.5 KB -> 0.7 KB per event).
        data = memoryview(encoding.dumps(to_wire(event, session_id))).tobytes()
        span = EventSpan(
            session_id, data, event_type=event.event_type, resource=self.resource, scope=self.scope
        )
        queued = self.processor.put_event(span)
        for extra in self._extra:
            extra.on_end(span)
        return queued

    # -- session operations (queued in order with the events) ----------------------------

    def create_session(self, session_id: str, body: dict[str, Any]) -> None:
        self.processor.put_op(CreateSession(session_id, body))

    def create_agent(self, session_id: str, agent_id: str, name: str) -> None:
        self.processor.put_op(CreateAgent(session_id, agent_id, name))

    def update_session(
        self, session_id: str, body: dict[str, Any], *, final: bool = False, urgent: bool = False
    ) -> Future[Decimal | None]:
        """Queue an update; ``urgent`` when the caller waits for its answer (the cost)."""
        op = UpdateSession(session_id, body, final=final)
        self.processor.put_op(op, urgent=urgent)
        return op.result

    # -- flushing ------------------------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        """Block until everything queued so far is delivered (or given up); False on timeout."""
        return self.processor.force_flush(int(timeout * 1000))

    def shutdown(self, timeout: float) -> None:
        """Flush within ``timeout``, then stop; what could not be sent is counted as dropped."""
        self.processor.shutdown(int(timeout * 1000))
        for extra in self._extra:
            extra.shutdown()


def _remember_session_url(session_id: str, url: str) -> None:
    """Keep the dashboard URL the server answered on the (still running) session."""
    session = registry.get(session_id)
    if session is not None:
        session.manager.server_url = url
