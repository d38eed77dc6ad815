"""``Session``: one agent run, as the program sees it.

The public API of a session and a read-only view of its state; every operation is
delegated to the :class:`SessionManager` it is given when made (by
:meth:`agentwatch.Client.start_session`). Use it as a context manager to make it current
in a block and to end it on leaving (``Success``, or ``Fail`` if an exception escapes).
"""

from __future__ import annotations

import contextvars
from types import TracebackType
from typing import TYPE_CHECKING, Any

from agentwatch.events import EndState, Event, EventKind, Parent
from agentwatch.session.spans import SpanBlock, span_of_kind

if TYPE_CHECKING:
    from decimal import Decimal

    from agentwatch.session.manager import SessionManager
    from agentwatch.session.registry import Registered

__all__ = ["Session"]


class Session:
    """One agent run. Create with :meth:`agentwatch.Client.start_session`."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager
        self._tokens: list[contextvars.Token[Registered | None]] = []

    # -- state (read-only; the manager changes it) ---------------------------------------

    @property
    def session_id(self) -> str:
        return self.manager.state.session_id

    @property
    def tags(self) -> list[str]:
        return list(self.manager.state.tags)

    @property
    def init_timestamp(self) -> str:
        return self.manager.state.init_timestamp

    @property
    def end_timestamp(self) -> str | None:
        return self.manager.state.end_timestamp

    @property
    def end_state(self) -> str:
        return self.manager.state.end_state

    @property
    def end_state_reason(self) -> str | None:
        return self.manager.state.end_state_reason

    @property
    def video(self) -> str | None:
        return self.manager.state.video

    @property
    def token_cost(self) -> Decimal | None:
        return self.manager.state.token_cost

    @property
    def is_running(self) -> bool:
        return self.manager.state.is_running

    # -- operations ------------------------------------------------------------------------

    def record(self, event: Event, *, parent: Parent | None = None) -> None:
        """Record ``event`` in this session. Costs microseconds; no I/O; never raises
        because of the network or the server.

        It nests under ``parent`` (an event or an event id) if given, else under its own
        ``parent_id``, else under the span open where it is recorded, else the session.
        """
        self.manager.record_event(event, parent)

    def span(
        self, name: str, kind: str | EventKind = EventKind.ACTION, *, parent: Parent | None = None
    ) -> SpanBlock:
        """A block (``with`` / ``async with``) or decorated function recorded as one span.

        Events recorded inside nest under it. ``kind`` is an :class:`EventKind`: ``llm``
        and ``tool`` spans are recorded as an ``LLMEvent`` / ``ToolEvent``, the others as an
        ``ActionEvent`` named ``name``. The ``with`` statement yields the event, to fill
        in (``returns``, tokens...). Raises ``ValueError`` for an unknown kind.
        """
        return span_of_kind(name, kind, self.manager.registry, self, parent)

    def end_session(
        self,
        end_state: str | EndState = EndState.INDETERMINATE,
        end_state_reason: str | None = None,
        video: str | None = None,
        *,
        timeout: float | None = None,
    ) -> Decimal | None:
        """End the session and return its token cost (``None`` if unknown).

        Waits at most ``timeout`` seconds (default: the ``shutdown_timeout`` setting)
        for pending events to be delivered, then logs the stats line. ``end_state`` is
        ``Success``, ``Fail`` or ``Indeterminate``; anything else raises ``ValueError``.
        """
        return self.manager.end(end_state, end_state_reason, video, timeout)

    def add_tags(self, tags: list[str] | str) -> None:
        """Add tags (duplicates ignored, order kept); sent to the server in the background."""
        self.manager.add_tags(tags)

    def set_tags(self, tags: list[str] | str) -> None:
        """Replace the session's tags."""
        self.manager.set_tags(tags)

    def create_agent(self, name: str, agent_id: str | None = None) -> str:
        """Register an agent named ``name`` in this session; returns its id."""
        return self.manager.create_agent(name, agent_id)

    def get_analytics(self, timeout: float | None = None) -> dict[str, Any]:
        """Event counts, duration and cost (asks the server for the cost; waits ≤ timeout)."""
        return self.manager.analytics(timeout)

    @property
    def event_counts(self) -> dict[str, int]:
        return self.manager.event_counts

    @property
    def session_url(self) -> str:
        """Where the session can be seen in the dashboard (as the server answered it,
        once it has confirmed the session; until then the URL it is expected at)."""
        return self.manager.session_url

    def __repr__(self) -> str:
        return f"Session(session_id={self.session_id!r}, is_running={self.is_running})"

    def __enter__(self) -> Session:
        self._tokens.append(self.manager.registry.set_current(self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tokens:
            self.manager.registry.reset(self._tokens.pop())
        if self.is_running:
            if exc is None:
                self.end_session(EndState.SUCCESS)
            else:
                self.end_session(EndState.FAIL, f"{type(exc).__name__}: {exc}")
