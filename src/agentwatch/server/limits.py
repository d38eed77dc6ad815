"""ASGI middleware that bounds what one process takes on: requests in flight, body sizes.

:class:`InflightLimitMiddleware` sheds load with 503 + ``Retry-After`` once too many
requests are being handled, instead of queueing without bound (SDKs retry 503 with
backoff, and ingest is idempotent, so shedding loses nothing). ``/health`` is exempt.

:class:`BodyLimitMiddleware` bounds request bodies and undoes ``Content-Encoding: gzip``.

The limit applies to the body the app will parse, i.e. *after* decompression, and
decompression stops as soon as it is crossed (a 100 KB gzip bomb never inflates past the
limit: CVE-2024-36129 in the OpenTelemetry collector was exactly this). A declared
``Content-Length`` over the limit is refused before reading anything.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from agentwatch.server.errors import error_body

__all__ = ["BodyLimitMiddleware", "InflightLimitMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class InflightLimitMiddleware:
    """Answers 503 while ``max_inflight`` HTTP requests are already being handled."""

    def __init__(self, app: ASGIApp, max_inflight: int) -> None:
        self.app = app
        self.max_inflight = max_inflight
        # Only touched from the event loop thread: no lock needed.
        self.inflight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == "/health":
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.max_inflight:
            message = f"server busy ({self.max_inflight} requests in flight), retry later"
            await _send_error(scope, send, 503, message, [(b"retry-after", b"1")])
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1


class BodyLimitMiddleware:
    """Reads the whole body (bounded), decompresses it, then calls the app with it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        try:
            body = await self._read(headers, receive)
        except _Refused as refused:
            await _send_error(scope, send, refused.status, refused.message)
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
        while more:
            message = await receive()
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


async def _send_error(
    scope: Scope,
    send: Send,
    status: int,
    message: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    request_type = dict(scope.get("headers", [])).get(b"content-type", b"").decode("latin-1")
    payload, media_type = error_body(scope.get("path", ""), request_type, status, message)
    headers = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": payload})
