"""The process-wide registry of running sessions and of the current session.

"Current" follows :mod:`contextvars`: a session started (or entered with ``with``) in a
thread or an asyncio task is current there and in tasks created from it, so concurrent
sessions never see each other's events. Where no session was made current in the
running context (a worker thread of a pool, say) and exactly one session is running,
that one is current, which is what single-session programs expect.
"""

from __future__ import annotations

import contextvars
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentwatch.session.session import Session

__all__ = ["Registry", "registry"]


class Registry:
    """Tracks running sessions, and which one is current in each context."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[str, Session] = {}
        self._current: contextvars.ContextVar[Session | None] = contextvars.ContextVar(
            "agentwatch_current_session", default=None
        )
        self._agent: contextvars.ContextVar[str | None] = contextvars.ContextVar(
            "agentwatch_current_agent", default=None
        )
        # Agent ids to names, so a session that first sees an agent's event can register it.
        self.agent_names: dict[str, str] = _BoundedNames()

    def add(self, session: Session) -> None:
        with self._lock:
            self._active[session.session_id] = session

    def remove(self, session: Session) -> None:
        with self._lock:
            self._active.pop(session.session_id, None)

    def get(self, session_id: str) -> Session | None:
        return self._active.get(str(session_id))

    def active(self) -> list[Session]:
        """Running sessions, oldest first."""
        with self._lock:
            return list(self._active.values())

    def set_current(self, session: Session | None) -> contextvars.Token[Session | None]:
        """Make ``session`` current in the running context; returns a token for :meth:`reset`."""
        return self._current.set(session)

    def reset(self, token: contextvars.Token[Session | None]) -> None:
        self._current.reset(token)

    def current(self) -> Session | None:
        """The session current in this context, else the only running session, else None."""
        session = self._current.get()
        if session is not None and session.is_running:
            return session
        active = self._active
        if len(active) == 1:
            for only in active.values():
                return only
        return None

    # -- the agent whose code is running (set by track_agent) ---------------------------

    def set_agent(self, agent_id: str | None) -> contextvars.Token[str | None]:
        return self._agent.set(agent_id)

    def reset_agent(self, token: contextvars.Token[str | None]) -> None:
        self._agent.reset(token)

    def current_agent(self) -> str | None:
        return self._agent.get()


class _BoundedNames(dict[str, str]):
    """A dict that forgets its oldest entries past a size, so that a service creating an
    agent object per request does not grow without end; a forgotten agent is still
    registered, under the name ``agent``."""

    limit = 10_000

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        while len(self) > self.limit:
            del self[next(iter(self))]


registry = Registry()
