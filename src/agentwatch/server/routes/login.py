"""Dashboard login, and the projects and API keys page (the dashboard's only writes).

Every form posts a CSRF token that must equal the SameSite=Strict ``aw_csrf`` cookie
(double submit), so another site can neither log a browser in nor make or revoke keys.
Form bodies are parsed here (urlencoded only) to need no multipart library.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from agentwatch.server.context import ServerContext, get_context
from agentwatch.server.dashboard.render import denied, page
from agentwatch.server.dashboard.security import (
    CSRF_COOKIE,
    LOGIN_COOKIE,
    LOGIN_LIFETIME,
    AdminAuth,
    csrf_ok,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Context = Annotated[ServerContext, Depends(get_context)]
_MAX_FORM = 16 * 1024


async def _form(request: Request) -> dict[str, str] | None:
    """The form's fields, or None when its CSRF token does not match the cookie."""
    body = await request.body()
    fields = {k: v[0] for k, v in parse_qs(body[:_MAX_FORM].decode("utf-8", "replace")).items()}
    if not csrf_ok(request.cookies.get(CSRF_COOKIE), fields.get("csrf")):
        return None
    return fields


def _forbidden() -> Response:
    return JSONResponse(
        {"detail": "the form's CSRF token is missing or stale: reload the page and retry"},
        status_code=403,
    )


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
    fields = await _form(request)
    if fields is None:
        return _forbidden()
    auth: AdminAuth = request.app.state.admin_auth
    target = _safe_next(fields.get("next"))
    if not auth.required:
        return RedirectResponse(target, status_code=303)
    if not auth.check_password(fields.get("password", "")):
        data = {"next": target, "error": "Wrong password."}
        return page(request, "login.html", data, status=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        LOGIN_COOKIE,
        auth.login_cookie(),
        max_age=LOGIN_LIFETIME,
        httponly=True,
        samesite="strict",
        secure=request.app.state.secure_cookies,
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    if await _form(request) is None:
        return _forbidden()
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
    if (refused := denied(request)) is not None:
        return refused
    fields = await _form(request)
    if fields is None:
        return _forbidden()
    name = fields.get("name", "").strip()
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
    if (refused := denied(request)) is not None:
        return refused
    if await _form(request) is None:
        return _forbidden()
    if all(p.id != project_id for p in ctx.storage.list_projects()):
        return _projects(request, ctx, error="No such project.")
    key, _ = ctx.storage.create_api_key(project_id)
    # Answered directly, never through a redirect: the key must not land in a URL or log.
    return _projects(request, ctx, new_key=key)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str, ctx: Context) -> Response:
    if (refused := denied(request)) is not None:
        return refused
    if await _form(request) is None:
        return _forbidden()
    ctx.storage.revoke_api_key_id(key_id)
    return RedirectResponse("/projects", status_code=303)
