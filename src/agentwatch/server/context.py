"""What every route needs, built once per app: settings, storage, token signer, prices,
and the OTLP receiver's counters."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from agentwatch.server.auth import TokenSigner
from agentwatch.server.otlp.stats import ReceiverStats
from agentwatch.server.pricing import PriceTable
from agentwatch.server.settings import ServerSettings
from agentwatch.server.storage import Storage

__all__ = ["ServerContext", "get_context"]


@dataclass(frozen=True)
class ServerContext:
    settings: ServerSettings
    storage: Storage
    signer: TokenSigner
    prices: PriceTable
    otlp_stats: ReceiverStats = field(default_factory=ReceiverStats)

    def session_url(self, session_id: str) -> str:
        """Where a person sees the session (the dashboard's drilldown page)."""
        return f"{self.settings.base_url}/sessions/{session_id}"


async def get_context(request: Request) -> ServerContext:
    """FastAPI dependency: the app's :class:`ServerContext`.

    ``async`` although it never waits: FastAPI runs a plain ``def`` dependency in a worker
    thread, one more thread hop per request for an attribute read.
    """
    context = request.app.state.context
    assert isinstance(context, ServerContext)
    return context
