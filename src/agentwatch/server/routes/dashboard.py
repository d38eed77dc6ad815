"""Dashboard pages: sessions, a session's drilldown, overview charts.

Each page renders the dict a :mod:`agentwatch.server.views` function returns, and
answers that same dict as JSON for ``?format=json`` (datasette style): the drilldown's
script reads its own page's JSON, so HTML and JSON cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from agentwatch.server import timerange, views, wire
from agentwatch.server.context import ServerContext, get_context
from agentwatch.server.dashboard.render import denied, page, pick_project
from agentwatch.server.errors import BadRequest, NotFound, Unprocessable
from agentwatch.server.storage import SessionFilter
from agentwatch.server.storage.overview import SORTS

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Context = Annotated[ServerContext, Depends(get_context)]
PAGE_SIZE = 50
END_STATES = ("Success", "Fail", "Indeterminate")


@router.get("/")
def home() -> Response:
    return RedirectResponse("/sessions", status_code=303)


@router.get("/sessions")
def sessions_page(
    request: Request,
    ctx: Context,
    tag: Annotated[str, Query()] = "",
    end_state: Annotated[str, Query()] = "",
    since: Annotated[str, Query()] = "",
    until: Annotated[str, Query()] = "",
    q: Annotated[str, Query()] = "",
    sort: Annotated[str, Query()] = "time",
    cursor: Annotated[str, Query()] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE,
) -> Response:
    """Sessions of one project, filtered and sorted, one keyset page at a time."""
    if (refused := denied(request)) is not None:
        return refused
    project, projects = pick_project(ctx, request)
    sort = sort if sort in SORTS else "time"
    where = SessionFilter(
        tags=tuple(t.strip() for t in tag.split(",") if t.strip()),
        end_state=wire.parse_end_state(end_state or None, "end_state"),
        since=_day_or_time(since, "since"),
        until=_day_or_time(until, "until", end_of_day=True),
        text=q.strip() or None,
    )
    after = views.decode_sort_cursor(cursor, sort) if cursor else None
    rows = (
        ctx.storage.list_sessions_sorted(project.id, where, sort, after, limit + 1)
        if project
        else []
    )
    data = views.sorted_session_list(rows, limit, sort)
    data["project_id"] = project.id if project else None
    filters = {"tag": tag, "end_state": end_state, "since": since, "until": until, "q": q}
    keep = [(k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "format")]
    query = urlencode(keep)
    return page(
        request,
        "sessions.html",
        data,
        projects=projects,
        project=project,
        filters=filters,
        sort=sort,
        sorts=SORTS,
        end_states=END_STATES,
        first_page=not cursor,
        request_query=query,
        first_url=f"/sessions?{query}",
        next_url=f"/sessions?{urlencode([*keep, ('cursor', data['next_cursor'] or '')])}",
        base_url=ctx.settings.base_url,
    )


@router.get("/sessions/{session_id}")
def session_page(request: Request, session_id: str, ctx: Context) -> Response:
    """One session: header, timeline and event details (drawn by session.js from the JSON)."""
    if (refused := denied(request)) is not None:
        return refused
    try:
        canonical = wire.parse_session_id(session_id, "session_id")
    except Unprocessable:
        raise NotFound("unknown session") from None
    project_id = ctx.storage.session_project(canonical)
    detail = ctx.storage.session_detail(project_id, canonical) if project_id else None
    if detail is None:
        raise NotFound("unknown session")
    data = views.session_detail(*detail)
    projects = ctx.storage.list_projects()
    project = next((p for p in projects if p.id == project_id), None)
    return page(request, "session.html", data, projects=projects, project=project)


@router.get("/overview")
def overview_page(
    request: Request,
    ctx: Context,
    days: Annotated[int, Query(ge=1, le=366)] = 14,
    hours: Annotated[int | None, Query(ge=1, le=48)] = None,
    tz: Annotated[str, Query(max_length=64)] = "",
    start: Annotated[str, Query(alias="from", max_length=64)] = "",
    end: Annotated[str, Query(alias="to", max_length=64)] = "",
) -> Response:
    """Charts over the last ``days`` local days, the last ``hours`` hours, or ``from``/``to``,
    in the UTC offset ``tz`` (by the hour up to 48 hours, else by the day); drawn by
    overview.js from the JSON."""
    if (refused := denied(request)) is not None:
        return refused
    zone = timerange.parse_tz(tz or None)
    now = dt.datetime.now(dt.timezone.utc)
    if start.strip():
        window = timerange.custom_range(start, end, zone, now)
    elif end.strip():
        raise BadRequest("from: give the start of the range with its end (to)")
    elif hours is not None:
        window = timerange.last_hours(hours, zone, now)
    else:
        window = timerange.last_days(days, zone, now)
    project, projects = pick_project(ctx, request)
    since, until = window.epoch(window.since), window.epoch(window.until)
    rows = (
        ctx.storage.overview(project.id, since, until, window.step_seconds, window.offset_seconds)
        if project
        else ([], [])
    )
    data = views.overview(window, *rows)
    shown = {"days": None if hours or start.strip() else days, "hours": hours}
    data["range"] = {**shown, "from": start.strip() or None, "to": end.strip() or None}
    query = [("project", project.id)] if project else []
    query += [
        (k, v) for k, v in request.query_params.multi_items() if k not in ("project", "format")
    ]
    return page(
        request,
        "overview.html",
        data,
        projects=projects,
        project=project,
        json_url=f"/overview?{urlencode([*query, ('format', 'json')])}",
    )


def _day_or_time(text: str, name: str, *, end_of_day: bool = False) -> dt.datetime | None:
    """A date input (``2026-11-25``, taken as UTC; an ``until`` day is included) or ISO time."""
    text = text.strip()
    if not text:
        return None
    if len(text) == 10:
        try:
            day = dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise Unprocessable(f"{name}: not a date (YYYY-MM-DD)") from None
        return day + dt.timedelta(days=1) if end_of_day else day
    return wire.parse_timestamp(text, name)
