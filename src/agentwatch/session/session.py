"""``Session``: the state of one agent run and its public API.

A plain data container; every operation is delegated to its :class:`SessionManager`.
Use it as a context manager to make it current in a block and to end it on leaving
(``Success``, or ``Fail`` if an exception escapes).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from agentwatch.events import EndState, Event, now_iso
from agentwatch.session.registry import registry

if TYPE_CHECKING:
    from decimal import Decimal

    from agentwatch.session.manager import SessionManager

__all__ = ["Session"]


@dataclass(eq=False)
class Session:
    """One agent run. Create with :meth:`agentwatch.Client.start_session`."""

    session_id: str
    tags: list[str] = field(default_factory=list)
    init_timestamp: str = field(default_factory=now_iso)
    end_timestamp: str | None = None
    end_state: str = EndState.INDETERMINATE.value
    end_state_reason: str | None = None
    video: str | None = None
    token_cost: Decimal | None = None
    is_running: bool = True
    _manager: SessionManager | None = field(default=None, repr=False)
    _tokens: list[contextvars.Token[Session | None]] = field(default_factory=list, repr=False)

    @property
    def manager(self) -> SessionManager:
        if self._manager is None:
            raise RuntimeError("Session objects are made by Client.start_session()")
        return self._manager

    def record(self, event: Event) -> None:
        """Record ``event`` in this session. Costs microseconds; no I/O; never raises
        because of the network or the server."""
        self.manager.record_event(event)

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
        """Where the session can be seen in the dashboard."""
        return self.manager.session_url

    def __enter__(self) -> Session:
        self._tokens.append(registry.set_current(self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tokens:
            registry.reset(self._tokens.pop())
        if self.is_running:
            if exc is None:
                self.end_session(EndState.SUCCESS)
            else:
                self.end_session(EndState.FAIL, f"{type(exc).__name__}: {exc}")
