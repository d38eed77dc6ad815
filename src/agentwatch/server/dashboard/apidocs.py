"""The API reference pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served offline.

FastAPI's own pages load both from a CDN and start them with inline script. These pages
load the upstream release files that the ``fastapi-offline`` package ships, from this
server, and start them from our own static scripts, so they work with no network and
under a CSP without inline script.

Every docs route is in :data:`router`, the schema (``/openapi.json``) included, and the
pages and the schema are behind the dashboard login (when it asks for one): the schema
answers 401, the pages redirect to ``/login``. The release files themselves are public
code and need no guard.
"""

from __future__ import annotations

import secrets
from importlib.util import find_spec
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from agentwatch.server.dashboard.render import denied, render_html
from agentwatch.server.dashboard.security import CSP, CSP_HEADER
from agentwatch.server.errors import NotFound

__all__ = ["ASSET_PREFIX", "router", "vendor_dir"]

ASSET_PREFIX = "/static/vendor/"
# The release files served, by the name the pages ask for.
_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js")

router = APIRouter(include_in_schema=False)


def vendor_dir() -> Path:
    """Where the installed ``fastapi-offline`` keeps the Swagger UI and ReDoc releases.

    Found without importing the package (its import pulls in nothing we use). Raises
    ``RuntimeError`` when it is not installed: it is a dependency of the server extra.
    """
    spec = find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fastapi-offline is not installed (pip install 'agentwatch[server]')")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def redoc_csp(style_nonce: str) -> str:
    """The dashboard's CSP plus what ReDoc needs, on its page only; script stays 'self'.

    ReDoc adds ``<style>`` elements at run time (styled-components), stamped with the
    nonce its ``nonce`` option gives, and runs its search index in a worker made from a
    ``blob:`` URL by its own script. Two things stay blocked, and ReDoc works without
    them: the scrollbar sheet its bundle inserts while loading (before the nonce is
    known) and the Redocly logo it loads from the vendor's CDN.
    """
    strict = CSP.replace("style-src 'self'", f"style-src 'self' 'nonce-{style_nonce}'")
    return f"{strict}; worker-src blob:"


@router.get("/openapi.json")
def openapi_schema(request: Request) -> Response:
    if (refused := denied(request, as_json=True)) is not None:
        return refused
    return JSONResponse(request.app.openapi())


@router.get("/docs")
def swagger_ui(request: Request) -> Response:
    """Swagger UI over this server's OpenAPI schema."""
    return denied(request) or _page(request, "swagger")


@router.get("/redoc")
def redoc(request: Request) -> Response:
    """ReDoc over this server's OpenAPI schema."""
    return denied(request) or _page(request, "redoc")


@router.get(ASSET_PREFIX + "{name}")
def vendor_asset(name: str) -> Response:
    """One of the release files, by its exact name (nothing else under the directory)."""
    if name not in _ASSETS:
        raise NotFound(f"no such file: {ASSET_PREFIX}{name}")
    return FileResponse(vendor_dir() / name)


def _page(request: Request, viewer: str) -> Response:
    """Swagger UI runs under the dashboard's CSP as it is (the middleware adds it)."""
    nonce = secrets.token_urlsafe(18)
    html = render_html(
        "apidocs.html",
        viewer=viewer,
        title=f"{request.app.title} API",
        schema_url="/openapi.json",
        assets=ASSET_PREFIX,
        style_nonce=nonce,
    )
    headers = {CSP_HEADER: redoc_csp(nonce)} if viewer == "redoc" else None
    return HTMLResponse(html, headers=headers)
