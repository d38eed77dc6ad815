"""Refused requests are logged, at most once a minute per (path, User-Agent)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentwatch.server.refusals import RefusalLogMiddleware
from agentwatch.server.testing import TestServer
from tests.server.otlp_requests import PROTOBUF, new_trace_id, post, span, traces_request

LOGGER = "agentwatch.server.refusals"


@pytest.fixture
def http(server: TestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, transport=server.transport) as client:
        yield client


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_unknown_route_and_bad_key_are_logged_with_path_and_user_agent(
    server: TestServer, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    assert (
        http.post(
            "/v1/trace", content=b"x", headers={"User-Agent": "OTel-OTLP-Exporter-Python/1.45"}
        ).status_code
        == 404
    )
    body = traces_request([span(new_trace_id())], PROTOBUF)
    assert (
        post(
            http, "/v1/traces", body, PROTOBUF, "wrong", **{"User-Agent": "agentops/0.4"}
        ).status_code
        == 401
    )
    assert post(http, "/v1/traces", body, PROTOBUF, server.api_key).status_code == 200
    lines = refusals(caplog)
    assert len(lines) == 2
    assert "'/v1/trace'" in lines[0]
    assert "404" in lines[0]
    assert "OTel-OTLP-Exporter-Python/1.45" in lines[0]
    assert "'/v1/traces'" in lines[1]
    assert "401" in lines[1]
    assert "invalid credentials" in lines[1]
    assert "agentops/0.4" in lines[1]


def test_oversized_body_refused_by_middleware_is_logged(
    caplog: pytest.LogCaptureFixture, db_url: str
) -> None:
    from agentwatch.server.testing import inprocess_server

    caplog.set_level(logging.WARNING, LOGGER)
    with (
        inprocess_server(db_url, max_body_bytes=1000) as server,
        httpx.Client(base_url=server.url, transport=server.transport) as http,
    ):
        response = post(http, "/v1/traces", b"\x00" * 5000, PROTOBUF, server.api_key)
    assert response.status_code == 413
    [line] = refusals(caplog)
    assert "413" in line
    assert "larger than 1000 bytes" in line


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _not_found(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b'{"path": "/x", "message": "Not Found"}'})


def _request(app: Any, path: str, agent: str) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        pass

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "headers": [(b"user-agent", agent.encode())],
    }
    asyncio.run(app(scope, receive, send))


def test_rate_limited_per_path_and_user_agent(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    clock = _Clock()
    app = RefusalLogMiddleware(_not_found, interval=60, max_keys=2, clock=clock)
    for _ in range(5):
        _request(app, "/a", "ua-1")
    _request(app, "/a", "ua-2")
    _request(app, "/b", "ua-1")
    assert len(refusals(caplog)) == 3
    clock.now = 61
    _request(app, "/a", "ua-1")  # forgotten: only the 2 most recent pairs are kept
    _request(app, "/b", "ua-1")
    lines = refusals(caplog)
    assert len(lines) == 5
    assert "more like it" not in lines[3]
    assert "0 more" not in lines[4]


def test_counts_what_it_left_out(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    clock = _Clock()
    app = RefusalLogMiddleware(_not_found, interval=60, clock=clock)
    for _ in range(4):
        _request(app, "/a", "ua")
    clock.now = 100
    _request(app, "/a", "ua")
    lines = refusals(caplog)
    assert len(lines) == 2
    assert "3 more like it" in lines[1]


def test_client_chosen_text_is_escaped_and_cut(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    app = RefusalLogMiddleware(_not_found, clock=_Clock())
    _request(app, "/x\nFAKE LOG LINE", "ua\r\n" + "A" * 5000)
    [line] = refusals(caplog)
    assert "\n" not in line
    assert "\\n" in line
    assert len(line) < 1000
