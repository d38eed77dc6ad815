"""Dashboard login, signed cookies, CSRF tokens and security headers.

A server bound to loopback only is reachable by this machine's users, who can read the
database anyway, so it needs no login. Bound to any other interface, the pages and their
JSON ask for the admin password. The login cookie is an HMAC-signed expiry (no server
state), HttpOnly and SameSite=Strict; forms carry a double-submit CSRF token.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

__all__ = [
    "CSP",
    "CSP_HEADER",
    "CSRF_COOKIE",
    "LOGIN_COOKIE",
    "AdminAuth",
    "hash_password",
    "is_loopback",
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

_LOOPBACK = {"127.0.0.1", "::1", "localhost", "[::1]"}

# scrypt at n=2**14, r=8: ~16 MiB and some tens of ms per check, as OWASP suggests.
_N, _R, _P = 2**14, 8, 1


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    return host.strip().lower() in _LOOPBACK or host.startswith("127.")


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


class AdminAuth:
    """Checks the admin password and signs/verifies login cookies."""

    def __init__(self, required: bool, password_hash: str | None, secret: str) -> None:
        self.required = required
        self._hash = password_hash
        # A key of its own, derived from the JWT secret: a login cookie is never a JWT.
        self._key = hashlib.sha256(b"agentwatch-dashboard\0" + secret.encode()).digest()

    @classmethod
    def create(cls, host: str, home: Path, env_password: str | None, secret: str) -> AdminAuth:
        """Set up for ``host``; on first non-loopback start, make and print a password."""
        if is_loopback(host):
            return cls(False, None, secret)
        if env_password:
            return cls(True, hash_password(env_password), secret)
        return cls(True, _load_or_create_hash(home), secret)

    def check_password(self, password: str) -> bool:
        return self._hash is not None and verify_password(self._hash, password)

    def login_cookie(self, now: float | None = None) -> str:
        expires = int((now or time.time()) + LOGIN_LIFETIME)
        return f"{expires}.{self._sign(f'login|{expires}')}"

    def logged_in(self, cookie: str | None, now: float | None = None) -> bool:
        if not self.required:
            return True
        if not cookie or "." not in cookie:
            return False
        expires, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature, self._sign(f"login|{expires}")):
            return False
        try:
            return int(expires) > (now or time.time())
        except ValueError:
            return False

    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode(), hashlib.sha256).digest())


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(cookie: str | None, submitted: str | None) -> bool:
    """Double submit: the form's token equals the SameSite=Strict cookie's."""
    return bool(cookie and submitted) and hmac.compare_digest(str(cookie), str(submitted))


def _load_or_create_hash(home: Path) -> str:
    path = home / "admin_password"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    password = secrets.token_urlsafe(18)
    home.mkdir(parents=True, exist_ok=True)
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
