"""JSON read API, scoped to the project of the ``X-Agentops-Api-Key`` header.

A session of another project answers 404, exactly like a session that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from agentwatch.server import views, wire
from agentwatch.server.context import ServerContext, get_context
from agentwatch.server.errors import NotFound, Unprocessable
from agentwatch.server.routes.v2 import api_key_owner
from agentwatch.server.storage import KeyOwner, SessionFilter

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["read API"])

Context = Annotated[ServerContext, Depends(get_context)]
Owner = Annotated[KeyOwner, Depends(api_key_owner)]


@router.get("/sessions")
def list_sessions(
    ctx: Context,
    owner: Owner,
    tag: Annotated[
        list[str] | None,
        Query(description="only sessions with this tag (repeatable: all must match)"),
    ] = None,
    end_state: Annotated[str | None, Query(description="Success, Fail or Indeterminate")] = None,
    since: Annotated[
        str | None, Query(description="sessions started at or after (ISO-8601)")
    ] = None,
    until: Annotated[str | None, Query(description="sessions started before (ISO-8601)")] = None,
    q: Annotated[str | None, Query(description="text to find in tags or end state reason")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Sessions newest first, one page at a time (keyset pagination through ``cursor``)."""
    where = SessionFilter(
        tags=tuple(tag or ()),
        end_state=wire.parse_end_state(end_state, "end_state"),
        since=wire.parse_timestamp(since, "since"),
        until=wire.parse_timestamp(until, "until"),
        text=q.strip() if q and q.strip() else None,
    )
    after = views.decode_cursor(cursor) if cursor else None
    rows = ctx.storage.list_sessions(owner.project_id, where, after, limit + 1)
    return views.session_list(rows, limit)


@router.get("/sessions/{session_id}")
def get_session(
    session_id: str,
    ctx: Context,
    owner: Owner,
    event_limit: Annotated[
        int | None, Query(ge=1, le=100_000, description="at most this many events (default: all)")
    ] = None,
    event_cursor: Annotated[
        str | None, Query(description="next_event_cursor of the previous page")
    ] = None,
) -> dict[str, Any]:
    """One session with its stats, agents and its events (all fields as sent) in time order."""
    try:
        canonical = wire.parse_session_id(session_id, "session_id")
    except Unprocessable:
        raise NotFound("unknown session") from None
    after = views.decode_cursor(event_cursor, "event_cursor") if event_cursor else None
    fetch = None if event_limit is None else event_limit + 1
    detail = ctx.storage.session_detail(owner.project_id, canonical, after, fetch)
    if detail is None:
        raise NotFound("unknown session")
    return views.session_detail(*detail, event_limit=event_limit)


@router.get("/stats")
def project_stats(
    ctx: Context,
    owner: Owner,
    since: Annotated[
        str | None, Query(description="sessions started at or after (ISO-8601)")
    ] = None,
    until: Annotated[str | None, Query(description="sessions started before (ISO-8601)")] = None,
) -> dict[str, Any]:
    """Totals (sessions, events by type, tokens, cost) over sessions started in [since, until)."""
    start = wire.parse_timestamp(since, "since")
    end = wire.parse_timestamp(until, "until")
    return views.project_stats(ctx.storage.project_totals(owner.project_id, start, end), start, end)
