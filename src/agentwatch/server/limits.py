"""ASGI middleware that bounds what one process takes on: requests in flight, body sizes.

:class:`AdmissionMiddleware` checks a request's credentials before anything reads its
body, and sheds load with 503 + ``Retry-After`` once too many requests are being handled,
instead of queueing without bound (SDKs retry 503 with backoff, and ingest is idempotent,
so shedding loses nothing). A request without a credential that checks out never takes
one of the slots that authenticated ingest uses: the login form, unknown paths and the
like share a pool of their own, a few slots per client address. ``/health`` is exempt.

:class:`BodyLimitMiddleware` bounds request bodies in size and in time, and undoes
``Content-Encoding: gzip``. The size limit applies to the body the app will parse, i.e.
*after* decompression, and decompression stops as soon as it is crossed (a 100 KB gzip
bomb never inflates past the limit: CVE-2024-36129 in the OpenTelemetry collector was
exactly this). A declared ``Content-Length`` over the limit is refused before reading
anything. A body that has not fully arrived within ``timeout`` seconds is answered 408,
which frees the slot a trickling client held.

Every answer given here before the body is read says ``Connection: close``: the unread
rest of the body would otherwise be taken for the next request on that connection.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from agentwatch.server.errors import ServerError, error_body

__all__ = ["AdmissionMiddleware", "BodyLimitMiddleware", "Gate", "send_error"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# Who a request's credential belongs to, or None when it presents none that checks out;
# raises ServerError (401, 400, 503) when its route needs one and it is missing or bad.
Gate = Callable[[Scope], Awaitable[str | None]]


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Pool:
    """Slots in use, in total and per client address (only touched from the event loop)."""

    def __init__(self, capacity: int, per_client: int | None, what: str) -> None:
        self.capacity = capacity
        self.per_client = per_client
        self.what = what  # the requests it counts, for messages
        self.used = 0
        self.by_client: Counter[str] = Counter()

    def refusal(self, client: str) -> tuple[int, str] | None:
        """Why a request from ``client`` cannot have a slot now (status, text), or None."""
        if self.used >= self.capacity:
            return 503, f"server busy ({self.capacity} {self.what} in flight), retry later"
        if self.per_client is not None and self.by_client[client] >= self.per_client:
            return 429, f"{self.per_client} {self.what} in flight from {client}, retry later"
        return None

    def take(self, client: str) -> None:
        self.used += 1
        self.by_client[client] += 1

    def give_back(self, client: str) -> None:
        self.used -= 1
        self.by_client[client] -= 1
        if not self.by_client[client]:
            del self.by_client[client]


class AdmissionMiddleware:
    """Checks credentials (through ``gate``) and hands out slots, all before the body.

    Requests whose credential checks out share ``max_inflight`` slots; the others get
    ``max(1, max_inflight // 8)`` slots, at most ``max(1, max_inflight // 32)`` per client
    address, so unauthenticated uploads, however slow, never starve authenticated ingest.
    """

    def __init__(self, app: ASGIApp, gate: Gate, max_inflight: int) -> None:
        self.app = app
        self.gate = gate
        self.credentialed = _Pool(max_inflight, None, "requests")
        self.anonymous = _Pool(
            max(1, max_inflight // 8),
            max(1, max_inflight // 32),
            "requests without valid credentials",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _exempt(scope):
            await self.app(scope, receive, send)
            return
        try:
            owner = await self.gate(scope)
        except ServerError as refused:
            extra = [(k.lower().encode(), v.encode()) for k, v in (refused.headers or {}).items()]
            await send_error(scope, send, refused.status_code, refused.message, extra)
            return
        pool = self.anonymous if owner is None else self.credentialed
        client = _client(scope)
        refusal = pool.refusal(client)
        if refusal is not None:
            await send_error(scope, send, *refusal, [(b"retry-after", b"1")])
            return
        pool.take(client)
        try:
            await self.app(scope, receive, send)
        finally:
            pool.give_back(client)


def _exempt(scope: Scope) -> bool:
    """``/health``, and the dashboard's own files: a page loads a dozen scripts at once,
    without credentials on a loopback server, and a file read holds no body and no
    database connection."""
    path = scope.get("path", "")
    if path == "/health":
        return True
    return path.startswith("/static/") and scope.get("method") in ("GET", "HEAD")


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class BodyLimitMiddleware:
    """Reads the whole body (bounded in size and time), decompresses it, then calls the app."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        try:
            body = await self._read(headers, receive)
        except _Refused as refused:
            await send_error(scope, send, refused.status, refused.message)
            return
        await self.app(_with_plain_body(scope, len(body)), _replay(body, receive), send)

    async def _read(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        encoding = headers.get(b"content-encoding", b"identity").decode("latin-1").strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip"):
            raise _Refused(
                415, f"unsupported Content-Encoding {encoding!r} (accepted: gzip, identity)"
            )
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise _Refused(413, self._too_large())
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if "gzip" in encoding else None
        parts: list[bytes] = []
        size = received = 0
        more = True
        deadline = asyncio.get_running_loop().time() + self.timeout
        while more:
            message = await self._receive_by(deadline, receive)
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            received += len(chunk)
            if inflater is not None:
                chunk = self._inflate(inflater, chunk, size)
            size += len(chunk)
            if size > self.max_bytes:
                raise _Refused(413, self._too_large())
            parts.append(chunk)
        if inflater is not None and received and not inflater.eof:
            raise _Refused(400, "corrupt gzip body: the stream is truncated")
        return b"".join(parts)

    async def _receive_by(self, deadline: float, receive: Receive) -> Message:
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            return await asyncio.wait_for(receive(), max(remaining, 0))
        except asyncio.TimeoutError:
            raise _Refused(
                408,
                f"the request body did not arrive within {self.timeout:g} s "
                "(AGENTWATCH_BODY_TIMEOUT); send it faster or in smaller batches",
            ) from None

    def _inflate(self, inflater: Any, chunk: bytes, size: int) -> bytes:
        budget = self.max_bytes - size + 1
        try:
            out: bytes = inflater.decompress(chunk, budget)
        except zlib.error as exc:
            raise _Refused(400, f"corrupt gzip body: {exc}") from None
        if len(out) >= budget or inflater.unconsumed_tail:
            raise _Refused(413, self._too_large())
        return out

    def _too_large(self) -> str:
        return f"request body larger than {self.max_bytes} bytes (after decompression)"


def _with_plain_body(scope: Scope, length: int) -> Scope:
    headers = [
        (k, v)
        for k, v in scope.get("headers", [])
        if k.lower() not in (b"content-encoding", b"content-length")
    ]
    headers.append((b"content-length", str(length).encode()))
    if length and not any(k.lower() == b"content-type" for k, _ in headers):
        # Every body this API takes is JSON; without this FastAPI would not parse it.
        headers.append((b"content-type", b"application/json"))
    return {**scope, "headers": headers}


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def send_error(
    scope: Scope,
    send: Send,
    status: int,
    message: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Answer the protocol's error body (OTLP's on OTLP paths), and close the connection
    (its body is unread)."""
    request_type = dict(scope.get("headers", [])).get(b"content-type", b"").decode("latin-1")
    payload, media_type = error_body(scope.get("path", ""), request_type, status, message)
    headers = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
    ]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": payload})
