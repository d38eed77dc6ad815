"""Fault injection in front of the real server: transports that hold, refuse or record requests.

These wrap the in-process transport of :class:`agentwatch.server.testing.TestServer`;
everything they let through is answered by the real server.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections import Counter

import httpx
import orjson


class GatedTransport(httpx.BaseTransport):
    """Holds every request until :meth:`open` is called (a server that does not answer)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.seen: Counter[str] = Counter()

    def open(self) -> None:
        self.gate.set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen[request.url.path] += 1
        self.gate.wait()
        return self.inner.handle_request(request)


class RefusingTransport(httpx.BaseTransport):
    """Answers ``status`` on ``path`` while refusing is on; counts what reached the server."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        path: str,
        status: int,
        message: str,
        retry_after: str | None = None,
    ) -> None:
        self.inner = inner
        self.path = path
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.refuse_until = 0.0
        self.refuse_next = 0
        self.refused = 0
        self.passed: Counter[str] = Counter()
        self._lock = threading.Lock()

    def refuse_for(self, seconds: float) -> None:
        self.refuse_until = time.monotonic() + seconds

    def _should_refuse(self, request: httpx.Request) -> bool:
        if request.url.path != self.path:
            return False
        with self._lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return True
        return time.monotonic() < self.refuse_until

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._should_refuse(request):
            self.refused += 1
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            body = orjson.dumps({"path": self.path, "message": self.message})
            return httpx.Response(self.status, content=body, headers=headers)
        self.passed[request.url.path] += 1
        return self.inner.handle_request(request)


class RecordingTransport(httpx.BaseTransport):
    """Passes requests on; keeps (path, body size as sent, body size inflated) of each."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.sent: list[tuple[str, int, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        inflated = body
        if request.headers.get("content-encoding") == "gzip":
            inflated = zlib.decompress(body, wbits=31)
        self.sent.append((request.url.path, len(body), len(inflated)))
        return self.inner.handle_request(request)
