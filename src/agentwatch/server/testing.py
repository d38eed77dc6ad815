"""Test helpers shipped with the server: a real agentwatch server for tests, two ways.

* :func:`inprocess_server` — the app called in-process through a synchronous httpx
  transport (no sockets; fast). Give ``server.transport`` to an ``httpx.Client``.
* :func:`uvicorn_server` — the app served by uvicorn in a thread on a free
  ``127.0.0.1`` port, for code that must open real connections.

Both use a fresh temporary SQLite database unless ``db_url`` is given, create a project
with an API key, and accept server settings as keywords (``jwt_lifetime=2``)::

    with inprocess_server() as server:
        client = httpx.Client(base_url=server.url, transport=server.transport)
        ...
        assert server.session(session_id)["session"]["counts"]["llms"] == 1
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from agentwatch.server import views
from agentwatch.server.settings import ServerSettings
from agentwatch.server.storage import Storage

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["SyncASGITransport", "TestServer", "inprocess_server", "uvicorn_server"]

INPROCESS_HOST = "agentwatch.test"
INPROCESS_URL = f"http://{INPROCESS_HOST}"


@dataclass
class TestServer:
    """A running test server and a project API key that works on it."""

    __test__ = False  # not a pytest test class

    url: str
    api_key: str
    project_id: str
    app: FastAPI
    storage: Storage
    transport: httpx.BaseTransport | None

    def session(self, session_id: str) -> dict[str, Any]:
        """What ``GET /api/sessions/{id}`` answers. Raises ``KeyError`` if there is no such session."""
        detail = self.storage.session_detail(self.project_id, session_id)
        if detail is None:
            raise KeyError(f"no session {session_id} in project {self.project_id}")
        return views.session_detail(*detail)


class SyncASGITransport(httpx.BaseTransport):
    """A synchronous httpx transport that calls an ASGI app in-process.

    The app runs on a private event loop in a daemon thread; each request is handed to
    it with ``run_coroutine_threadsafe``, so any number of threads may send at once.
    The response body is read before it is returned. Closing an ``httpx.Client`` that
    uses it does not stop it (several clients may share one transport);
    :meth:`shutdown` does, and :func:`inprocess_server` calls it on exit.
    """

    def __init__(self, app: Any) -> None:
        self._async = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="sync-asgi", daemon=True
        )
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._loop.is_closed():
            raise RuntimeError("the in-process test server has been shut down")
        body = request.read()
        plain = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        future = asyncio.run_coroutine_threadsafe(self._send(plain), self._loop)
        status, headers, content = future.result()
        return httpx.Response(status, headers=headers, content=content, request=request)

    async def _send(self, request: httpx.Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        response = await self._async.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        # Content-Length/encoding headers describe the body as sent; it is handed over decoded.
        return response.status_code, response.headers.raw, content

    def close(self) -> None:
        """Called by ``httpx.Client.close()``: the transport stays usable by other clients."""

    def shutdown(self) -> None:
        """Stop the event loop thread; later requests raise ``RuntimeError``."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


@contextlib.contextmanager
def _server_parts(
    db_url: str | None, settings: dict[str, Any]
) -> Iterator[tuple[FastAPI, Storage, str, str]]:
    from agentwatch.server.app import create_app

    with tempfile.TemporaryDirectory(prefix="agentwatch-test-") as home:
        loaded = ServerSettings.load(
            environ={},
            home=Path(home),
            db_url=db_url or f"sqlite:///{Path(home) / 'agentwatch.db'}",
            jwt_secret=settings.pop("jwt_secret", secrets.token_urlsafe(48)),
            **settings,
        )
        storage = Storage.open(loaded.database_url)
        try:
            project = storage.create_project("test")
            key, _ = storage.create_api_key(project.id)
            yield create_app(loaded, storage), storage, key, project.id
        finally:
            storage.close()


@contextlib.contextmanager
def inprocess_server(db_url: str | None = None, **settings: Any) -> Iterator[TestServer]:
    """A server called in-process; ``server.transport`` is a thread-safe sync transport.

    Its URL's host (``agentwatch.test``) is added to ``allowed_hosts``, unless every host
    is allowed anyway (a wildcard ``host`` without ``allowed_hosts``).
    """
    from agentwatch.server.hosts import HostPolicy

    given = settings.get("allowed_hosts")
    host = ServerSettings.load(environ={}, host=settings.get("host")).host
    if given is not None or not HostPolicy(host, None, None).any_host:
        settings["allowed_hosts"] = (*(given or ()), INPROCESS_HOST)
    with _server_parts(db_url, settings) as (app, storage, key, project_id):
        transport = SyncASGITransport(app)
        try:
            yield TestServer(INPROCESS_URL, key, project_id, app, storage, transport)
        finally:
            transport.shutdown()


@contextlib.contextmanager
def uvicorn_server(db_url: str | None = None, **settings: Any) -> Iterator[TestServer]:
    """A server on a free 127.0.0.1 port, run by uvicorn in a daemon thread."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # The port it listens on is the app's too, so that the links it hands out
    # (``session_url``) point at this server, as ``agentwatch serve --port`` does.
    parts = _server_parts(db_url, {"port": port, **settings})
    with contextlib.closing(sock), parts as (app, storage, key, project_id):
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            _wait_started(server, thread)
            yield TestServer(f"http://127.0.0.1:{port}", key, project_id, app, storage, None)
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def _wait_started(server: Any, thread: threading.Thread, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
