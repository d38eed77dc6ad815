"""Credentials: project API keys and per-session JWTs.

API keys are random UUID4 strings (the agentops 0.3 SDK refuses any other form). A key
has 122 random bits, so one SHA-256 is enough to make a stolen database useless; the
plaintext is shown once and never stored. Lookups go by hash; the final comparison is
constant-time anyway so that no code path compares secrets byte by byte.

Session JWTs are HS256 (pinned: the algorithm in a token's header is never trusted),
carry ``session_id``, ``project_id``, ``api_key_id`` (the API key row that issued them, so
revoking the key revokes its tokens) and ``exp``, which is required and must be a JSON
number: PyJWT would take ``"exp": "99999999999"`` (it calls ``int()`` on the claim).

Project tokens (``POST /v3/auth/token``, which agentops 0.4 sends as Bearer on every OTLP
export) are the same kind of JWT with ``scope = "project"`` and no session: they write
into any session of their project, live :data:`PROJECT_TOKEN_LIFETIME` (agentops never
refreshes one) and are revoked with their key. Neither kind is accepted as the other.

OpenTelemetry clients present the project API key in whatever header their SDK fills:
:func:`presented_credentials` lists the candidates of a request, in the order tried.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from agentwatch.server.errors import BadRequest, Unauthorized

__all__ = [
    "PROJECT_TOKEN_LIFETIME",
    "ProjectClaims",
    "SessionClaims",
    "TokenSigner",
    "bearer_token",
    "hash_api_key",
    "keys_match",
    "load_or_create_secret",
    "new_api_key",
    "parse_api_key",
    "presented_credentials",
]

_ALGORITHM = "HS256"
_PREFIX_LEN = 8
PROJECT_TOKEN_LIFETIME = 365 * 24 * 3600
_PROJECT_SCOPE = "project"


def new_api_key() -> str:
    """A fresh API key (UUID4 text)."""
    return str(uuid.uuid4())


def hash_api_key(key: str) -> str:
    """The stored form of ``key``: hex SHA-256 of its canonical (lower-case) text."""
    return hashlib.sha256(key.lower().encode()).hexdigest()


def key_prefix(key: str) -> str:
    """The non-secret display form of a key: its first 8 characters."""
    return key.lower()[:_PREFIX_LEN]


def keys_match(stored_hash: str, presented: str) -> bool:
    """Constant-time check that ``presented`` hashes to ``stored_hash``."""
    return hmac.compare_digest(stored_hash, hash_api_key(presented))


def parse_api_key(raw: str | None) -> str:
    """Validate the ``X-Agentops-Api-Key`` header value and return it canonical.

    Raises :class:`Unauthorized` when missing, :class:`BadRequest` when it is not a UUID
    (AgentOps answers 400 "Invalid API key format" there too).
    """
    if raw is None or not raw.strip():
        raise Unauthorized("missing API key: send the X-Agentops-Api-Key header")
    try:
        return str(uuid.UUID(raw.strip()))
    except ValueError:
        raise BadRequest("Invalid API key format: a project API key is a UUID") from None


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; 401 when absent/malformed."""
    if authorization is None or not authorization.strip():
        raise Unauthorized("missing session token: send Authorization: Bearer <jwt>")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("malformed Authorization header: expected 'Bearer <jwt>'")
    return token.strip()


def presented_credentials(authorization: str | None, api_key: str | None) -> list[str]:
    """The credentials a request presents, in the order to try them: the
    ``X-Agentops-Api-Key`` header, then what ``Authorization`` carries — ``Bearer <key or
    token>``, a bare ``<key or token>`` (Logfire), or ``Basic`` with the key as user or as
    password (Langfuse's public/secret pair: either may be the key)."""
    found = [api_key.strip()] if api_key and api_key.strip() else []
    if not authorization or not authorization.strip():
        return found
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and rest.strip():
        found.append(rest.strip())
    elif scheme.lower() == "basic" and rest.strip():
        try:
            user, _, password = (
                base64.b64decode(rest.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return found
        found.extend(part.strip() for part in (user, password) if part.strip())
    elif not rest:
        found.append(scheme)
    return found


@dataclass(frozen=True)
class ProjectClaims:
    """What a verified project token says."""

    project_id: str
    key_id: str


@dataclass(frozen=True)
class SessionClaims:
    """What a verified session token says."""

    session_id: str
    project_id: str
    key_id: str | None
    expires_at: int


class TokenSigner:
    """Issues and verifies session JWTs with one secret."""

    def __init__(self, secret: str, lifetime: int, leeway: int = 10) -> None:
        """Raises ``ValueError`` for a secret shorter than HS256's 32 bytes (RFC 7518 §3.2)."""
        if len(secret.encode()) < 32:
            raise ValueError(
                "the JWT secret must be at least 32 bytes long (AGENTWATCH_JWT_SECRET)"
            )
        self._secret = secret
        self._lifetime = lifetime
        self._leeway = leeway

    def tag(self, purpose: str, data: str) -> str:
        """A MAC of ``data`` for ``purpose`` (URL-safe, 22 characters), so that an opaque
        value this server hands out (a cursor) can be told from a forged one."""
        mac = hmac.new(self._secret.encode(), f"{purpose}\0{data}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:16]).decode().rstrip("=")

    def issue(self, session_id: str, project_id: str, key_id: str | None) -> str:
        """A token for ``session_id`` valid for the configured lifetime."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "session_id": session_id,
            "project_id": project_id,
            "iat": now,
            "exp": now + self._lifetime,
        }
        if key_id is not None:
            claims["api_key_id"] = key_id
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def issue_project_token(self, project_id: str, key_id: str) -> str:
        """A project token (see the module docstring) for the key ``key_id``."""
        now = int(time.time())
        claims = {
            "scope": _PROJECT_SCOPE,
            "project_id": project_id,
            "api_key_id": key_id,
            "iat": now,
            "exp": now + PROJECT_TOKEN_LIFETIME,
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def _decode(self, token: str, required: tuple[str, ...]) -> dict[str, Any]:
        """The claims of a token signed by this server (HS256 only) that has not expired
        and carries ``required``; its times must be JSON numbers. Raises :class:`Unauthorized`."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                leeway=self._leeway,
                options={"require": list(required)},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("Expired Token") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"Invalid Token: {exc}") from None
        for name in ("exp", "iat", "nbf"):
            value = claims.get(name)
            if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise Unauthorized(f"Invalid Token: {name} must be a number (NumericDate)")
        return claims

    def verify_project_token(self, token: str) -> ProjectClaims:
        """Check a project token's signature, algorithm, expiry and scope.

        Raises :class:`Unauthorized`; a session token is not a project token.
        """
        claims = self._decode(token, ("exp", "scope", "project_id", "api_key_id"))
        project_id, key_id = claims.get("project_id"), claims.get("api_key_id")
        if claims.get("scope") != _PROJECT_SCOPE or not isinstance(project_id, str):
            raise Unauthorized("Invalid Token: not a project token")
        if not isinstance(key_id, str):
            raise Unauthorized("Invalid Token: api_key_id must be a string")
        return ProjectClaims(project_id, key_id)

    def verify(self, token: str) -> SessionClaims:
        """Check signature, algorithm and expiry. Raises :class:`Unauthorized`.

        An expired token's message is exactly ``"Expired Token"``: SDKs match on it to
        decide to refresh through ``/v2/reauthorize_jwt``.
        """
        claims = self._decode(token, ("exp", "session_id", "project_id"))
        session_id, project_id = claims.get("session_id"), claims.get("project_id")
        if not isinstance(session_id, str) or not isinstance(project_id, str):
            raise Unauthorized("Invalid Token: session_id and project_id must be strings")
        key_id = claims.get("api_key_id")
        return SessionClaims(
            session_id, project_id, key_id if isinstance(key_id, str) else None, int(claims["exp"])
        )


def load_or_create_secret(home: Path) -> str:
    """The JWT secret kept in ``home/jwt_secret``, created (mode 0600) on first use.

    Raises ``OSError`` when the home directory cannot be created or written.
    """
    path = home / "jwt_secret"
    if path.exists():
        return _read_secret(path)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Written to a private temp file then hard-linked into place: two servers starting on
    # one home at once end up sharing whichever secret got linked first, never a torn file.
    fd, tmp = tempfile.mkstemp(dir=home, prefix=".jwt_secret.")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    secret = path.read_text(encoding="ascii").strip()
    if not secret:
        raise OSError(f"{path} is empty; delete it or set AGENTWATCH_JWT_SECRET")
    return secret
