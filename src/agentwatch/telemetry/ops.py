"""Session operations that travel through the export queue beside the event spans.

Creating a session, registering an agent and updating a session are queued in the
same FIFO as the session's events, so the exporter performs them in the order the
program did them: ``create_session`` before the session's first events, the final
``update_session`` after its last ones. None of them blocks the caller.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decimal import Decimal

__all__ = ["CreateAgent", "CreateSession", "SessionOp", "UpdateSession"]

# Plain slotted classes rather than dataclasses: one is made per queued operation, and
# a module of dataclasses costs import time that ``import agentwatch`` pays.


class CreateSession:
    """``POST /v2/create_session`` for ``session_id`` (re-attaches when inherited)."""

    __slots__ = ("body", "session_id")

    def __init__(self, session_id: str, body: dict[str, Any]) -> None:
        self.session_id = session_id
        self.body = body

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
