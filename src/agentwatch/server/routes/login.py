"""Dashboard login, and the projects and API keys page (the dashboard's only writes).

Every form posts a CSRF token that the server signed for the browser's ``aw_csrf`` nonce
and its login (see :mod:`agentwatch.server.dashboard.security`), so another site, or a
page on another local port, can neither log a browser in nor make or revoke keys. Form
bodies are parsed here (urlencoded only) to need no multipart library.

Routes that read a form are ``async``; what they do with the database (the login check,
the writes) runs in a worker thread, off the event loop.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from agentwatch.server.context import ServerContext, get_context
from agentwatch.server.dashboard.render import admin_auth, denied, page
from agentwatch.server.dashboard.security import CSRF_COOKIE, LOGIN_COOKIE, LOGIN_LIFETIME
from agentwatch.server.errors import error_response

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Context = Annotated[ServerContext, Depends(get_context)]
_MAX_FORM = 16 * 1024


async def _form(request: Request) -> dict[str, str] | None:
    """The form's fields, or None when its CSRF token is not the one this server signed."""
    body = await request.body()
    fields = {k: v[0] for k, v in parse_qs(body[:_MAX_FORM].decode("utf-8", "replace")).items()}
    nonce, login_cookie = request.cookies.get(CSRF_COOKIE), request.cookies.get(LOGIN_COOKIE)
    if not admin_auth(request).csrf_ok(nonce, login_cookie, fields.get("csrf")):
        return None
    return fields


async def _authorized_form(request: Request) -> dict[str, str] | Response:
    """The form of a visitor who may use the dashboard, or the answer refusing it."""
    if (refused := await run_in_threadpool(denied, request)) is not None:
        return refused
    fields = await _form(request)
    return _forbidden(request) if fields is None else fields


def _forbidden(request: Request) -> Response:
    message = "the form's CSRF token is missing or stale: reload the page and retry"
    return error_response(request.url.path, 403, message)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never ``//evil`` or ``https://evil``."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/sessions"


@router.get("/login")
def login_page(request: Request) -> Response:
    return page(request, "login.html", {"next": _safe_next(request.query_params.get("next"))})


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the password (throttled per client: 429 + Retry-After), then set the cookie."""
    fields = await _form(request)
    if fields is None:
        return _forbidden(request)
    auth = admin_auth(request)
    target = _safe_next(fields.get("next"))
    if not auth.required:
        return RedirectResponse(target, status_code=303)
    client = _client(request)
    wait = auth.throttle.begin(client)
    if wait is not None:
        error = f"Too many failed logins from {client}: try again in {wait} s."
        return _login_again(request, target, error, 429, {"Retry-After": str(wait)})
    if not await auth.password_matches(fields.get("password", "")):
        return _login_again(request, target, "Wrong password.", 401)
    auth.throttle.succeeded(client)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        LOGIN_COOKIE,
        await run_in_threadpool(auth.start_login),
        max_age=LOGIN_LIFETIME,
        httponly=True,
        samesite="strict",
        secure=request.app.state.secure_cookies,
        path="/",
    )
    return response


def _login_again(
    request: Request, target: str, error: str, status: int, headers: dict[str, str] | None = None
) -> Response:
    data = {"next": target, "error": error}
    return page(request, "login.html", data, status=status, headers=headers, show_nav=False)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the login server-side (a copy of the cookie stops working too), drop the cookie."""
    if await _form(request) is None:
        return _forbidden(request)
    await run_in_threadpool(admin_auth(request).end_login, request.cookies.get(LOGIN_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.get("/projects")
def projects_page(request: Request, ctx: Context) -> Response:
    if (refused := denied(request)) is not None:
        return refused
    return _projects(request, ctx)


def _projects(
    request: Request, ctx: Context, *, new_key: str | None = None, error: str | None = None
) -> Response:
    projects = ctx.storage.list_projects()
    keys = ctx.storage.list_api_keys()
    data = {
        "projects": [
            {
                "id": p.id,
                "name": p.name,
                "created_at": p.created_at.isoformat(),
                "keys": [
                    {
                        "id": k.id,
                        "prefix": k.prefix,
                        "created_at": k.created_at.isoformat(),
                        "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                    }
                    for k in keys
                    if k.project_id == p.id
                ],
            }
            for p in projects
        ],
        "new_key": new_key,
        "error": error,
    }
    return page(request, "projects.html", data, status=400 if error else 200)


@router.post("/projects")
async def create_project(request: Request, ctx: Context) -> Response:
    form = await _authorized_form(request)
    if isinstance(form, Response):
        return form
    return await run_in_threadpool(_create_project, request, ctx, form.get("name", "").strip())


def _create_project(request: Request, ctx: ServerContext, name: str) -> Response:
    if not name or len(name) > 200:
        return _projects(request, ctx, error="A project name has 1 to 200 characters.")
    try:
        project = ctx.storage.create_project(name)
    except ValueError as exc:
        return _projects(request, ctx, error=str(exc))
    key, _ = ctx.storage.create_api_key(project.id)
    return _projects(request, ctx, new_key=key)


@router.post("/projects/{project_id}/keys")
async def create_key(request: Request, project_id: str, ctx: Context) -> Response:
    form = await _authorized_form(request)
    if isinstance(form, Response):
        return form
    return await run_in_threadpool(_create_key, request, ctx, project_id)


def _create_key(request: Request, ctx: ServerContext, project_id: str) -> Response:
    if all(p.id != project_id for p in ctx.storage.list_projects()):
        return _projects(request, ctx, error="No such project.")
    key, _ = ctx.storage.create_api_key(project_id)
    # Answered directly, never through a redirect: the key must not land in a URL or log.
    return _projects(request, ctx, new_key=key)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str, ctx: Context) -> Response:
    form = await _authorized_form(request)
    if isinstance(form, Response):
        return form
    await run_in_threadpool(ctx.storage.revoke_api_key_id, key_id)
    return RedirectResponse("/projects", status_code=303)
