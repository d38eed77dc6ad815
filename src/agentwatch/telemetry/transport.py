"""The transport seam: what the exporter needs from whatever carries its requests.

:class:`~agentwatch.telemetry.exporters.session.SessionExporter` depends on this
protocol only; :class:`agentwatch.session.api.SessionApiClient` implements it over HTTP
(AgentOps v2). Every call blocks (it is made from the export worker), answers with a
return value, and raises :class:`~agentwatch.exceptions.RetryableApiError` when it gave
up for now or :class:`~agentwatch.exceptions.FatalApiError` when retrying cannot help.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from decimal import Decimal

__all__ = ["CreatedSession", "SessionTransport"]


@dataclass(frozen=True)
class CreatedSession:
    """What the server answered to the creation of a session."""

    jwt: str
    session_url: str | None


class SessionTransport(Protocol):
    def create_session(self, session_id: str, session: Mapping[str, Any]) -> CreatedSession:
        """Create (or re-attach) the session; its credentials are kept for later calls."""

    def create_events(self, session_id: str, events: Sequence[bytes]) -> None:
        """Store events, each one already JSON-encoded. A body the server finds too large
        raises ``FatalApiError`` with ``status=413``."""

    def create_agent(self, session_id: str, agent_id: str, name: str) -> None:
        """Register (upsert) an agent's display name."""

    def update_session(self, session_id: str, session: Mapping[str, Any]) -> Decimal | None:
        """Update the session; returns its token cost when the server priced it."""

    def forget(self, session_id: str) -> None:
        """Drop what is kept for a finished session."""

    def problem(self) -> str | None:
        """Why requests are not getting through right now (naming the endpoint and the
        error), or None while the server answers."""

    def close(self) -> None:
        """Interrupt any wait and refuse further calls. Idempotent."""
