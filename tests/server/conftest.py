"""Fixtures for server tests: a real app on a fresh database, and a small v2 client."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentwatch.server.testing import TestServer, inprocess_server


class V2:
    """A thin v2 client over a test server: raw HTTP, so tests see every status."""

    def __init__(self, server: TestServer, api_key: str | None = None) -> None:
        self.server = server
        self.api_key = api_key or server.api_key
        self.http = httpx.Client(base_url=server.url, transport=server.transport)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> V2:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def key_headers(self) -> dict[str, str]:
        return {"X-Agentops-Api-Key": self.api_key}

    def create_session(self, session_id: str | None = None, **fields: Any) -> tuple[str, str]:
        """Create a session; returns (session_id, jwt). Asserts success."""
        session_id = session_id or str(uuid.uuid4())
        response = self.post_key(
            "/v2/create_session", {"session": {"session_id": session_id, **fields}}
        )
        assert response.status_code == 200, response.text
        return session_id, response.json()["jwt"]

    def post_key(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(path, json=body, headers=self.key_headers())

    def post_jwt(self, path: str, jwt: str, body: Any) -> httpx.Response:
        return self.http.post(path, json=body, headers={"Authorization": f"Bearer {jwt}"})

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params, headers=self.key_headers())

    def events(self, jwt: str, events: list[dict[str, Any]]) -> httpx.Response:
        return self.post_jwt("/v2/create_events", jwt, {"events": events})


def event(event_type: str = "actions", **fields: Any) -> dict[str, Any]:
    """A wire event with a fresh id and timestamps."""
    now = dt.datetime.now(dt.timezone.utc)
    return {
        "id": str(uuid.uuid4()),
        "event_type": event_type,
        "init_timestamp": now.isoformat(),
        "end_timestamp": (now + dt.timedelta(milliseconds=5)).isoformat(),
        **fields,
    }


@pytest.fixture
def server(db_url: str) -> Iterator[TestServer]:
    with inprocess_server(db_url) as running:
        yield running


@pytest.fixture
def v2(server: TestServer) -> Iterator[V2]:
    client = V2(server)
    yield client
    client.close()


@pytest.fixture
def other_project(server: TestServer) -> Iterator[V2]:
    """A client with the API key of a second project on the same server."""
    project = server.storage.create_project("other")
    key, _ = server.storage.create_api_key(project.id)
    client = V2(server, key)
    yield client
    client.close()
