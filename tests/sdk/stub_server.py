"""A scriptable v2 server for testing the SDK's HTTP layer over real sockets.

:class:`StubApp` is a plain ASGI app answering the routes ``SessionApiClient`` calls,
like the real server does by default (JWTs with an ``exp`` claim, ``401 Expired Token``
for a token marked expired), and it can be told to answer a scripted sequence first
(503s, 429 with ``Retry-After``, slow answers, answers cut off mid-body). It records every
request it receives. :func:`serve` runs it under uvicorn on a free 127.0.0.1 port;
:class:`HangUpServer` accepts connections and closes them without answering.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn

Scope = Mapping[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JWT_ROUTES = ("/v2/update_session", "/v2/create_events", "/v2/create_agent")


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``body=None`` answers what the route answers by default."""

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    cut: bool = False  # send the headers and part of the body, then drop the connection


@dataclass(frozen=True)
class Received:
    """One request as the stub saw it, with the status it answered."""

    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.monotonic() on arrival
    peer: tuple[str, int]
    status: int

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


class StubApp:
    """The v2 routes used by the SDK; thread-safe to script and inspect from tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._serial = itertools.count()
        self.reset()

    def reset(self) -> None:
        """Forget scripts, expired tokens and received requests."""
        with self._lock:
            self._scripts: dict[str, deque[Reply]] = {}
            self._received: list[Received] = []
            self._expired: set[str] = set()

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` with ``replies``, then as usual."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(replies)

    def expire(self, jwt: str) -> None:
        """From now on, requests carrying ``jwt`` get ``401 Expired Token``."""
        with self._lock:
            self._expired.add(jwt)

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._received if path is None or r.path == path]

    def issue_jwt(self, session_id: str, *, lifetime: float = 3600.0) -> str:
        """An unsigned token shaped like the server's: header.claims.signature."""
        # A fractional exp is a valid NumericDate (RFC 7519) and allows sub-second lifetimes.
        claims = {"session_id": session_id, "exp": time.time() + lifetime, "n": next(self._serial)}
        return ".".join(
            base64.urlsafe_b64encode(part).rstrip(b"=").decode()
            for part in (b'{"alg":"HS256","typ":"JWT"}', orjson.dumps(claims), b"signature")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = await _read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        reply = self._next_reply(path, headers, body)
        with self._lock:
            self._received.append(
                Received(
                    path, headers, body, time.monotonic(), tuple(scope["client"]), reply.status
                )
            )
        if reply.delay:
            await asyncio.sleep(reply.delay)
        await _answer(send, reply)

    def _next_reply(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        with self._lock:
            script = self._scripts.get(path)
            scripted = script.popleft() if script else None
        default = self._default(path, headers, body)
        if scripted is None:
            return default
        if scripted.body is None and scripted.status == 200:
            return Reply(200, default.body, scripted.headers, scripted.delay, scripted.cut)
        return scripted

    def _default(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if path == "/v2/create_session":
            session_id = orjson.loads(body)["session"]["session_id"]
            url = f"http://stub/sessions/{session_id}"
            return Reply(
                body={"status": "Success", "jwt": self.issue_jwt(session_id), "session_url": url}
            )
        if path == "/v2/reauthorize_jwt":
            session_id = orjson.loads(body)["session_id"]
            return Reply(body={"status": "Success", "jwt": self.issue_jwt(session_id)})
        if path in _JWT_ROUTES:
            return self._jwt_route(path, headers)
        return Reply(404, {"path": path, "message": "Not Found"})

    def _jwt_route(self, path: str, headers: dict[str, str]) -> Reply:
        token = headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            expired = token in self._expired
        if expired:
            return Reply(401, {"path": path, "message": "Expired Token"})
        if path == "/v2/update_session":
            return Reply(body={"status": "success", "token_cost": "0.25", "session_url": "u"})
        return Reply(body="Success")


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, reply: Reply) -> None:
    content = orjson.dumps(reply.body)
    headers = [(b"content-type", b"application/json")]
    headers += [(k.encode(), v.encode()) for k, v in reply.headers.items()]
    # Announce more than is sent when cutting: the client sees the connection end early.
    length = len(content) + (100 if reply.cut else 0)
    headers.append((b"content-length", str(length).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    # Returning with the body incomplete makes uvicorn close the connection.
    await send({"type": "http.response.body", "body": content, "more_body": reply.cut})


@contextmanager
def serve(app: StubApp) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on a free loopback port; yield its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        lifespan="off",
        http="h11",
        ws="none",
        log_level="critical",  # a cut answer is logged as an error by design
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_until(lambda: server.started, what="uvicorn to start")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class HangUpServer:
    """Accepts TCP connections, reads a little, and closes them without any answer.

    ``reset=True`` aborts with a TCP RST (connection reset by peer) instead of a FIN.
    """

    def __init__(self, *, reset: bool = False) -> None:
        self.reset = reset
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self._sock.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> HangUpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(1)
                with suppress(OSError):
                    conn.recv(65536)
                if self.reset:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _wait_until(condition: Callable[[], bool], *, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.01)
