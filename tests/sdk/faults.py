"""Fault injection: transports in front of the real server that hold, refuse or record
requests, and a real socket that never answers.

The transports wrap the in-process transport of
:class:`agentwatch.server.testing.TestServer`; everything they let through is answered
by the real server.
"""

from __future__ import annotations

import contextlib
import socket
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


class BlackHole:
    """A TCP server that accepts connections, reads what is sent and never answers.

    Connections stay open until :meth:`close` (the client's read blocks until its own
    timeout): a server that hangs, as opposed to one that refuses or resets.
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self._sock.settimeout(0.05)
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self.received = 0  # bytes read from all connections
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> BlackHole:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._held:
            conn.close()
        self._sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                conn, _ = self._sock.accept()
                conn.setblocking(False)
                self._held.append(conn)
            for conn in self._held:
                with contextlib.suppress(BlockingIOError, OSError):
                    self.received += len(conn.recv(65536))


class TimingTransport(httpx.BaseTransport):
    """Lets every request through after ``delay`` seconds on ``path`` (a server busy with
    each), noting when each request began and ended and how many were in progress."""

    def __init__(self, inner: httpx.BaseTransport, *, path: str, delay: float) -> None:
        self.inner = inner
        self.path = path
        self.delay = delay
        self.requests: list[tuple[str, float, float]] = []  # (path, began, ended)
        self.most_at_once = 0
        self._now = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        began = time.monotonic()
        with self._lock:
            self._now += 1
            self.most_at_once = max(self.most_at_once, self._now)
        try:
            if request.url.path == self.path:
                time.sleep(self.delay)
            return self.inner.handle_request(request)
        finally:
            with self._lock:
                self._now -= 1
                self.requests.append((request.url.path, began, time.monotonic()))
