"""The ASGI application: ``create_app(settings)``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from agentwatch.server.auth import TokenSigner, load_or_create_secret
from agentwatch.server.context import ServerContext
from agentwatch.server.dashboard import STATIC_DIR, apidocs, render
from agentwatch.server.dashboard.logins import LoginStore
from agentwatch.server.dashboard.security import AdminAuth, SecurityHeadersMiddleware
from agentwatch.server.errors import ERROR_RESPONSES, install_error_handlers
from agentwatch.server.hosts import HostGuardMiddleware, HostPolicy
from agentwatch.server.limits import AdmissionMiddleware, BodyLimitMiddleware
from agentwatch.server.precheck import CredentialPrecheck
from agentwatch.server.pricing import PriceTable
from agentwatch.server.refusals import RefusalLogMiddleware
from agentwatch.server.routes import agentops4, api, dashboard, drilldown, login, otlp, v2
from agentwatch.server.settings import ServerSettings
from agentwatch.server.storage import Storage

__all__ = ["create_app"]

_DESCRIPTION = """Session observability for AI agents.

* `/v2/*` — the AgentOps v2 ingest protocol (API key, then a per-session JWT).
* `/api/*` — JSON read API, authenticated by the project API key in `X-Agentops-Api-Key`.
* `/v1/traces`, `/v1/logs`, `/v1/metrics` — OpenTelemetry OTLP/HTTP receiver (protobuf or JSON).
"""


def create_app(settings: ServerSettings | None = None, storage: Storage | None = None) -> FastAPI:
    """Build the app. Opens (and migrates) the database unless ``storage`` is given.

    A storage given by the caller stays the caller's to close; one opened here is
    closed when the app shuts down. Raises ``ValueError`` for a bad database URL or
    prices file and ``OSError`` when the JWT secret cannot be created in ``home``.
    """
    settings = settings or ServerSettings.load()
    prices = PriceTable.load(settings.prices_file)
    secret = settings.jwt_secret or load_or_create_secret(settings.home)
    owned = storage is None
    store = storage if storage is not None else Storage.open(settings.database_url)
    signer = TokenSigner(secret, settings.jwt_lifetime, settings.jwt_leeway)
    context = ServerContext(settings, store, signer, prices)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            store.close()

    # FastAPI's own docs pages load from a CDN (and are public): the apidocs router serves
    # them offline, behind the dashboard's login.
    app = FastAPI(
        title="agentwatch",
        description=_DESCRIPTION,
        version=_version(),
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    admin = AdminAuth.create(
        settings.host, settings.home, settings.admin_password, secret, LoginStore(store)
    )
    app.state.context = context
    app.state.admin_auth = admin
    app.state.secure_cookies = settings.base_url.startswith("https://")
    app.state.error_page = render.error_page  # errors a browser asked for, as pages
    install_error_handlers(app)
    # apidocs before /static: it serves /static/vendor/*.
    modules = (v2, otlp, agentops4, api, dashboard, login, apidocs)
    routers = [module.router for module in modules]
    routers += [drilldown.api_router, drilldown.page_router]
    for router in routers:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Each add_middleware wraps the previous ones, so a request meets them bottom-up:
    # headers on every answer; a foreign Host or Origin refused before anything else;
    # credentials checked and a slot taken before the body is read; then the body.
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout
    )
    routes = [route for router in routers for route in router.routes]
    precheck = CredentialPrecheck(routes, signer, store, admin)
    app.add_middleware(AdmissionMiddleware, gate=precheck, max_inflight=settings.max_inflight)
    app.add_middleware(HostGuardMiddleware, policy=HostPolicy.from_settings(settings))
    app.add_middleware(SecurityHeadersMiddleware)
    # Outside everything: it sees the refusals of the middleware too.
    app.add_middleware(RefusalLogMiddleware)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("agentwatch")
    except PackageNotFoundError:
        return "0"
