"""What travels through the export queue: recorded events, and session operations.

Creating a session, registering an agent and updating a session are queued in the
same FIFO as the session's events, so the exporter performs them in the order the
program did them: ``create_session`` before the session's first events, the final
``update_session`` after its last ones. None of them blocks the caller; an operation
whose answer someone needs carries a future for it.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decimal import Decimal

    from opentelemetry.sdk.trace import ReadableSpan

__all__ = [
    "RECORD_TYPES",
    "CreateAgent",
    "CreateSession",
    "ExportItem",
    "QueuedEvent",
    "QueuedRecord",
    "QueuedSpan",
    "SessionOp",
    "UpdateSession",
]

# Plain slotted classes rather than dataclasses: one is made per queued item, and a
# module of dataclasses costs import time that ``import agentwatch`` pays.


class QueuedEvent:
    """One recorded event: its JSON as ``create_events`` carries it, encoded once when it
    was recorded, and its session. One small object per queued event, holding nothing
    the garbage collector has to follow."""

    __slots__ = ("data", "session_id")

    def __init__(self, session_id: str, data: bytes) -> None:
        self.session_id = session_id
        self.data = data

    def __repr__(self) -> str:
        return f"QueuedEvent({self.session_id!r}, {len(self.data)} bytes)"


class QueuedSpan:
    """One captured span of the application (:mod:`agentwatch.telemetry.capture`) as it
    ended, with the session it ran in and the event it nests under there (None: its
    OpenTelemetry parent; "": the session). Encoded by the export worker, not here."""

    __slots__ = ("parent_event", "session_id", "span")

    def __init__(self, session_id: str, span: ReadableSpan, parent_event: str | None) -> None:
        self.session_id = session_id
        self.span = span
        self.parent_event = parent_event

    def __repr__(self) -> str:
        return f"QueuedSpan({self.session_id!r}, {self.span.name!r})"


class CreateSession:
    """Create ``session_id`` on the server (re-attaches when inherited).

    ``result`` receives the dashboard URL the server answered (``None`` if it sent
    none), or the exception if the server refused the session for good. It stays
    pending while the server cannot be reached.
    """

    __slots__ = ("body", "result", "session_id")

    def __init__(self, session_id: str, body: dict[str, Any]) -> None:
        self.session_id = session_id
        self.body = body
        self.result: Future[str | None] = Future()

    def __repr__(self) -> str:
        return f"CreateSession({self.session_id!r})"


class CreateAgent:
    """``POST /v2/create_agent``: makes ``agent_id`` known to the session's server record."""

    __slots__ = ("agent_id", "name", "session_id")

    def __init__(self, session_id: str, agent_id: str, name: str) -> None:
        self.session_id = session_id
        self.agent_id = agent_id
        self.name = name

    def __repr__(self) -> str:
        return f"CreateAgent({self.session_id!r}, {self.agent_id!r}, {self.name!r})"


class UpdateSession:
    """``POST /v2/update_session`` with the session's state at the time it was queued.

    ``final`` marks the end of the session: afterwards the exporter forgets its JWT.
    ``result`` receives the ``token_cost`` the server answers (or the exception).
    """

    __slots__ = ("body", "final", "result", "session_id")

    def __init__(self, session_id: str, body: dict[str, Any], *, final: bool = False) -> None:
        self.session_id = session_id
        self.body = body
        self.final = final
        self.result: Future[Decimal | None] = Future()

    def __repr__(self) -> str:
        return f"UpdateSession({self.session_id!r}, final={self.final})"


SessionOp = CreateSession | CreateAgent | UpdateSession
QueuedRecord = QueuedEvent | QueuedSpan  # what counts as an event: delivered or dropped
ExportItem = QueuedRecord | SessionOp
RECORD_TYPES = frozenset({QueuedEvent, QueuedSpan})
