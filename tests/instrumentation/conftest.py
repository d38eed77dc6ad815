"""Fixtures: the fake provider, the real agentwatch server (in-process), and the real
``openai`` / ``anthropic`` clients pointed at the fake provider."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import openai
import pytest

from agentwatch import Client, Session
from agentwatch.instrumentation import _call, instrument, uninstrument
from agentwatch.instrumentation._stream import flush_finalizer
from agentwatch.server.testing import TestServer, inprocess_server
from tests.instrumentation.fake_provider import FakeProvider, serve


@pytest.fixture(scope="package")
def provider() -> Iterator[FakeProvider]:
    with serve() as running:
        yield running


@pytest.fixture(scope="package", autouse=True)
def _leave_the_process_as_found() -> Iterator[None]:
    """Clients made here configure the ``agentwatch`` logger (a handler, no propagation),
    which would hide its records from ``caplog`` in tests that run later."""
    agentwatch_logger = logging.getLogger("agentwatch")
    saved = agentwatch_logger.handlers[:], agentwatch_logger.propagate, agentwatch_logger.level
    yield
    uninstrument()
    agentwatch_logger.handlers[:], agentwatch_logger.propagate = saved[0], saved[1]
    agentwatch_logger.setLevel(saved[2])


@pytest.fixture
def server() -> Iterator[TestServer]:
    with inprocess_server() as srv:
        yield srv


@pytest.fixture
def make_client(server: TestServer) -> Iterator[Callable[..., Client]]:
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


@pytest.fixture(autouse=True)
def _no_internal_errors() -> Iterator[None]:
    """Every test ends instrumented and without a bug of ours swallowed on the way."""
    _call.internal_errors.clear()
    yield
    flush_finalizer()
    assert _call.internal_errors == {}
    instrument()


@pytest.fixture
def oai(provider: FakeProvider) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="sk-test", base_url=provider.openai_url, max_retries=0) as c:
        yield c


@pytest.fixture
async def aoai(provider: FakeProvider) -> Any:
    async with openai.AsyncOpenAI(
        api_key="sk-test", base_url=provider.openai_url, max_retries=0
    ) as c:
        yield c


@pytest.fixture
def claude(provider: FakeProvider) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key="sk-test", base_url=provider.url, max_retries=0) as c:
        yield c


@pytest.fixture
async def aclaude(provider: FakeProvider) -> Any:
    async with anthropic.AsyncAnthropic(
        api_key="sk-test", base_url=provider.url, max_retries=0
    ) as c:
        yield c


def stored(server: TestServer, session: Session, event_type: str | None = None) -> list[Any]:
    """The session's events as the server stored them (ends the session first)."""
    if session.is_running:
        session.end_session("Success")
    events: list[dict[str, Any]] = server.session(session.session_id)["events"]
    return [e for e in events if event_type is None or e["event_type"] == event_type]


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
