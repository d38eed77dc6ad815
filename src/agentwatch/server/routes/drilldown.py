"""The session drilldown's reads, twice over: for programs under ``/api`` (scoped to the
project of the ``X-Agentops-Api-Key`` header) and for the dashboard's session and compare
pages under ``/sessions`` and ``/compare`` (behind the dashboard login, scoped to the
session's own project). Both answer the same views (:mod:`..drilldown`, :mod:`..compare`).

A session or event the caller may not read answers 404, exactly like one that does not
exist; two sessions compared must both be readable by one project.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from agentwatch.server import collector, compare, drilldown, wire
from agentwatch.server.context import ServerContext, get_context
from agentwatch.server.dashboard.render import denied, page
from agentwatch.server.errors import NotFound, Unprocessable
from agentwatch.server.routes.v2 import api_key_owner
from agentwatch.server.storage import KeyOwner
from agentwatch.server.storage.ingest import UnknownSession

__all__ = ["api_router", "page_router"]

api_router = APIRouter(prefix="/api", tags=["read API"])
page_router = APIRouter(include_in_schema=False)

Context = Annotated[ServerContext, Depends(get_context)]
Owner = Annotated[KeyOwner, Depends(api_key_owner)]
CursorQuery = Annotated[
    str, Query(description="the cursor of the session's tree or of the last changes answer")
]
SessionA = Annotated[str, Query(description="the first session's id")]
SessionB = Annotated[str, Query(description="the second session's id")]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# -- the views, for one reading project -------------------------------------------------


def tree(ctx: ServerContext, project_id: str, session_id: str) -> Response:
    # The cursor is taken before the read: changes written meanwhile are in its next answer.
    cursor = drilldown.encode_changes_cursor(
        ctx.signer, session_id, (_utcnow() - drilldown.GRACE, "")
    )
    with collector.paused():
        found = ctx.storage.session_tree(project_id, session_id, drilldown.TREE_LIMIT)
        if found is None:
            raise UnknownSession(session_id)
        view = drilldown.session_tree(*found, cursor=cursor)
    return StreamingResponse(drilldown.tree_chunks(view), media_type="application/json")


def event(ctx: ServerContext, project_id: str, session_id: str, event_id: str) -> dict[str, Any]:
    found = ctx.storage.session_event(project_id, session_id, event_id)
    if found is None:
        raise UnknownSession(session_id)
    session, _agents, row = found
    if row is None:
        raise NotFound("unknown event")
    return drilldown.event_detail(session, row)


def changes(ctx: ServerContext, project_id: str, session_id: str, cursor: str) -> dict[str, Any]:
    after = drilldown.decode_changes_cursor(ctx.signer, session_id, cursor)
    now = _utcnow()
    limit = drilldown.CHANGES_LIMIT
    found = ctx.storage.session_changes(project_id, session_id, after, limit)
    if found is None:
        raise UnknownSession(session_id)
    session, agents, rows = found
    return drilldown.changes(
        drilldown.Changes(session, agents, rows, len(rows) >= limit), after[0], now, ctx.signer
    )


def compared(ctx: ServerContext, project_id: str, a: str, b: str) -> dict[str, Any]:
    limit = compare.STEP_LIMIT
    left = ctx.storage.session_steps(project_id, wire.session_path_id(a), limit)
    right = ctx.storage.session_steps(project_id, wire.session_path_id(b), limit)
    if left is None or right is None:
        raise NotFound(f"unknown session: {a if left is None else b}")
    return compare.compare(left[0], left[1], right[0], right[1], limit)


# -- /api: by API key --------------------------------------------------------------------


@api_router.get("/sessions/{session_id}/tree")
def api_tree(session_id: str, ctx: Context, owner: Owner) -> Response:
    """The session's span tree: one compact row per event (no payloads) in tree order
    (children in time order; orphans at the root), at most 100,000 events, streamed."""
    return tree(ctx, owner.project_id, wire.session_path_id(session_id))


@api_router.get("/sessions/{session_id}/events/{event_id}")
def api_event(session_id: str, event_id: str, ctx: Context, owner: Owner) -> dict[str, Any]:
    """One event of the session with every field it was sent with."""
    return event(ctx, owner.project_id, wire.session_path_id(session_id), event_id)


@api_router.get("/sessions/{session_id}/changes")
def api_changes(session_id: str, ctx: Context, owner: Owner, cursor: CursorQuery) -> dict[str, Any]:
    """Events written since ``cursor`` (new or updated, as tree rows) and the session when
    anything changed; ``cursor`` in the answer is the next one, ``more`` to ask again now."""
    return changes(ctx, owner.project_id, wire.session_path_id(session_id), cursor)


@api_router.get("/compare")
def api_compare(ctx: Context, owner: Owner, a: SessionA, b: SessionB) -> dict[str, Any]:
    """Two sessions' LLM and tool calls aligned step by step, with deltas."""
    return compared(ctx, owner.project_id, a, b)


# -- the dashboard: by login, in the session's own project --------------------------------


def _owning_project(ctx: ServerContext, session_id: str) -> str:
    project_id = ctx.storage.session_project(session_id)
    if project_id is None:
        raise UnknownSession(session_id)
    return project_id


@page_router.get("/sessions/{session_id}/tree")
def page_tree(request: Request, session_id: str, ctx: Context) -> Response:
    if (refused := denied(request, as_json=True)) is not None:
        return refused
    canonical = wire.session_path_id(session_id)
    return tree(ctx, _owning_project(ctx, canonical), canonical)


@page_router.get("/sessions/{session_id}/events/{event_id}")
def page_event(request: Request, session_id: str, event_id: str, ctx: Context) -> Any:
    if (refused := denied(request, as_json=True)) is not None:
        return refused
    canonical = wire.session_path_id(session_id)
    return event(ctx, _owning_project(ctx, canonical), canonical, event_id)


@page_router.get("/sessions/{session_id}/changes")
def page_changes(request: Request, session_id: str, ctx: Context, cursor: CursorQuery) -> Any:
    if (refused := denied(request, as_json=True)) is not None:
        return refused
    canonical = wire.session_path_id(session_id)
    return changes(ctx, _owning_project(ctx, canonical), canonical, cursor)


@page_router.get("/compare")
def page_compare(request: Request, ctx: Context, a: str = "", b: str = "") -> Response:
    """Two sessions side by side (drawn by compare.js from this page's JSON)."""
    if (refused := denied(request)) is not None:
        return refused
    if not a or not b:
        raise Unprocessable("give two sessions to compare: /compare?a=<session id>&b=<session id>")
    project_id = _owning_project(ctx, wire.session_path_id(a))
    data = compared(ctx, project_id, a, b)
    projects = ctx.storage.list_projects()
    project = next((p for p in projects if p.id == project_id), None)
    return page(request, "compare.html", data, projects=projects, project=project)
