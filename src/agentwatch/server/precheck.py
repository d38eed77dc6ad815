"""Credentials checked cheaply before a request's body is read (the gate of admission).

A route that needs a session token (it depends on ``session_claims``), an API key (it
depends on ``api_key_owner``) or any project credential (``otlp_owner``: OpenTelemetry and
agentops 0.4 routes) is answered 401 at once when the token's signature or expiry is wrong,
or the key does not exist: its body is never read, so an unauthenticated upload holds
nothing however slowly it trickles. The route itself then checks everything again
(revocation, project match): this is a gate, not the authority.

Other routes (the login form, the dashboard) are never refused here; a credential they
present that checks out (an API key in any usual header form, a token, a signed login
cookie) puts them in the authenticated pool, anything else in the small pool of
:class:`agentwatch.server.limits.AdmissionMiddleware`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Literal

import anyio.to_thread
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.routing import BaseRoute, Match

from agentwatch.server import auth
from agentwatch.server.dashboard.security import LOGIN_COOKIE, AdminAuth
from agentwatch.server.errors import ServerError, ServiceUnavailable, Unauthorized
from agentwatch.server.limits import Scope
from agentwatch.server.routes.otlp import otlp_owner
from agentwatch.server.routes.v2 import api_key_owner, session_claims
from agentwatch.server.storage import Storage

__all__ = ["CredentialPrecheck"]

Need = Literal["api_key", "session_token", "any"]
_KEY_CACHE_SECONDS = 10.0
_KEY_CACHE_SIZE = 4096


class CredentialPrecheck:
    """``await precheck(scope)``: the owner of the request's credential, or None.

    Raises :class:`ServerError` (401, 400, or 503 when the database cannot say) for a route
    that needs a credential the request does not validly present. Never reads the body.
    """

    def __init__(
        self,
        routes: Sequence[BaseRoute],
        signer: auth.TokenSigner,
        storage: Storage,
        admin: AdminAuth,
    ) -> None:
        """``routes``: every route of the routers the app includes (their own paths)."""
        self._routes = routes
        self._signer = signer
        self._storage = storage
        self._admin = admin
        self._needs: list[tuple[APIRoute, Need]] | None = None
        # Keys seen to exist recently: SDK traffic is checked without a query. A key revoked
        # meanwhile only gets its body read; the route refuses it.
        self._known_keys: dict[str, tuple[str, float]] = {}

    async def __call__(self, scope: Scope) -> str | None:
        headers = {k.lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        need = self._need(scope)
        if need == "session_token":
            claims = self._signer.verify(auth.bearer_token(headers.get(b"authorization")))
            return claims.project_id
        if need == "api_key":
            raw = headers.get(b"x-agentops-api-key")
            if raw is None:  # a key in Authorization, should the route take one there too
                raw = next((c for c in _presented_keys(headers) if _is_uuid(c)), None)
            key = auth.parse_api_key(raw)
            owner = await self._key_owner(key)
            if owner is None:
                raise Unauthorized("Invalid API Key")
            return owner
        if need == "any":
            owner = await self._any_credential(headers, cookie=False)
            if owner is None:
                raise Unauthorized(
                    "missing or invalid credentials: send the project API key as "
                    "X-Agentops-Api-Key, Authorization: Bearer <key>, or Basic auth"
                )
            return owner
        return await self._any_credential(headers)

    def _need(self, scope: Scope) -> Need | None:
        if self._needs is None:  # at the first request: every route is registered by now
            self._needs = [
                (route, need)
                for route in self._routes
                if isinstance(route, APIRoute) and (need := _need_of(route.dependant)) is not None
            ]
        for route, need in self._needs:
            if route.matches(scope)[0] is Match.FULL:
                return need
        return None

    async def _any_credential(
        self, headers: dict[bytes, str], *, cookie: bool = True
    ) -> str | None:
        login = cookie and self._admin.required
        if login and self._admin.signed_token(_cookie(headers, LOGIN_COOKIE)):
            return "dashboard"
        for candidate in _presented_keys(headers):
            try:
                if candidate.count(".") == 2:
                    return self._token_project(candidate)
                owner = await self._key_owner(auth.parse_api_key(candidate))
            except ServerError:
                continue
            if owner is not None:
                return owner
        return None

    def _token_project(self, token: str) -> str:
        """The project of a session or project token with a valid signature and expiry."""
        try:
            return self._signer.verify(token).project_id
        except Unauthorized:
            return self._signer.verify_project_token(token).project_id

    async def _key_owner(self, key: str) -> str | None:
        """The project of an existing, unrevoked ``key``; the query runs in a worker thread."""
        digest = auth.hash_api_key(key)
        now = time.monotonic()
        known = self._known_keys.get(digest)
        if known is not None and known[1] > now:
            return known[0]
        try:
            owner = await anyio.to_thread.run_sync(self._storage.key_owner, key)
        except (OperationalError, InterfaceError, PoolTimeoutError):
            raise ServiceUnavailable("database unavailable, retry later") from None
        if owner is None:
            return None
        if len(self._known_keys) >= _KEY_CACHE_SIZE:
            self._known_keys.clear()
        self._known_keys[digest] = (owner.project_id, now + _KEY_CACHE_SECONDS)
        return owner.project_id


def _need_of(dependant: Dependant) -> Need | None:
    """Which credential a route's dependency tree asks for, if any."""
    for dependency in dependant.dependencies:
        if dependency.call is session_claims:
            return "session_token"
        if dependency.call is api_key_owner:
            return "api_key"
        if dependency.call is otlp_owner:
            return "any"
        found = _need_of(dependency)
        if found is not None:
            return found
    return None


def _presented_keys(headers: dict[bytes, str]) -> list[str]:
    return auth.presented_credentials(
        headers.get(b"authorization"), headers.get(b"x-agentops-api-key")
    )


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _cookie(headers: dict[bytes, str], name: str) -> str | None:
    for part in headers.get(b"cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None
