"""Dashboard pages: sessions, a session's drilldown, overview charts.

Each page renders the dict a :mod:`agentwatch.server.views` function returns, and
answers that same dict as JSON for ``?format=json`` (datasette style): the drilldown's
script reads its own page's JSON, so HTML and JSON cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from agentwatch.server import timerange, views, wire
from agentwatch.server.context import ServerContext, get_context
from agentwatch.server.dashboard.render import denied, page, pick_project, wants_json
from agentwatch.server.errors import BadRequest, NotFound, Unprocessable
from agentwatch.server.listquery import list_query
from agentwatch.server.storage.sessionlist import SORTS, ListOrder, SessionPage

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Context = Annotated[ServerContext, Depends(get_context)]
END_STATES = ("Success", "Fail", "Indeterminate")


@router.get("/")
def home() -> Response:
    return RedirectResponse("/sessions", status_code=303)


@router.get("/sessions")
def sessions_page(
    request: Request,
    ctx: Context,
    tag: Annotated[str, Query()] = "",
    since: Annotated[str, Query()] = "",
    until: Annotated[str, Query()] = "",
    limit: Annotated[int | None, Query()] = None,
) -> Response:
    """Sessions of one project, searched, filtered and sorted, one keyset page at a time:
    the JSON API's list (the same query and view), drawn as a table."""
    if (refused := denied(request)) is not None:
        return refused
    project, projects = pick_project(ctx, request)
    params = request.query_params
    one = {name: params.get(name) for name in _SINGLE}
    asked = list_query(
        tags=tuple(t.strip() for t in tag.split(",")),
        since=_day_or_time(since, "since"),
        until=_day_or_time(until, "until", end_of_day=True),
        models=params.getlist("model"),
        agents=params.getlist("agent"),
        metadata=params.getlist("metadata"),
        ids=params.getlist("id"),
        limit=limit,
        **one,
    )
    page_rows = (
        ctx.storage.session_page(project.id, asked.where, asked.order, asked.after, asked.limit + 1)
        if project
        else SessionPage([], {}, 0)
    )
    data = views.session_list(page_rows, asked.limit, asked.order)
    data["project_id"] = project.id if project else None
    filters = {name: params.get(name, "") for name in _FILTERS}
    keep = [(k, v) for k, v in params.multi_items() if k not in ("cursor", "format")]
    return page(
        request,
        "sessions.html",
        data,
        projects=projects,
        project=project,
        filters=filters,
        filtered=any(filters.values()),
        end_states=END_STATES,
        first_page=not asked.after,
        request_query=urlencode(keep),
        first_url=f"/sessions?{urlencode(keep)}",
        next_url=f"/sessions?{urlencode([*keep, ('cursor', data['next_cursor'] or '')])}",
        sort_urls=_sort_urls(keep, asked.order),
        base_url=ctx.settings.base_url,
    )


# Single-valued list parameters read as they are; those of the filter form shown back.
_SINGLE = (
    "end_state",
    "q",
    "has_errors",
    "min_cost",
    "max_cost",
    "min_duration",
    "max_duration",
    "user",
    "sort",
    "order",
    "cursor",
)
_FILTERS = (
    "tag",
    "since",
    "until",
    "model",
    "agent",
    *(name for name in _SINGLE if name not in ("sort", "order", "cursor")),
)


def _sort_urls(keep: list[tuple[str, str]], current: ListOrder) -> dict[str, str]:
    """Per sort key, the list sorted by it: descending first, the other way when it is
    the current sort (a click on a header toggles)."""
    rest = [(k, v) for k, v in keep if k not in ("sort", "order")]
    urls = {}
    for sort in SORTS:
        descending = not current.descending if sort == current.sort else True
        order = "desc" if descending else "asc"
        urls[sort] = f"/sessions?{urlencode([*rest, ('sort', sort), ('order', order)])}"
    return urls


@router.get("/sessions/{session_id}")
def session_page(request: Request, session_id: str, ctx: Context) -> Response:
    """One session: its header; session.js draws the tree from ``/sessions/{id}/tree`` and
    loads each event's details when it is selected. ``?format=json`` has every event.

    An id that is not a whole one is taken as the start of one (the header shows the first
    8 characters): a unique match redirects to it, several are listed; an unknown id gets
    a page that tells what ids look like and offers a search."""
    if (refused := denied(request)) is not None:
        return refused
    try:
        canonical = wire.parse_session_id(session_id, "session_id")
    except Unprocessable:
        return _short_id(request, ctx, session_id)
    project_id = ctx.storage.session_project(canonical)
    if wants_json(request):
        detail = ctx.storage.session_detail(project_id, canonical) if project_id else None
        if detail is None:
            return _missing(request, ctx, session_id, [])
        data = views.session_detail(*detail)
    else:
        row = ctx.storage.session(project_id, canonical, as_reader=True) if project_id else None
        if row is None:
            return _missing(request, ctx, session_id, [])
        data = views.session_detail(row, [], [])  # the header only: no events in the page
    projects = ctx.storage.list_projects()
    project = next((p for p in projects if p.id == project_id), None)
    return page(request, "session.html", data, projects=projects, project=project)


_SHORT_ID = re.compile(r"[0-9a-f][0-9a-f-]{3,35}")
_CANDIDATES = 20


def _short_id(request: Request, ctx: Context, given: str) -> Response:
    prefix = given.strip().lower()
    found = (
        ctx.storage.sessions_by_prefix(prefix, _CANDIDATES + 1)
        if _SHORT_ID.fullmatch(prefix)
        else []
    )
    if len(found) == 1:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/sessions/{found[0].id}{query}", status_code=303)
    return _missing(request, ctx, given, found)


def _missing(request: Request, ctx: Context, given: str, found: Sequence[Any]) -> Response:
    """404 (no session has that id or prefix) or 300 (several start with it): a page
    listing the candidates, what ids look like, and a search for the text."""
    candidates = [
        {
            "id": r.id,
            "project_id": r.project_id,
            "init_timestamp": views.iso(r.init_timestamp),
            "end_state": r.end_state,
        }
        for r in found[:_CANDIDATES]
    ]
    status = 300 if candidates else 404
    message = (
        f"several sessions start with {given[:60]!r}"
        if candidates
        else f"no session has the id {given[:60]!r}"
    )
    if wants_json(request) and not candidates:
        raise NotFound(message)
    data = {"message": message, "candidates": candidates, "more": len(found) > _CANDIDATES}
    return page(
        request,
        "session_missing.html",
        data,
        status=status,
        given=given[:200],
        search_url="/sessions?" + urlencode({"q": given[:200]}),
        projects=ctx.storage.list_projects(),
    )


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
    in the time zone ``tz`` (a name such as Europe/Berlin, or a UTC offset), by the hour up
    to 48 hours, else by the day; drawn by overview.js from the JSON."""
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
    session_rows: list[Any] = []
    llm_rows: list[Any] = []
    # One read per stretch of one UTC offset (a named zone's daylight saving time changes it):
    # a slot's number is its local hour or day, so the rows of one slot add up across them.
    if project is not None:
        for since, until, offset in window.segments():
            found = ctx.storage.overview(project.id, since, until, window.step_seconds, offset)
            session_rows += found[0]
            llm_rows += found[1]
    data = views.overview(window, session_rows, llm_rows)
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
