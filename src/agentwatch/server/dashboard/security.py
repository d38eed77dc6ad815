"""Dashboard login, login cookies, CSRF tokens and security headers.

A server bound to loopback only is reachable by this machine's users, who can read the
database anyway, so it needs no login (the Host check of :mod:`agentwatch.server.hosts`
keeps rebound web pages out). Bound to any other interface, the pages and their JSON ask
for the admin password. Checking it runs scrypt in a worker thread, at most two at once,
and failures are throttled per client (:mod:`.throttle`).

The login cookie carries a random token, its expiry and an HMAC of both (HttpOnly,
SameSite=Strict); the token's login is a database row (:mod:`.logins`) that logging out
deletes, so a copied cookie dies with the logout. Forms carry a CSRF token that is an HMAC
of the ``aw_csrf`` cookie's nonce and of the login: cookies do not isolate ports, so a page
on another local port can plant any ``aw_csrf`` cookie, but it cannot sign one.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from agentwatch.server.dashboard.logins import LoginStore, token_hash
from agentwatch.server.dashboard.throttle import LoginThrottle
from agentwatch.server.hosts import is_loopback

__all__ = [
    "CSP",
    "CSP_HEADER",
    "CSRF_COOKIE",
    "LOGIN_COOKIE",
    "AdminAuth",
    "hash_password",
    "is_loopback",
    "new_csrf_nonce",
    "verify_password",
]

LOGIN_COOKIE = "aw_login"
CSRF_COOKIE = "aw_csrf"
LOGIN_LIFETIME = 7 * 24 * 3600

# No inline script or style from anywhere: even text that slipped past escaping could
# not run. 'self' only, no CDN: the dashboard works offline.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
CSP_HEADER = "content-security-policy"

_CSP_NAME = CSP_HEADER.encode()

# scrypt at n=2**14, r=8: ~16 MiB and some tens of ms per check, as OWASP suggests.
_N, _R, _P = 2**14, 8, 1
# Password checks at once: each takes 16 MiB and a core; more would only queue on the CPU.
_CONCURRENT_CHECKS = 2


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64) of ``password``."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join(
        ["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)],
    )


def verify_password(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.strip().split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_csrf_nonce() -> str:
    """The value of a fresh ``aw_csrf`` cookie (forms carry its signed form)."""
    return secrets.token_urlsafe(24)


class AdminAuth:
    """Checks the admin password, keeps logins, and signs login cookies and CSRF tokens."""

    def __init__(
        self,
        required: bool,
        password_hash: str | None,
        secret: str,
        logins: LoginStore | None = None,
    ) -> None:
        """``logins`` is needed when ``required``: it is where logins live."""
        if required and logins is None:
            raise ValueError("a dashboard that asks for a login needs a LoginStore")
        self.required = required
        self.throttle = LoginThrottle()
        self._hash = password_hash
        self._logins = logins
        # A key of its own, derived from the JWT secret: a login cookie is never a JWT.
        self._key = hashlib.sha256(b"agentwatch-dashboard\0" + secret.encode()).digest()
        self._checks: anyio.CapacityLimiter | None = None

    @classmethod
    def create(
        cls, host: str, home: Path, env_password: str | None, secret: str, logins: LoginStore
    ) -> AdminAuth:
        """Set up for ``host``; on first non-loopback start, make and print a password."""
        if is_loopback(host):
            return cls(False, None, secret, logins)
        if env_password:
            return cls(True, hash_password(env_password), secret, logins)
        return cls(True, _load_or_create_hash(home), secret, logins)

    def check_password(self, password: str) -> bool:
        """Blocks for one scrypt (tens of ms of CPU): see :meth:`password_matches`."""
        return self._hash is not None and verify_password(self._hash, password)

    async def password_matches(self, password: str) -> bool:
        """:meth:`check_password` in a worker thread, at most two at once: the event loop
        (``/health``, ingest) never waits for scrypt."""
        if self._checks is None:
            self._checks = anyio.CapacityLimiter(_CONCURRENT_CHECKS)
        return await anyio.to_thread.run_sync(self.check_password, password, limiter=self._checks)

    def start_login(self, now: float | None = None) -> str:
        """A new login: stores it and returns its cookie value. Blocks (database)."""
        assert self._logins is not None
        token = secrets.token_urlsafe(32)
        expires = int((now or time.time()) + LOGIN_LIFETIME)
        self._logins.add(token, dt.datetime.fromtimestamp(expires, dt.timezone.utc))
        return f"{token}.{expires}.{self._sign(f'login|{token}|{expires}')}"

    def signed_token(self, cookie: str | None, now: float | None = None) -> str | None:
        """The token of a login cookie this server signed and that has not expired.

        No database: cheap enough to run on every request before its body is read. Whether
        the login still exists (no logout since) is :meth:`logged_in`'s question.
        """
        if not cookie or cookie.count(".") != 2:
            return None
        token, expires, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(f"login|{token}|{expires}")):
            return None
        if not expires.isdigit() or int(expires) <= (now or time.time()):
            return None
        return token

    def logged_in(self, cookie: str | None) -> bool:
        """True when no login is required or ``cookie`` is a live login. Blocks (database)."""
        if not self.required:
            return True
        token = self.signed_token(cookie)
        return token is not None and self._logins is not None and self._logins.is_active(token)

    def end_login(self, cookie: str | None) -> None:
        """Log out: the cookie's login is deleted, so no copy of it works. Blocks (database)."""
        token = self.signed_token(cookie)
        if token is not None and self._logins is not None:
            self._logins.remove(token)

    def csrf_token(self, nonce: str, login_cookie: str | None) -> str:
        """The token forms carry: bound to the ``aw_csrf`` nonce and to the login, if any."""
        token = self.signed_token(login_cookie)
        binding = token_hash(token) if token else ""
        return self._sign(f"csrf|{nonce}|{binding}")

    def csrf_ok(self, nonce: str | None, login_cookie: str | None, submitted: str | None) -> bool:
        """True when ``submitted`` is the token this server made for this nonce and login."""
        if not nonce or not submitted:
            return False
        return hmac.compare_digest(self.csrf_token(nonce, login_cookie), submitted)

    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode(), hashlib.sha256).digest())


def _load_or_create_hash(home: Path) -> str:
    path = home / "admin_password"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    password = secrets.token_urlsafe(18)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another server process on this home was first
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(hash_password(password) + "\n")
    # Shown once, like a new API key: only its hash is kept.
    with contextlib.suppress(OSError):
        print(
            f"agentwatch: dashboard admin password (shown once): {password}\n"
            f"  stored hashed in {path}; set AGENTWATCH_ADMIN_PASSWORD to choose your own",
            file=sys.stderr,
            flush=True,
        )
    return path.read_text(encoding="ascii").strip()


class SecurityHeadersMiddleware:
    """Adds CSP, nosniff, Referrer-Policy and framing headers to every response.

    Pure ASGI (not BaseHTTPMiddleware) so streamed bodies pass through untouched. A
    response that sets its own CSP keeps it (the API docs pages: a per-page style nonce).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        extra = _headers_for(path)

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                own_csp = any(name.lower() == _CSP_NAME for name, _ in headers)
                added = (h for h in extra if not (own_csp and h[0] == _CSP_NAME))
                message["headers"] = [*headers, *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _headers_for(path: str) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
        (_CSP_NAME, CSP.encode()),
    ]
    if not path.startswith("/static/"):
        # Pages show fresh data and, once, a new API key: never from a cache.
        headers.append((b"cache-control", b"no-store"))
    return headers
