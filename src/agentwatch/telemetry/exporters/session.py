"""``SessionExporter``: batches from the export queue back into v2 API calls.

Runs on the export threads (the processor's worker, and its lanes for batches that
:meth:`SessionExporter.overlaps`). Events are grouped by session and sent with
``create_events``; session operations (create, agent, update) run in queue order, and a
session's queued events are sent before any operation of that session that follows
them. A session is created on the server before its first events are sent; if the
server refused it for good, its events are dropped and counted, never retried forever.

Every event of a batch ends up reported to the batch's
:class:`~agentwatch.telemetry.drops.BatchAccount`: delivered, or dropped with a reason.
Answers go back to whoever queued the operation, through its future. The exporter
speaks to the server only through a :class:`SessionTransport`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from agentwatch.exceptions import ApiError, FatalApiError, RetryableApiError
from agentwatch.telemetry.drops import BatchAccount, DropCounter
from agentwatch.telemetry.exporters.sizing import REFUSALS_PER_BATCH, BodyLimit, body_size
from agentwatch.telemetry.items import (
    CreateAgent,
    CreateSession,
    ExportItem,
    QueuedEvent,
    QueuedSpan,
    SessionOp,
    UpdateSession,
)
from agentwatch.telemetry.transport import SessionTransport

__all__ = ["SessionExporter"]

logger = logging.getLogger("agentwatch")


class SessionExporter:
    """Delivers events and session operations through a :class:`SessionTransport`.

    State kept per session: the ``create_session`` operation until the server accepted
    it, and the refusal reason of a session the server will not accept. Only a batch
    that does not overlap changes it, and the processor exports such a batch with
    nothing else in flight, so it needs no lock; the body limit, which two batches in
    flight may both lower, has its own.
    """

    def __init__(
        self,
        transport: SessionTransport,
        drops: DropCounter,
        *,
        host_env: Callable[[], dict[str, Any]],
    ) -> None:
        self._transport = transport
        self._drops = drops
        self._host_env = host_env
        self._limit = BodyLimit()
        self._uncreated: dict[str, CreateSession] = {}
        self._refused: dict[str, str] = {}
        self._created: set[str] = set()

    def export(self, batch: Sequence[ExportItem], account: BatchAccount) -> None:
        """Deliver ``batch`` in order. Blocks on the network; raises nothing the API raises."""
        budget = _Refusals(REFUSALS_PER_BATCH)
        waiting: dict[str, list[bytes]] = {}
        for item in batch:
            if isinstance(item, QueuedEvent):
                events = waiting.get(item.session_id)
                if events is None:
                    waiting[item.session_id] = events = []
                events.append(item.data)
                continue
            if isinstance(item, QueuedSpan):
                continue  # never queued here: the application's spans have their exporter
            earlier = waiting.pop(item.session_id, None)
            if earlier:
                self._send_events(item.session_id, earlier, account, budget)
            self._run_op(item)
        for session_id, events in waiting.items():
            self._send_events(session_id, events, account, budget)

    def overlaps(self, batch: Sequence[ExportItem]) -> bool:
        """Events only, of sessions the server has accepted: sending them reads nothing
        another export changes (creating a session, ending one, does), and the server
        stores a session's events in whatever order they arrive."""
        created = self._created
        return all(type(item) is QueuedEvent and item.session_id in created for item in batch)

    def problem(self) -> str | None:
        return self._transport.problem()

    def shutdown(self) -> None:
        """Interrupt any retry in progress; later calls fail fast."""
        self._transport.close()

    # -- events ----------------------------------------------------------------------

    def _send_events(
        self, session_id: str, events: list[bytes], account: BatchAccount, budget: _Refusals
    ) -> None:
        if not self._ensure_created(session_id):
            reason = self._refused.get(session_id, "session_not_created")
            problem = self._transport.problem()
            detail = f"session {session_id} is not on the server" + (
                f": {problem}" if problem else ""
            )
            account.dropped(reason, len(events), detail, session_id=session_id)
            return
        work = deque(self._limit.chunks(events))
        while work:
            chunk = work.popleft()
            if self._limit.too_large(chunk):
                # Cut before the cap came down: cut again rather than be refused.
                self._cut_again(session_id, chunk, work, account)
                continue
            try:
                self._transport.create_events(session_id, chunk)
            except FatalApiError as exc:
                if exc.status != 413:
                    # A partly refused batch (422): the server stored the others.
                    taken = min(exc.accepted or 0, len(chunk))
                    if taken:
                        account.delivered(taken)
                    if lost := len(chunk) - taken:
                        account.dropped(exc.reason, lost, str(exc), session_id=session_id)
                    continue
                self._limit.refused(chunk)
                if not budget.spend():
                    self._give_up(session_id, [*chunk, *(e for c in work for e in c)], account)
                    return
                self._cut_again(session_id, chunk, work, account)
            except ApiError as exc:
                account.dropped(exc.reason, len(chunk), str(exc), session_id=session_id)
            else:
                account.delivered(len(chunk))

    def _cut_again(
        self, session_id: str, chunk: list[bytes], work: deque[list[bytes]], account: BatchAccount
    ) -> None:
        """Put ``chunk`` back at the front of ``work`` in requests under the cap; a lone
        event too large for the server is dropped instead."""
        if len(chunk) == 1:
            self._too_large(session_id, chunk, account)
        else:
            work.extendleft(reversed(self._limit.chunks(chunk)))

    def _too_large(self, session_id: str, chunk: list[bytes], account: BatchAccount) -> None:
        size = body_size(chunk)
        detail = f"an event of {size:,} bytes is larger than the server accepts (HTTP 413)"
        account.dropped("too_large", 1, detail, session_id=session_id)

    def _give_up(self, session_id: str, events: list[bytes], account: BatchAccount) -> None:
        detail = (
            f"the server answered HTTP 413 to {REFUSALS_PER_BATCH} requests of one batch, "
            f"down to {self._limit.cap:,}-byte bodies; the rest of the batch is dropped"
        )
        account.dropped("too_large", len(events), detail, session_id=session_id)

    # -- session operations ------------------------------------------------------------

    def _run_op(self, op: SessionOp) -> None:
        if isinstance(op, CreateSession):
            self._uncreated[op.session_id] = op
            self._ensure_created(op.session_id)
        elif isinstance(op, CreateAgent):
            self._create_agent(op)
        else:
            self._update(op)

    def _ensure_created(self, session_id: str) -> bool:
        """Create the session on the server if not done yet; False if that failed."""
        if session_id in self._created:
            return True
        op = self._uncreated.get(session_id)
        if op is None:
            return False
        try:
            body = {**op.body, "host_env": self._host_env()}
            created = self._transport.create_session(session_id, body)
        except FatalApiError as exc:
            self._refused[session_id] = exc.reason
            del self._uncreated[session_id]
            logger.error("the server refused session %s: %s", session_id, exc)
            op.result.set_exception(exc)
            return False
        except RetryableApiError as exc:
            # Still unknown to the server: the next operation or event retries. The
            # transport has said once that the server cannot be reached.
            logger.debug("could not create session %s yet: %s", session_id, exc)
            return False
        del self._uncreated[session_id]
        self._created.add(session_id)
        op.result.set_result(created.session_url)
        return True

    def _create_agent(self, op: CreateAgent) -> None:
        if not self._ensure_created(op.session_id):
            return
        try:
            self._transport.create_agent(op.session_id, op.agent_id, op.name)
        except ApiError as exc:
            # Events still name the agent by id; only its display name is missing.
            level = logging.DEBUG if exc.reason == "closed" else logging.WARNING
            logger.log(level, "could not register agent %r: %s", op.name, exc)

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
            cost = self._transport.update_session(op.session_id, body)
        except ApiError as exc:
            op.result.set_exception(exc)
        else:
            op.result.set_result(cost)
        if op.final:
            self._forget(op.session_id)

    def _forget(self, session_id: str) -> None:
        self._created.discard(session_id)
        uncreated = self._uncreated.pop(session_id, None)
        if uncreated is not None:
            uncreated.result.set_exception(
                FatalApiError(
                    f"session {session_id} ended before the server could be reached",
                    status=None,
                    reason="session_not_created",
                )
            )
        self._refused.pop(session_id, None)
        self._drops.forget(session_id)
        self._transport.forget(session_id)


class _Refusals:
    """How many more 413 answers one batch may cost."""

    __slots__ = ("left",)

    def __init__(self, allowed: int) -> None:
        self.left = allowed

    def spend(self) -> bool:
        """Take one; False once none is left."""
        self.left -= 1
        return self.left >= 0
