"""``SessionExporter``: batches from the export queue back into v2 API calls.

Runs on the export worker only. Event spans are grouped by session and sent with
``create_events``; session operations (create, agent, update) run in queue order, and a
session's queued events are sent before any operation of that session that follows
them. A session is created on the server before its first events are sent; if the
server refused it for good, its events are dropped and counted, never retried forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import ReadableSpan

from agentwatch.exceptions import ApiError, FatalApiError, RetryableApiError
from agentwatch.telemetry import attributes
from agentwatch.telemetry.drops import DropCounter
from agentwatch.telemetry.ops import CreateAgent, CreateSession, SessionOp, UpdateSession
from agentwatch.telemetry.span import EventSpan

if TYPE_CHECKING:
    from agentwatch.session.api import SessionApiClient
    from agentwatch.telemetry.processor import ExportItem

__all__ = ["MAX_REQUEST_BYTES", "SessionExporter"]

#: Most event bytes (before gzip) sent in one request: well under the server's default
#: limit (10 MiB after decompression), whatever the number of events in a batch.
MAX_REQUEST_BYTES = 4 * 1024 * 1024

logger = logging.getLogger("agentwatch")


class SessionExporter:
    """Delivers event spans and session operations through :class:`SessionApiClient`.

    State kept per session (on the worker thread only, so without locks): the
    ``create_session`` body until the server accepted it, and the refusal reason of a
    session the server will not accept.
    """

    def __init__(
        self,
        api: SessionApiClient,
        drops: DropCounter,
        *,
        host_env: Callable[[], dict[str, Any]],
        on_session_url: Callable[[str, str], None] | None = None,
    ) -> None:
        self._api = api
        self._drops = drops
        self._host_env = host_env
        self._on_session_url = on_session_url
        self._uncreated: dict[str, dict[str, Any]] = {}
        self._refused: dict[str, str] = {}
        self._created: set[str] = set()

    def export(self, batch: Sequence[ExportItem]) -> None:
        """Deliver ``batch`` in order. Blocks on the network; raises nothing the API raises."""
        waiting: dict[str, list[bytes]] = {}
        for item in batch:
            if type(item) is EventSpan:
                events = waiting.get(item.session_id)
                if events is None:
                    waiting[item.session_id] = events = []
                events.append(item.data)
                continue
            if isinstance(item, ReadableSpan):
                self._collect(item, waiting)
                continue
            earlier = waiting.pop(item.session_id, None)
            if earlier:
                self._send_events(item.session_id, earlier)
            self._run_op(item)
        for session_id, events in waiting.items():
            self._send_events(session_id, events)

    def shutdown(self) -> None:
        """Interrupt any retry in progress; later calls fail fast (and are counted)."""
        self._api.close()

    # -- events ----------------------------------------------------------------------

    @staticmethod
    def _collect(span: ReadableSpan, waiting: dict[str, list[bytes]]) -> None:
        """A span built elsewhere that carries an event in agentwatch attributes."""
        attrs = span.attributes or {}
        session_id, data = attrs.get(attributes.SESSION_ID), attrs.get(attributes.EVENT_DATA)
        if isinstance(session_id, str) and isinstance(data, str):
            waiting.setdefault(session_id, []).append(data.encode())
        # Spans without agentwatch attributes (other instrumentations) are not events.

    def _send_events(self, session_id: str, events: list[bytes]) -> None:
        if len(events) > 1 and sum(map(len, events)) > MAX_REQUEST_BYTES:
            for chunk in _chunks(events, MAX_REQUEST_BYTES):
                self._send_events(session_id, chunk)
            return
        if not self._ensure_created(session_id):
            reason = self._refused.get(session_id, "session_not_created")
            self._drops.add(
                reason,
                len(events),
                f"session {session_id} is not on the server",
                session_id=session_id,
            )
            return
        try:
            self._api.create_events(session_id, events)
        except FatalApiError as exc:
            if exc.status == 413:
                self._split(session_id, events)
            else:
                self._drops.add(exc.reason, len(events), str(exc), session_id=session_id)
        except ApiError as exc:
            self._drops.add(exc.reason, len(events), str(exc), session_id=session_id)

    def _split(self, session_id: str, events: list[bytes]) -> None:
        """The server found the body too large: send halves, drop a lone oversized event."""
        if len(events) == 1:
            self._drops.add(
                "too_large",
                1,
                "one event is larger than the server accepts",
                session_id=session_id,
            )
            return
        middle = len(events) // 2
        self._send_events(session_id, events[:middle])
        self._send_events(session_id, events[middle:])

    # -- session operations ------------------------------------------------------------

    def _run_op(self, op: SessionOp) -> None:
        if isinstance(op, CreateSession):
            self._uncreated[op.session_id] = op.body
            self._ensure_created(op.session_id)
        elif isinstance(op, CreateAgent):
            self._create_agent(op)
        else:
            self._update(op)

    def _ensure_created(self, session_id: str) -> bool:
        """Create the session on the server if not done yet; False if that failed."""
        if session_id in self._created:
            return True
        body = self._uncreated.get(session_id)
        if body is None:
            return False
        try:
            created = self._api.create_session(session_id, {**body, "host_env": self._host_env()})
        except FatalApiError as exc:
            self._refused[session_id] = exc.reason
            self._uncreated.pop(session_id, None)
            logger.error("the server refused session %s: %s", session_id, exc)
            return False
        except RetryableApiError as exc:
            # Still unknown to the server: the next operation or event retries.
            logger.warning("could not create session %s yet: %s", session_id, exc)
            return False
        self._uncreated.pop(session_id, None)
        self._created.add(session_id)
        if created.session_url and self._on_session_url is not None:
            self._on_session_url(session_id, created.session_url)
        return True

    def _create_agent(self, op: CreateAgent) -> None:
        if not self._ensure_created(op.session_id):
            return
        try:
            self._api.create_agent(op.session_id, op.agent_id, op.name)
        except ApiError as exc:
            # Events still name the agent by id; only its display name is missing.
            logger.warning("could not register agent %r: %s", op.name, exc)

    def _update(self, op: UpdateSession) -> None:
        try:
            if not self._ensure_created(op.session_id):
                reason = self._refused.get(op.session_id, "session_not_created")
                raise FatalApiError(
                    f"session {op.session_id} is not on the server", status=None, reason=reason
                )
            body = op.body
            # Everything queued before this update has been sent or dropped by now.
            dropped = self._drops.for_session(op.session_id)
            if dropped:
                body = {**body, "dropped_events": dropped}
            cost = self._api.update_session(op.session_id, body)
        except ApiError as exc:
            op.result.set_exception(exc)
        else:
            op.result.set_result(cost)
        if op.final:
            self._forget(op.session_id)

    def _forget(self, session_id: str) -> None:
        self._created.discard(session_id)
        self._uncreated.pop(session_id, None)
        self._refused.pop(session_id, None)
        self._drops.forget(session_id)
        self._api.forget(session_id)


def _chunks(events: list[bytes], limit: int) -> list[list[bytes]]:
    """``events`` in order, cut into runs of at most ``limit`` bytes (one event at least)."""
    chunks: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for event in events:
        if current and size + len(event) > limit:
            chunks.append(current)
            current, size = [], 0
        current.append(event)
        size += len(event)
    if current:
        chunks.append(current)
    return chunks
