"""The API documentation (``/docs``, ``/redoc``, ``/openapi.json``), behind the dashboard login.

FastAPI's own docs routes are turned off in ``create_app``: they would be public even when
the dashboard asks for a login. These answer the same pages once the visitor may see the
dashboard (always, on a loopback server).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import JSONResponse, Response

from agentwatch.server.dashboard.render import denied

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_OPENAPI_URL = "/openapi.json"
_OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


@router.get(_OPENAPI_URL)
def openapi(request: Request) -> Response:
    if (refused := denied(request, as_json=True)) is not None:
        return refused
    return JSONResponse(request.app.openapi())


@router.get("/docs")
def swagger_ui(request: Request) -> Response:
    if (refused := denied(request)) is not None:
        return refused
    return get_swagger_ui_html(
        openapi_url=_OPENAPI_URL,
        title=f"{request.app.title} - API docs",
        oauth2_redirect_url=_OAUTH2_REDIRECT_URL,
    )


@router.get(_OAUTH2_REDIRECT_URL)
def swagger_ui_redirect() -> Response:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
def redoc(request: Request) -> Response:
    if (refused := denied(request)) is not None:
        return refused
    return get_redoc_html(openapi_url=_OPENAPI_URL, title=f"{request.app.title} - ReDoc")
