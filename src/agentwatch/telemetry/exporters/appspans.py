"""``AppSpanExporter``: the application's captured spans to the server's ``/v1/traces``.

The export worker (:class:`~agentwatch.telemetry.processor.ExportProcessor`) hands it
batches of :class:`~agentwatch.telemetry.items.QueuedSpan`; each batch is one OTLP/HTTP
request (:mod:`.otlpspans`: protobuf where OpenTelemetry's encoder is installed, else
OTLP JSON), authenticated with the project API key, sent through the client's retrying
poster (429/5xx/network errors retried until the retry deadline). Each span goes with
``session.id`` (the session it ran in) and, where the SDK placed it, the
``agentwatch.parent_event_id`` it nests under. Every span of a batch is reported to the
batch's account: delivered, rejected by the server (``otlp_rejected``, from its
``partial_success``), or dropped with the reason the request failed.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from agentwatch.exceptions import ApiError
from agentwatch.telemetry.capture import PARENT_EVENT_ID, SESSION_ID
from agentwatch.telemetry.exporters import otlpspans
from agentwatch.telemetry.items import ExportItem, QueuedSpan

if TYPE_CHECKING:
    import httpx

    from agentwatch.telemetry.drops import BatchAccount

__all__ = ["AppSpanExporter", "Poster"]

PATH = "/v1/traces"
# A 413 splits the request in two, down to one span, within this many requests per batch.
_REQUEST_BUDGET = 16
_GZIP_ABOVE = 1024


class Poster(Protocol):
    """What sends the requests (:class:`agentwatch.session.poster.RetryingPoster`)."""

    def post(
        self, path: str, body: bytes, headers: dict[str, str], deadline: float
    ) -> httpx.Response: ...

    def problem(self) -> str | None: ...

    def close(self) -> None: ...


class AppSpanExporter:
    """Sends captured spans; one request per batch (more only when the server says 413)."""

    def __init__(
        self,
        poster: Poster,
        *,
        api_key: str,
        retry_deadline: float,
        gzip_bodies: bool,
        content_type: str | None = None,
    ) -> None:
        self._poster = poster
        self._api_key = api_key
        self._retry_deadline = retry_deadline
        self._gzip = gzip_bodies
        if content_type is None:
            available = otlpspans.protobuf_available()
            content_type = otlpspans.PROTOBUF if available else otlpspans.JSON
        self.content_type = content_type

    def export(self, batch: Sequence[ExportItem], account: BatchAccount) -> None:
        spans = [item for item in batch if isinstance(item, QueuedSpan)]
        budget = [_REQUEST_BUDGET]
        deadline = time.monotonic() + self._retry_deadline
        self._send(spans, account, deadline, budget)

    def overlaps(self, batch: Sequence[ExportItem]) -> bool:
        return False  # one request at a time: a fleet's spans are not what an agent waits on

    def problem(self) -> str | None:
        return self._poster.problem()

    def shutdown(self) -> None:
        self._poster.close()

    # -- one request -----------------------------------------------------------------------

    def _send(
        self, spans: list[QueuedSpan], account: BatchAccount, deadline: float, budget: list[int]
    ) -> None:
        if not spans:
            return
        budget[0] -= 1
        try:
            response = self._poster.post(PATH, *self._request(spans), deadline=deadline)
        except ApiError as exc:
            _dropped(account, spans, exc.reason or "request_failed", str(exc))
            return
        status = response.status_code
        if status == 413 and len(spans) > 1 and budget[0] >= 2:
            half = len(spans) // 2
            self._send(spans[:half], account, deadline, budget)
            self._send(spans[half:], account, deadline, budget)
            return
        if status == 413:
            _dropped(account, spans, "too_large", "the server refused the spans as too large")
            return
        if not 200 <= status < 300:
            detail = f"POST {PATH} answered {status}: {response.text[:300]}"
            _dropped(account, spans, f"http_{status}", detail)
            return
        answered = response.headers.get("content-type", "").split(";")[0].strip()
        rejected, message = otlpspans.rejected_spans(response.content, answered)
        rejected = min(max(rejected, 0), len(spans))
        if rejected:
            # partial_success does not say which: the count is exact, the sessions are not.
            account.dropped("otlp_rejected", rejected, message)
        account.delivered(len(spans) - rejected)

    def _request(self, spans: list[QueuedSpan]) -> tuple[bytes, dict[str, str]]:
        body = otlpspans.encode([(s.span, _extra(s)) for s in spans], self.content_type)
        headers = {
            "Content-Type": self.content_type,
            "Accept": self.content_type,
            "X-Agentops-Api-Key": self._api_key,
        }
        if self._gzip and len(body) > _GZIP_ABOVE:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        return body, headers


def _extra(span: QueuedSpan) -> dict[str, str]:
    extra = {SESSION_ID: span.session_id}
    if span.parent_event is not None:
        extra[PARENT_EVENT_ID] = span.parent_event
    return extra


def _dropped(account: BatchAccount, spans: list[QueuedSpan], reason: str, detail: str) -> None:
    by_session: dict[str, int] = {}
    for span in spans:
        by_session[span.session_id] = by_session.get(span.session_id, 0) + 1
    for session_id, count in by_session.items():
        account.dropped(reason, count, detail, session_id=session_id)
