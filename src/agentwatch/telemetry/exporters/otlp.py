"""``GenAISpanExporter``: the sessions, again, as OpenTelemetry GenAI spans to a collector.

The worker of the OTLP tee (a second :class:`~agentwatch.telemetry.processor.ExportProcessor`
fed the same queued events and session operations as the agentwatch delivery) hands it
batches; it maps them (:mod:`agentwatch.telemetry.genai`) into genuine ``ReadableSpan``
objects and sends them with OpenTelemetry's own OTLP/HTTP protobuf exporter
(``opentelemetry-exporter-otlp-proto-http``, the ``agentwatch[otlp]`` extra). Runs on that
worker only, so its state needs no lock.

The tree: one trace per session (trace id = the session id); the session is the root span
(``invoke_workflow {service name}``, from its start to its end, status from its end state,
sent when it ends); an event's span id is the low 64 bits of its id, its parent the span
of its parent event, else the session's root.

Every event of a batch is reported to the batch's account: delivered when the collector
took the request, else dropped (``export_failed``, counted by the caller as
``otlp_export_failed``) with the endpoint and the error in the warning.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from agentwatch.telemetry.genai import (
    CONVERSATION_ID,
    SESSION_ID,
    GenAISpan,
    error_info,
    event_span,
    otel_value,
)
from agentwatch.telemetry.items import (
    CreateAgent,
    CreateSession,
    ExportItem,
    QueuedEvent,
    UpdateSession,
)
from agentwatch.telemetry.span import nanos, span_id_of, trace_id_of

if TYPE_CHECKING:
    from agentwatch.config import Config
    from agentwatch.telemetry.drops import BatchAccount

__all__ = ["INSTALL_HINT", "GenAISpanExporter", "root_span_id"]

logger = logging.getLogger("agentwatch")

INSTALL_HINT = "pip install 'agentwatch[otlp]' (it adds opentelemetry-exporter-otlp-proto-http)"
_DEFAULT_SERVICE = "agentwatch"
_ROOT_NAMESPACE = uuid.UUID("5d0f3a8e-2c4b-4e61-9a7f-3b8c1d2e4f60")
_END_STATUS = {"Success": "ok", "Fail": "error"}
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def root_span_id(session_id: str) -> int:
    """The span id of a session's root span (derived: no event has it)."""
    return span_id_of(uuid.uuid5(_ROOT_NAMESPACE, session_id))


class GenAISpanExporter:
    """Maps batches to GenAI spans and sends them to ``config.otlp_endpoint``.

    Raises ``ImportError`` (whose message says what to install) when the OTLP exporter
    package is missing.
    """

    def __init__(self, config: Config, sdk_version: str) -> None:
        try:
            from opentelemetry.exporter.otlp.proto.http import Compression
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise ImportError(
                f"the OTLP exporter is not installed ({exc}): {INSTALL_HINT}"
            ) from exc
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        assert config.otlp_endpoint is not None
        self.url = config.otlp_endpoint
        self._otlp = OTLPSpanExporter(
            endpoint=self.url,
            headers=dict(config.otlp_headers),
            timeout=config.request_timeout,
            compression=Compression.Gzip
            if config.compression == "gzip"
            else Compression.NoCompression,
        )
        self._resource = _resource(config.otlp_service_name)
        self.service_name = str(self._resource.attributes["service.name"])
        self._scope = InstrumentationScope("agentwatch", sdk_version)
        self._capture = config.capture_content
        self._sessions: dict[str, Mapping[str, Any]] = {}  # session id -> create_session body
        self._agents: dict[str, str] = {}  # agent id -> name
        self._problem: str | None = None

    # -- ItemExporter ------------------------------------------------------------------------

    def export(self, batch: Sequence[ExportItem], account: BatchAccount) -> None:
        """Send ``batch``'s spans in one request. Blocks on the network; raises nothing."""
        spans, events = self._spans(batch)
        if not spans:
            account.delivered(events)
            return
        error = self._send([self._readable(session_id, span) for session_id, span in spans])
        if error is None:
            self._problem = None
            account.delivered(events)
            return
        self._problem = f"the OTLP endpoint {self.url} did not take the spans: {error}"
        account.dropped("export_failed", events, self._problem)

    def overlaps(self, batch: Sequence[ExportItem]) -> bool:
        return False  # every export reads and adds to the sessions and agents it knows

    def problem(self) -> str | None:
        return self._problem

    def shutdown(self) -> None:
        """Interrupts a retry backoff in progress (OpenTelemetry >= 1.33); later exports fail."""
        self._otlp.shutdown()  # type: ignore[no-untyped-call]

    # -- mapping -----------------------------------------------------------------------------

    def _spans(self, batch: Sequence[ExportItem]) -> tuple[list[tuple[str, GenAISpan]], int]:
        """(session id, span) of every span in ``batch``, and how many events it holds."""
        spans: list[tuple[str, GenAISpan]] = []
        by_event: dict[str, GenAISpan] = {}
        events = 0
        for item in batch:
            if isinstance(item, QueuedEvent):
                events += 1
                wire = orjson.loads(item.data)
                trigger = by_event.get(str(wire.get("trigger_event_id")))
                if trigger is not None and wire.get("event_type") == "errors":
                    trigger.add_error(error_info(wire))  # the span it was raised in
                    continue
                span = event_span(wire, self._agents, capture_content=self._capture)
                by_event[span.event_id] = span
                spans.append((item.session_id, span))
            elif isinstance(item, CreateSession):
                self._sessions[item.session_id] = item.body
            elif isinstance(item, CreateAgent):
                self._agents[item.agent_id] = item.name
            elif isinstance(item, UpdateSession) and item.final:
                spans.append((item.session_id, self._root(item.session_id, item.body)))
        return spans, events

    def _root(self, session_id: str, end: Mapping[str, Any]) -> GenAISpan:
        start = self._sessions.pop(session_id, end)
        attributes: dict[str, Any] = {
            SESSION_ID: session_id,
            CONVERSATION_ID: session_id,
            "gen_ai.operation.name": "invoke_workflow",
            "gen_ai.workflow.name": self.service_name,
            "agentwatch.session.end_state": str(end.get("end_state")),
        }
        tags = end.get("tags")
        if tags:
            attributes["tag.tags"] = [str(t) for t in tags]  # OpenInference's name, read widely
        reason = end.get("end_state_reason")
        if reason is not None:
            attributes["agentwatch.session.end_state_reason"] = str(reason)
        return GenAISpan(
            event_id="",
            parent_id=None,
            name=f"invoke_workflow {self.service_name}",
            client=False,
            attributes=attributes,
            start=start.get("init_timestamp"),
            end=end.get("end_timestamp"),
            status=_END_STATUS.get(str(end.get("end_state"))),
        )

    def _readable(self, session_id: str, span: GenAISpan) -> ReadableSpan:
        trace_id = trace_id_of(session_id)
        flags = _SAMPLED
        is_root = not span.event_id
        own_id = root_span_id(session_id) if is_root else span_id_of(span.event_id)
        parent_id = span_id_of(span.parent_id) if span.parent_id else root_span_id(session_id)
        if span.status == "error":
            described = (
                span.errors[0].message
                if span.errors
                else span.attributes.get("agentwatch.session.end_state_reason")
            )
            status = Status(StatusCode.ERROR, None if described is None else str(described)[:1000])
        else:
            status = Status(StatusCode.OK if span.status == "ok" else StatusCode.UNSET)
        return ReadableSpan(
            name=span.name,
            context=SpanContext(trace_id, own_id, is_remote=False, trace_flags=flags),
            parent=None
            if is_root
            else SpanContext(trace_id, parent_id, is_remote=False, trace_flags=flags),
            resource=self._resource,
            attributes={k: otel_value(v) for k, v in span.attributes.items() if v is not None},
            events=[
                Event("exception", info.event_attributes(), nanos(info.time))
                for info in span.errors
            ],
            kind=SpanKind.CLIENT if span.client else SpanKind.INTERNAL,
            status=status,
            start_time=nanos(span.start),
            end_time=nanos(span.end) or nanos(span.start),
            instrumentation_scope=self._scope,
        )

    def _send(self, spans: list[ReadableSpan]) -> str | None:
        """None when the collector took ``spans``; else what went wrong."""
        try:
            result = self._otlp.export(spans)
        except Exception as exc:  # OpenTelemetry < 1.33 lets a connection error out
            return f"{type(exc).__name__}: {exc}"
        if result is SpanExportResult.SUCCESS:
            return None
        return "the request failed (OpenTelemetry's exporter logged the reason)"


def _resource(service_name: str | None) -> Any:
    """The spans' resource: OpenTelemetry's defaults and ``OTEL_RESOURCE_ATTRIBUTES``, with
    ``service.name`` the setting, else ``OTEL_SERVICE_NAME``, else agentwatch."""
    from opentelemetry.sdk.resources import Resource

    resource = Resource.create({})
    named = str(resource.attributes.get("service.name", ""))
    if service_name is None and named and not named.startswith("unknown_service"):
        return resource
    return resource.merge(Resource({"service.name": service_name or _DEFAULT_SERVICE}))
