"""JSON read API, scoped to the project of the ``X-Agentops-Api-Key`` header.

A session of another project answers 404, exactly like a session that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from agentwatch.server import exports, views, wire
from agentwatch.server.context import ServerContext, get_context
from agentwatch.server.listquery import DEFAULT_LIMIT, MAX_LIMIT, MAX_VALUES, list_query
from agentwatch.server.routes.v2 import api_key_owner
from agentwatch.server.storage import KeyOwner
from agentwatch.server.storage.ingest import UnknownSession
from agentwatch.server.storage.search import MAX_QUERY
from agentwatch.server.storage.sessionlist import SORTS

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["read API"])

Context = Annotated[ServerContext, Depends(get_context)]
Owner = Annotated[KeyOwner, Depends(api_key_owner)]


@router.get("/sessions")
def list_sessions(
    ctx: Context,
    owner: Owner,
    q: Annotated[
        str | None,
        Query(
            description="words to find anywhere in a session: prompts, completions, tool "
            "names and arguments, errors, agent names, tags, end reason, user, metadata, "
            f"the session id in full or its first characters (at most {MAX_QUERY} "
            "characters); also an exact tag"
        ),
    ] = None,
    tag: Annotated[
        list[str] | None,
        Query(
            description=f"only sessions with this tag (repeatable, at most {MAX_VALUES}: all must match)"
        ),
    ] = None,
    end_state: Annotated[str | None, Query(description="Success, Fail or Indeterminate")] = None,
    since: Annotated[
        str | None, Query(description="sessions started at or after (ISO-8601)")
    ] = None,
    until: Annotated[str | None, Query(description="sessions started before (ISO-8601)")] = None,
    model: Annotated[
        list[str] | None, Query(description="sessions that called this model (repeatable: any)")
    ] = None,
    agent: Annotated[
        list[str] | None,
        Query(description="sessions with an agent of this name (repeatable: all must match)"),
    ] = None,
    has_errors: Annotated[
        str | None, Query(description="true: sessions with errors; false: without")
    ] = None,
    min_cost: Annotated[str | None, Query(description="cost at least (US dollars)")] = None,
    max_cost: Annotated[str | None, Query(description="cost at most (US dollars)")] = None,
    min_duration: Annotated[str | None, Query(description="lasting at least (seconds)")] = None,
    max_duration: Annotated[str | None, Query(description="lasting at most (seconds)")] = None,
    user: Annotated[
        str | None, Query(description="OpenTelemetry sessions of this user (user.id)")
    ] = None,
    metadata: Annotated[
        list[str] | None,
        Query(description="key=value: OpenTelemetry sessions whose metadata has it (repeatable)"),
    ] = None,
    id: Annotated[
        list[str] | None, Query(description="only these session ids (repeatable)")
    ] = None,
    sort: Annotated[
        str | None, Query(description=f"one of {', '.join(SORTS)} (default time)")
    ] = None,
    order: Annotated[str | None, Query(description="desc (default) or asc")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[
        int | None,
        Query(description=f"sessions per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})"),
    ] = None,
) -> dict[str, Any]:
    """Sessions matching every filter given, one page at a time (keyset pagination through
    ``cursor``), newest first unless ``sort``/``order`` say otherwise, with ``total``, the
    number of matching sessions. Large strings are cut in list rows (each row's
    ``truncated`` names them); the session itself has them whole."""
    request = list_query(
        tags=tag or (),
        end_state=end_state,
        since=wire.parse_timestamp(since, "since"),
        until=wire.parse_timestamp(until, "until"),
        q=q,
        models=model or (),
        agents=agent or (),
        has_errors=has_errors,
        min_cost=min_cost,
        max_cost=max_cost,
        min_duration=min_duration,
        max_duration=max_duration,
        user=user,
        metadata=metadata or (),
        ids=id or (),
        sort=sort,
        order=order,
        cursor=cursor,
        limit=limit,
    )
    page = ctx.storage.session_page(
        owner.project_id, request.where, request.order, request.after, request.limit + 1
    )
    return views.session_list(page, request.limit, request.order)


@router.get("/sessions/{session_id}", response_model=None, responses=exports.STREAMED)
def get_session(
    session_id: str,
    ctx: Context,
    owner: Owner,
    event_limit: Annotated[
        int | None,
        Query(ge=1, le=100_000, description="at most this many events (default: all, streamed)"),
    ] = None,
    event_cursor: Annotated[
        str | None, Query(description="next_event_cursor of the previous page")
    ] = None,
) -> dict[str, Any] | StreamingResponse:
    """One session with its stats, agents and its events (all fields as sent) in time order.

    Without ``event_limit`` every event (after ``event_cursor``) is sent, streamed a page
    at a time; with it, one page and the ``next_event_cursor`` of the next."""
    canonical = wire.session_path_id(session_id)
    after = views.decode_cursor(event_cursor, "event_cursor") if event_cursor else None
    if event_limit is None:
        head = ctx.storage.session_head(owner.project_id, canonical)
        if head is None:
            raise UnknownSession(canonical)
        key, row, agents = head
        pages = ctx.storage.event_pages(row.project_id, key, exports.PAGE_EVENTS, after=after)
        chunks = exports.detail_chunks(row, agents, pages)
        return StreamingResponse(chunks, media_type="application/json")
    fetch = event_limit + 1
    detail = ctx.storage.session_detail(owner.project_id, canonical, after, fetch)
    if detail is None:
        raise UnknownSession(canonical)
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
