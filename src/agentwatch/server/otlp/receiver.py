"""One OTLP export request, decoded, mapped and stored; and its answer.

Blocking (call from a worker thread). Spans and log records that cannot be taken are
counted and named in the answer's ``partial_success``; the others are stored whatever is
wrong with their neighbours.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from agentwatch.server.otlp import decode
from agentwatch.server.otlp.logs import span_logs
from agentwatch.server.otlp.mapping import MappedSpan, is_pending, map_span
from agentwatch.server.otlp.sessions import span_writes
from agentwatch.server.otlp.spans import Span

if TYPE_CHECKING:
    from agentwatch.server.otlp.stats import ReceiverStats
    from agentwatch.server.pricing import PriceTable
    from agentwatch.server.storage import Storage

__all__ = [
    "RECEIVERS",
    "ExportResult",
    "Services",
    "answer",
    "receive_logs",
    "receive_metrics",
    "receive_traces",
]


class Services(Protocol):
    """What a receiver needs of the server (a ``ServerContext`` has it): the receiver runs
    below the routes and never reaches back up to them."""

    @property
    def storage(self) -> Storage: ...

    @property
    def prices(self) -> PriceTable: ...

    @property
    def otlp_stats(self) -> ReceiverStats: ...


logger = logging.getLogger("agentwatch.server")
_SHOWN_REFUSALS = 5


@dataclass(frozen=True)
class ExportResult:
    """How much of a request was taken; ``refused`` names each item that was not."""

    signal: str  # traces, logs, metrics
    accepted: int
    refused: Sequence[str]

    def message(self) -> str:
        shown = "; ".join(self.refused[:_SHOWN_REFUSALS])
        more = len(self.refused) - _SHOWN_REFUSALS
        return shown + (f"; and {more} more" if more > 0 else "")


def receive_traces(
    ctx: Services, project_id: str, body: bytes, encoding: decode.Encoding
) -> ExportResult:
    """Store the spans of an ``ExportTraceServiceRequest``.

    Raises ``BadRequest`` for an unreadable body, ``SessionConflict`` (a 503) when a
    session it was creating was taken by another project at the same moment (retry).
    """
    now = dt.datetime.now(dt.timezone.utc)
    decoded = decode.decode_traces(body, encoding, now)
    refused = list(decoded.refused)
    mapped = []
    for span in decoded.items:
        if is_pending(span):
            continue  # Logfire: the real span follows, with the same ids
        result = _map(ctx, span)
        if isinstance(result, str):
            refused.append(result)
        else:
            mapped.append(result)
    accepted = 0
    if mapped:
        outcome = ctx.storage.insert_spans(project_id, span_writes(project_id, mapped))
        refused.extend(outcome.refused)
        accepted = outcome.accepted
        ctx.otlp_stats.add(project_id, "traces.spans_stored", outcome.inserted)
    _count(ctx, project_id, "traces", accepted, refused)
    return ExportResult("traces", accepted, refused)


def _map(ctx: Services, span: Span) -> MappedSpan | str:
    try:
        return map_span(span, ctx.prices)
    except Exception:  # a mapping bug must not cost the request's other spans
        logger.exception("could not map span %s", span.where)
        return f"{span.where}: could not be mapped (logged on the server)"


def receive_logs(
    ctx: Services, project_id: str, body: bytes, encoding: decode.Encoding
) -> ExportResult:
    """Keep the log records of an ``ExportLogsServiceRequest`` that name a span."""
    decoded = decode.decode_logs(body, encoding)
    kept, refused = span_logs(decoded.items)
    if kept:
        ctx.otlp_stats.add(
            project_id, "logs.records_stored", ctx.storage.insert_span_logs(project_id, kept)
        )
    refused = [*decoded.refused, *refused]
    _count(ctx, project_id, "logs", len(kept), refused)
    return ExportResult("logs", len(kept), refused)


def receive_metrics(
    ctx: Services, project_id: str, body: bytes, encoding: decode.Encoding
) -> ExportResult:
    """Count the data points of an ``ExportMetricsServiceRequest`` (nothing is stored)."""
    points = decode.metric_points(body, encoding)
    ctx.otlp_stats.add(project_id, "metrics.data_points", points)
    _count(ctx, project_id, "metrics", points, [])
    return ExportResult("metrics", points, [])


def _count(
    ctx: Services, project_id: str, signal: str, accepted: int, refused: Sequence[str]
) -> None:
    stats = ctx.otlp_stats
    stats.add(project_id, f"{signal}.requests")
    stats.add(project_id, f"{signal}.accepted", accepted)
    stats.add(project_id, f"{signal}.refused", len(refused))


_RESPONSES: dict[str, tuple[Any, str, str]] = {
    "traces": (ExportTraceServiceResponse, "rejected_spans", "rejectedSpans"),
    "logs": (ExportLogsServiceResponse, "rejected_log_records", "rejectedLogRecords"),
    "metrics": (ExportMetricsServiceResponse, "rejected_data_points", "rejectedDataPoints"),
}


def answer(result: ExportResult, encoding: decode.Encoding) -> tuple[bytes, str]:
    """(body, Content-Type) of the ``Export*ServiceResponse`` for ``result``, in the
    request's encoding; ``partial_success`` only when something was refused."""
    message_type, field, json_field = _RESPONSES[result.signal]
    rejected = len(result.refused)
    if encoding == "json":
        if not rejected:
            return b"{}", "application/json"
        partial = {json_field: str(rejected), "errorMessage": result.message()}
        return json.dumps({"partialSuccess": partial}).encode(), "application/json"
    response = message_type()
    if rejected:
        setattr(response.partial_success, field, rejected)
        response.partial_success.error_message = result.message()
    return response.SerializeToString(), "application/x-protobuf"


Receive = Callable[[Services, str, bytes, decode.Encoding], ExportResult]
RECEIVERS: dict[str, Receive] = {
    "traces": receive_traces,
    "logs": receive_logs,
    "metrics": receive_metrics,
}
