"""The ASGI application: ``create_app(settings)``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from agentwatch.server.auth import TokenSigner, load_or_create_secret
from agentwatch.server.context import ServerContext
from agentwatch.server.dashboard import STATIC_DIR
from agentwatch.server.dashboard.security import AdminAuth, SecurityHeadersMiddleware
from agentwatch.server.errors import install_error_handlers
from agentwatch.server.limits import BodyLimitMiddleware, InflightLimitMiddleware
from agentwatch.server.pricing import PriceTable
from agentwatch.server.refusals import RefusalLogMiddleware
from agentwatch.server.routes import agentops4, api, dashboard, login, otlp, v2
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
    context = ServerContext(
        settings, store, TokenSigner(secret, settings.jwt_lifetime, settings.jwt_leeway), prices
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            store.close()

    app = FastAPI(
        title="agentwatch", description=_DESCRIPTION, version=_version(), lifespan=lifespan
    )
    app.state.context = context
    app.state.admin_auth = AdminAuth.create(
        settings.host, settings.home, settings.admin_password, secret
    )
    app.state.secure_cookies = settings.base_url.startswith("https://")
    install_error_handlers(app)
    app.include_router(v2.router)
    app.include_router(otlp.router)
    app.include_router(agentops4.router)
    app.include_router(api.router)
    app.include_router(dashboard.router)
    app.include_router(login.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Added last, so outermost: a slow upload holds its slot while its body arrives.
    app.add_middleware(InflightLimitMiddleware, max_inflight=settings.max_inflight)
    # Outside everything: it sees the refusals of the middleware too.
    app.add_middleware(RefusalLogMiddleware)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("agentwatch")
    except PackageNotFoundError:
        return "0"
