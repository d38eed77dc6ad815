"""Which ``Host`` a request may name, and which ``Origin`` may change state: DNS rebinding.

A page on ``attacker.example`` can re-resolve its own name to 127.0.0.1; the browser then
sends that page's requests to this server as ``Host: attacker.example:<port>`` and lets the
page read the answers, as same-origin. A loopback dashboard needs no login, so that page
could read every session and mint API keys. Refusing every ``Host`` that is not one of this
server's names defeats it: the rebound name is the attacker's, never ours.

Allowed: loopback names and addresses, the bind address (for a wildcard bind, any IP
address: an address literal cannot be rebound), the host of ``public_url``, and
``allowed_hosts`` (``*``: any; the default on a wildcard bind, where the dashboard asks for
a login and the browser keeps the login cookie for the name it was set on).

State-changing requests (POST, PUT, PATCH, DELETE) that carry an ``Origin`` must come from
this very origin (same host and port as ``Host``) or from ``public_url``'s: a page on
another local port shares our cookies (cookies do not isolate ports) but not our origin.
Requests with no ``Origin`` (SDKs, curl) pass; they hold no browser's cookies.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from agentwatch.server.limits import ASGIApp, Receive, Scope, Send, send_error
from agentwatch.server.settings import ServerSettings

__all__ = ["HostGuardMiddleware", "HostPolicy", "is_loopback", "split_host"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def split_host(value: str) -> tuple[str, int | None]:
    """``Host`` header text as (host, port): lower case, brackets and a final dot removed.

    ``port`` is None when absent or not a number (such a Host names nothing of ours).
    """
    text = value.strip().lower()
    port: int | None = None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:])
    elif text.count(":") == 1:
        host, _, raw_port = text.partition(":")
        port = _port(raw_port)
    else:  # a bare IPv6 address (not valid in a Host header, but unambiguous) or a name
        host = text
    return host.rstrip("."), port


def _port(text: str) -> int | None:
    return int(text) if text.isdigit() and int(text) <= 65535 else None


def _address(host: str) -> Address | None:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback(host: str) -> bool:
    """True when ``host`` (a name or address, brackets allowed) only reaches this machine.

    ``localhost`` and loopback addresses (127.0.0.0/8, ::1, ::ffff:127.x) are; a name that
    merely starts with ``127.`` (``127.evil.example``) is not.
    """
    name = host.strip().lower().rstrip(".")
    if name == "localhost":
        return True
    address = _address(name)
    return address is not None and address.is_loopback


class HostPolicy:
    """The names this server answers to (see the module docstring for the rule)."""

    def __init__(
        self, bind_host: str, public_url: str | None, allowed: Iterable[str] | None
    ) -> None:
        bind, _ = split_host(bind_host) if bind_host.startswith("[") else (bind_host, None)
        bind_address = _address(bind.lower())
        wildcard = bind.strip() == "" or (bind_address is not None and bind_address.is_unspecified)
        listed = {"*" if h == "*" else split_host(h)[0] for h in allowed or ()}
        extra = listed if allowed is not None else ({"*"} if wildcard else set())
        self.any_host = "*" in extra
        self.any_address = wildcard
        self.bind_address = bind_address
        self.public_origin = _origin(public_url) if public_url else None
        self.names = {"localhost", bind.strip().lower().rstrip(".")} | extra
        if self.public_origin is not None:
            self.names.add(self.public_origin[1])

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> HostPolicy:
        return cls(settings.host, settings.public_url, settings.allowed_hosts)

    def allows(self, host_header: str) -> bool:
        """True when a request naming ``host_header`` (``host[:port]``) is for this server."""
        host, _ = split_host(host_header)
        if self.any_host or host in self.names:
            return True
        address = _address(host)
        if address is None:
            return False
        return self.any_address or address.is_loopback or address == self.bind_address

    def origin_allowed(self, origin: str, host_header: str | None) -> bool:
        """True when a browser page of ``origin`` may change state on this server.

        Same origin as the request (``Host``), or ``public_url``'s origin; ``null`` (sandboxed
        frames, ``file:`` pages) never.
        """
        parsed = _origin(origin)
        if parsed is None:
            return False
        if parsed == self.public_origin:
            return True
        if host_header is None or not self.allows(host_header):
            return False
        host, port = split_host(host_header)
        scheme, origin_host, origin_port = parsed
        return origin_host == host and origin_port == (port or _DEFAULT_PORTS[scheme])


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) origin or URL; None for anything else."""
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.rstrip("."), port or _DEFAULT_PORTS[parts.scheme]


class HostGuardMiddleware:
    """Refuses a foreign ``Host`` (400) and a cross-origin state change (403), both unread."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hosts = [v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"host"]
        refused = next((h for h in hosts if not self.policy.allows(h)), None)
        if refused is not None:
            message = (
                f"Host {refused!r} is not a name of this server, so the request is refused "
                "(DNS rebinding protection); if it is one, add it to AGENTWATCH_ALLOWED_HOSTS"
            )
            await send_error(scope, send, 400, message)
            return
        origin = _header(scope, b"origin")
        if (
            origin is not None
            and scope.get("method", "GET") in _STATE_CHANGING
            and not self.policy.origin_allowed(origin, hosts[0] if hosts else None)
        ):
            message = (
                f"cross-origin {scope['method']} from Origin {origin!r} refused: changes must "
                "come from this server's own pages, or carry no Origin (SDKs)"
            )
            await send_error(scope, send, 403, message)
            return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            text: str = value.decode("latin-1")
            return text
    return None
