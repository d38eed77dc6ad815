"""Refused requests, logged so that an operator sees what clients get wrong.

"My exporter gets 404" must be visible on the server: every answer with a 4xx status,
and 429/503 when load is shed, is logged at WARNING with the method, path, status, the
error message the client got, its User-Agent and address. At most one line per
:attr:`RefusalLog.interval` for each (path, User-Agent); the next line says how many were
left out meanwhile. Paths and User-Agents are the client's to choose, so they are cut and
shown escaped (``%r``), and only the most recent :attr:`RefusalLog.max_keys` pairs are
remembered.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from agentwatch.server.limits import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RefusalLogMiddleware"]

logger = logging.getLogger("agentwatch.server.refusals")
_BODY_KEPT = 2048
_SHOWN = 200


class RefusalLogMiddleware:
    """ASGI middleware: logs refused requests, rate-limited per (path, User-Agent)."""

    def __init__(
        self,
        app: ASGIApp,
        interval: float = 60.0,
        max_keys: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.interval = interval
        self.max_keys = max_keys
        self.clock = clock
        # (path, user agent) -> (when last logged, refusals left out since). Event loop only.
        self._seen: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        body: list[bytes] = []

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and _refused(status):
                if sum(map(len, body)) < _BODY_KEPT:
                    body.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    self._log(scope, status, b"".join(body)[:_BODY_KEPT])
            await send(message)

        await self.app(scope, receive, watch)

    def _log(self, scope: Scope, status: int, body: bytes) -> None:
        headers = dict(scope.get("headers", []))
        agent = headers.get(b"user-agent", b"").decode("latin-1")[:_SHOWN]
        path = str(scope.get("path", ""))[:_SHOWN]
        key = (path, agent)
        now = self.clock()
        last, left_out = self._seen.pop(key, (None, 0))
        if last is not None and now - last < self.interval:
            self._seen[key] = (last, left_out + 1)
            return
        self._seen[key] = (now, 0)
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        client = scope.get("client")
        logger.warning(
            "refused %s %r: %d %r (user agent %r, client %s)%s",
            scope.get("method", "?"),
            path,
            status,
            _message(body, headers.get(b"content-type", b""))[:_SHOWN],
            agent,
            client[0] if client else "?",
            f"; {left_out} more like it since the last report" if left_out else "",
        )


def _refused(status: int) -> bool:
    return 400 <= status < 500 or status in (429, 503)


def _message(body: bytes, request_type: bytes) -> str:
    """The error message of an answer: the protocol's JSON, OTLP's Status, or the text."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for field in ("message", "detail"):
            if isinstance(parsed.get(field), str):
                return str(parsed[field])
    if b"protobuf" in request_type:
        from google.protobuf.message import DecodeError
        from google.rpc.status_pb2 import Status

        try:
            return str(Status.FromString(body).message)
        except DecodeError:
            pass
    return body.decode("utf-8", "replace")
