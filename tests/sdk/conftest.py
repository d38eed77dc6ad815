"""Fixtures for SDK tests: a real agentwatch server and clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agentwatch import Client
from agentwatch.server.testing import TestServer, inprocess_server


@pytest.fixture
def server() -> Iterator[TestServer]:
    """The real server, in-process, on a fresh SQLite file."""
    with inprocess_server() as srv:
        yield srv


@pytest.fixture
def make_client(server: TestServer) -> Iterator[Callable[..., Client]]:
    """Build clients that talk to ``server``; every one is shut down after the test."""
    made: list[Client] = []

    def make(**settings: Any) -> Client:
        settings.setdefault("api_key", server.api_key)
        settings.setdefault("endpoint", server.url)
        settings.setdefault("handle_signals", False)
        settings.setdefault("flush_interval", 0.05)
        settings.setdefault("transport", server.transport)
        client = Client(**settings)
        made.append(client)
        return client

    yield make
    for client in made:
        client.shutdown(timeout=5)


@pytest.fixture
def client(make_client: Callable[..., Client]) -> Client:
    return make_client()
