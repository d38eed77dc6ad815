"""Session operations that travel through the export queue beside the event spans.

Creating a session, registering an agent and updating a session are queued in the
same FIFO as the session's events, so the exporter performs them in the order the
program did them: ``create_session`` before the session's first events, the final
``update_session`` after its last ones. None of them blocks the caller.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["CreateAgent", "CreateSession", "SessionOp", "UpdateSession"]


@dataclass(frozen=True)
class CreateSession:
    """``POST /v2/create_session`` for ``session_id`` (re-attaches when inherited)."""

    session_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class CreateAgent:
    """``POST /v2/create_agent``: makes ``agent_id`` known to the session's server record."""

    session_id: str
    agent_id: str
    name: str


@dataclass(frozen=True)
class UpdateSession:
    """``POST /v2/update_session`` with the session's state at the time it was queued.

    ``final`` marks the end of the session: afterwards the exporter forgets its JWT.
    ``result`` receives the ``token_cost`` the server answers (or the exception).
    """

    session_id: str
    body: dict[str, Any]
    final: bool = False
    result: Future[Decimal | None] = field(default_factory=Future, compare=False)


SessionOp = CreateSession | CreateAgent | UpdateSession
