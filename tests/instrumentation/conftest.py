"""Fixtures: the fake provider, the real agentwatch server (in-process), and the real
``openai`` / ``anthropic`` clients pointed at the fake provider."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import openai
import pytest

from agentwatch import Session
from agentwatch.instrumentation import _errors, instrument, uninstrument
from agentwatch.instrumentation._stream import flush_finalizer
from agentwatch.server.testing import TestServer
from tests.instrumentation.fake_provider import FakeProvider, serve


@pytest.fixture(scope="package")
def provider() -> Iterator[FakeProvider]:
    with serve() as running:
        yield running


@pytest.fixture(scope="package", autouse=True)
def _leave_the_process_as_found() -> Iterator[None]:
    """Later tests must find the LLM libraries unpatched, as a fresh process would."""
    yield
    uninstrument()


@pytest.fixture(autouse=True)
def _no_internal_errors() -> Iterator[None]:
    """Every test ends instrumented and without a bug of ours swallowed on the way."""
    _errors.internal_errors.clear()
    yield
    flush_finalizer()
    assert _errors.internal_errors == {}
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
