"""Page rendering: one Jinja2 environment (autoescape always on), filters, and the
helpers every dashboard route shares (login check, CSRF cookie, JSON-or-HTML answer).

The login check asks the database (logins end server-side), so :func:`denied` and
:func:`logged_in` block: call them from plain ``def`` routes or a worker thread."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from agentwatch.server.context import ServerContext
from agentwatch.server.dashboard import TEMPLATE_DIR
from agentwatch.server.dashboard.security import (
    CSRF_COOKIE,
    LOGIN_COOKIE,
    AdminAuth,
    new_csrf_nonce,
)
from agentwatch.server.errors import error_response
from agentwatch.server.storage.records import Project

__all__ = [
    "admin_auth",
    "denied",
    "logged_in",
    "page",
    "pick_project",
    "render_html",
    "wants_json",
]

# Autoescape for every template, whatever its name: everything shown may come from an LLM.
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


# One format for durations and costs on every page; static/format.js writes the same.
def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "\u2013"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days:,}d {hours:02d}h"


def _money(value: float | None) -> str:
    """US dollars to 4 decimals (a tenth of a cent: LLM calls cost fractions of one)."""
    if value is None:
        return "unknown"  # no price known: never shown as $0
    if 0 < value < 0.00005:
        return "<$0.0001"
    return f"${value:,.4f}"


def _cost_total(value: float | None, unpriced: int = 0) -> str:
    """A total's cost with the LLM calls it leaves out (format.js costTotal mirrors it):
    "$0.0120", "$0.0120 + 2 unpriced calls", "unknown (2 unpriced calls)"."""
    if not unpriced:
        return _money(value)
    calls = f"{unpriced:,} unpriced call{'' if unpriced == 1 else 's'}"
    return f"unknown ({calls})" if value is None else f"{_money(value)} + {calls}"


def _when(value: str | None) -> str:
    if not value:
        return "\u2013"
    return dt.datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")


def _number(value: int | None) -> str:
    return "\u2013" if value is None else f"{value:,}"


def _clip(value: Any, length: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= length else text[: length - 1] + "…"


def _dropped_text(counts: dict[str, int]) -> str:
    """The line under a session's stats when its SDK lost events (session.js mirrors it)."""
    total = sum(counts.values())
    if not total:
        return ""
    parts = ", ".join(f"{reason} {count:,}" for reason, count in sorted(counts.items()) if count)
    noun = "event" if total == 1 else "events"
    return f"{total:,} {noun} never reached the server (counted by the SDK: {parts})"


_ENV.filters.update(
    duration=_duration,
    money=_money,
    cost_total=_cost_total,
    when=_when,
    number=_number,
    clip=_clip,
    dropped_text=_dropped_text,
)


def render_html(template: str, **context: Any) -> str:
    """``template`` rendered with ``context`` (autoescaped, undefined names raise)."""
    return _ENV.get_template(template).render(**context)


def admin_auth(request: Request) -> AdminAuth:
    auth = request.app.state.admin_auth
    assert isinstance(auth, AdminAuth)
    return auth


def logged_in(request: Request) -> bool:
    """True when the visitor may see the dashboard. Blocks (database)."""
    return admin_auth(request).logged_in(request.cookies.get(LOGIN_COOKIE))


def wants_json(request: Request) -> bool:
    return request.query_params.get("format") == "json"


def denied(request: Request, *, as_json: bool = False) -> Response | None:
    """None when the visitor may see the dashboard, else what to answer instead: a 401
    for JSON (``?format=json`` or ``as_json``), else a redirect to the login page. Blocks."""
    if logged_in(request):
        return None
    if as_json or wants_json(request):
        return error_response(request.url.path, 401, "log in to the dashboard first (/login)")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def page(
    request: Request,
    template: str,
    data: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """``data`` as JSON for ``?format=json``, else rendered by ``template``.

    Asks the database whether the visitor is logged in (for the navigation) unless
    ``show_nav`` is given: pass it from async code."""
    if wants_json(request):
        return JSONResponse(data, status_code=status, headers=headers)
    nonce = request.cookies.get(CSRF_COOKIE) or new_csrf_nonce()
    auth = admin_auth(request)
    login_cookie = request.cookies.get(LOGIN_COOKIE)
    extra.setdefault("project", None)
    extra.setdefault("projects", [])
    extra.setdefault("show_nav", auth.logged_in(login_cookie))
    html = render_html(
        template,
        data=data,
        csrf=auth.csrf_token(nonce, login_cookie),
        login_required=auth.required,
        path=request.url.path,
        **extra,
    )
    response = HTMLResponse(html, status_code=status, headers=headers)
    if request.cookies.get(CSRF_COOKIE) != nonce:
        response.set_cookie(
            CSRF_COOKIE,
            nonce,
            httponly=True,
            samesite="strict",
            secure=request.app.state.secure_cookies,
            path="/",
        )
    return response


def pick_project(ctx: ServerContext, request: Request) -> tuple[Project | None, list[Project]]:
    """The project chosen by ``?project=`` (default: the first one), and all projects."""
    projects = ctx.storage.list_projects()
    wanted = request.query_params.get("project")
    chosen = next((p for p in projects if p.id == wanted), None)
    return chosen or (projects[0] if projects else None), projects


_ERROR_TITLES = {
    400: "That request is not one the dashboard understands",
    401: "Log in first",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    408: "The request took too long",
    413: "Too large",
    422: "That request is not one the dashboard understands",
    429: "Too many requests",
}


def error_page(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None
) -> Response:
    """An error answered to a browser as a page of the dashboard (the message says what
    was wrong; ``?format=json`` gives the JSON error). Runs in the exception handlers,
    on the event loop: no database question for the navigation."""
    title = _ERROR_TITLES.get(status, "Something went wrong" if status >= 500 else "Refused")
    data = {"status": status, "title": title, "message": message}
    return page(
        request, "error.html", data, status=status, headers=dict(headers or {}), show_nav=False
    )
