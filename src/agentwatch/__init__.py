"""agentwatch: session observability for AI agents.

    import agentwatch
    agentwatch.init(api_key="...")            # starts a session
    with agentwatch.span("plan"):              # events recorded inside nest under it
        agentwatch.record(ActionEvent(action_type="search", params={...}))
    agentwatch.end_session("Success")

The module-level functions act on the session current in the calling context
(contextvars: per thread and per asyncio task), through the client made by ``init``.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentwatch.client import Client
from agentwatch.config import Config
from agentwatch.decorators import record_action, record_tool, track_agent
from agentwatch.events import (
    ActionEvent,
    EndState,
    ErrorEvent,
    Event,
    EventKind,
    EventType,
    LLMEvent,
    Parent,
    ToolEvent,
)
from agentwatch.exceptions import (
    AgentwatchError,
    ApiError,
    ConfigurationError,
    FatalApiError,
    RetryableApiError,
    SessionStateError,
)
from agentwatch.session import Session, sessions
from agentwatch.session.spans import SpanBlock, span_of_kind

if TYPE_CHECKING:
    from decimal import Decimal

__all__ = [
    "ActionEvent",
    "AgentwatchError",
    "ApiError",
    "Client",
    "Config",
    "ConfigurationError",
    "EndState",
    "ErrorEvent",
    "Event",
    "EventKind",
    "EventType",
    "FatalApiError",
    "LLMEvent",
    "RetryableApiError",
    "Session",
    "SessionStateError",
    "ToolEvent",
    "__version__",
    "add_tags",
    "create_agent",
    "end_all_sessions",
    "end_session",
    "flush",
    "get_active_sessions",
    "get_analytics",
    "get_client",
    "get_session",
    "init",
    "record",
    "record_action",
    "record_tool",
    "set_tags",
    "shutdown",
    "span",
    "start_session",
    "track_agent",
]

__version__ = "0.1.0"

_default: Client | None = None
_default_lock = threading.Lock()


def init(
    api_key: str | None = None,
    endpoint: str | None = None,
    *,
    auto_start_session: bool | None = None,
    inherited_session_id: str | uuid.UUID | None = None,
    **settings: Any,
) -> Session | None:
    """Create the default client and, unless told not to, start a session and return it.

    Settings as for :class:`Client`. ``auto_start_session`` defaults to True here (the
    ``AGENTWATCH_AUTO_START_SESSION`` variable can turn it off). Calling ``init`` again
    returns the current session of the existing default client.
    """
    global _default
    with _default_lock:
        if _default is not None:
            return _default.current_session
        _default = Client(api_key, endpoint, auto_start_session=False, **settings)
        client = _default
    if inherited_session_id is not None:
        return client.start_session(inherited_session_id=inherited_session_id)
    if _auto_start(auto_start_session):
        return client.start_session()
    return None


def _auto_start(argument: bool | None) -> bool:
    if argument is not None:
        return argument
    raw = os.environ.get("AGENTWATCH_AUTO_START_SESSION", "").strip()
    return (
        Config.load(env={"AGENTWATCH_AUTO_START_SESSION": raw}).auto_start_session if raw else True
    )


def get_client() -> Client:
    """The default client made by :func:`init`; raises ``SessionStateError`` before it."""
    if _default is None:
        raise SessionStateError("agentwatch.init() has not been called")
    return _default


def start_session(
    tags: Sequence[str] | str | None = None, inherited_session_id: str | uuid.UUID | None = None
) -> Session:
    return get_client().start_session(tags, inherited_session_id)


def end_session(
    end_state: str | EndState = EndState.INDETERMINATE,
    end_state_reason: str | None = None,
    video: str | None = None,
    is_auto_end: bool = False,
) -> Decimal | None:
    return get_client().end_session(end_state, end_state_reason, video, is_auto_end)


def record(event: Event, *, parent: Parent | None = None) -> None:
    """Record ``event`` in the current session. Never raises because of the server.

    ``parent`` (an event or an event id) picks the event it nests under; by default it
    is the span open here (see :func:`span`), if any.
    """
    session = sessions.current()
    if session is not None:
        session.record(event, parent=parent)
    elif _default is not None:
        _default.record(event, parent=parent)


def span(
    name: str, kind: str | EventKind = EventKind.ACTION, *, parent: Parent | None = None
) -> SpanBlock:
    """A ``with`` / ``async with`` block, or a decorator, recorded as one span of the
    session current when it is entered (see :meth:`Session.span`)."""
    return span_of_kind(name, kind, sessions, None, parent)


def add_tags(tags: Sequence[str] | str) -> None:
    get_client().add_tags(tags)


def set_tags(tags: Sequence[str] | str) -> None:
    get_client().set_tags(tags)


def create_agent(name: str, agent_id: str | None = None) -> str:
    return get_client().create_agent(name, agent_id)


def get_analytics() -> dict[str, Any]:
    return get_client().get_analytics()


def get_active_sessions() -> list[Session]:
    """Every running session in this process, of any client, oldest first."""
    return sessions.active()


def get_session(session_id: str | uuid.UUID) -> Session | None:
    return sessions.get(str(session_id))


def end_all_sessions(
    end_state: str | EndState = EndState.INDETERMINATE, reason: str | None = None
) -> None:
    get_client().end_all_sessions(end_state, reason)


def flush(timeout: float | None = None) -> bool:
    return get_client().flush(timeout)


def shutdown(timeout: float | None = None) -> None:
    """Shut the default client down (ends its sessions); ``init`` may be called again."""
    global _default
    with _default_lock:
        client, _default = _default, None
    if client is not None:
        client.shutdown(timeout)
