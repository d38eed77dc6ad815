"""Instrumented LLM calls in the session tree: under the span they are made in, and the
parent of what is recorded while the library runs them. Real ``openai`` client, fake
provider, real server."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import openai
import pytest

import agentwatch
from agentwatch import ActionEvent, Client, record_action, record_tool, track_agent
from agentwatch.server.testing import TestServer
from tests.instrumentation import fake_provider as fake
from tests.instrumentation.conftest import stored
from tests.instrumentation.fake_provider import FakeProvider


def _ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in events}


def test_llm_calls_nest_under_the_tool_that_makes_them(
    server: TestServer, client: Client, oai: openai.OpenAI
) -> None:
    session = client.start_session()

    @record_tool("ask")
    def ask(question: str) -> str | None:
        reply = oai.chat.completions.create(model="gpt-4o-mini", messages=_ask(question))
        for _ in oai.chat.completions.create(
            model="gpt-4o-mini", messages=_ask(question + " again"), stream=True
        ):
            pass
        return reply.choices[0].message.content

    @record_tool("open_stream")
    def open_stream() -> Any:
        return oai.chat.completions.create(model="gpt-4o-mini", messages=_ask("later"), stream=True)

    @record_action("agent_loop")
    def agent_loop() -> None:
        assert ask("weather?") == fake.TEXT
        stream = open_stream()
        for _ in stream:  # read after the tool returned: the call still belongs to it
            pass

    agent_loop()
    events = stored(server, session)
    by_id = _by_id(events)
    loop = next(e for e in events if e.get("action_type") == "agent_loop")
    ask_tool = next(e for e in events if e.get("name") == "ask")
    stream_tool = next(e for e in events if e.get("name") == "open_stream")
    assert ask_tool["parent_id"] == loop["id"] == stream_tool["parent_id"]
    llms = [e for e in events if e["event_type"] == "llms"]
    assert len(llms) == 3  # one event per call, whatever else is recorded
    under_ask = sorted(e["prompt"][0]["content"] for e in llms if e["parent_id"] == ask_tool["id"])
    assert under_ask == ["weather?", "weather? again"]
    [late] = [e for e in llms if e["parent_id"] == stream_tool["id"]]
    assert late["prompt"][0]["content"] == "later"
    assert all(by_id[e["parent_id"]]["event_type"] == "tools" for e in llms)


def test_a_failed_llm_call_has_its_error_under_it(
    server: TestServer, client: Client, oai: openai.OpenAI
) -> None:
    session = client.start_session()

    @record_tool("risky")
    def risky() -> None:
        with pytest.raises(openai.InternalServerError):
            oai.chat.completions.create(model="error-500", messages=_ask("x"))

    risky()
    events = stored(server, session)
    tool = next(e for e in events if e["event_type"] == "tools")
    llm = next(e for e in events if e["event_type"] == "llms")
    error = next(e for e in events if e["event_type"] == "errors")
    assert llm["parent_id"] == tool["id"]
    assert error["parent_id"] == llm["id"] == error["trigger_event_id"]
    assert error["code"] == "500"
    assert llm["data"]["status"] == "error"
    assert "status" not in tool["data"]  # the tool caught the exception


async def test_async_llm_calls_in_an_agent_method_nest_under_the_agent(
    server: TestServer, client: Client, aoai: openai.AsyncOpenAI
) -> None:
    session = client.start_session()

    @track_agent("writer")
    class Writer:
        async def write(self, topic: str) -> str | None:
            reply = await aoai.chat.completions.create(model="gpt-4o-mini", messages=_ask(topic))
            return reply.choices[0].message.content

    writer = Writer()
    assert await writer.write("haiku") == fake.TEXT
    events = await asyncio.to_thread(stored, server, session)
    span = next(e for e in events if e["event_type"] == "agents")
    llm = next(e for e in events if e["event_type"] == "llms")
    assert llm["parent_id"] == span["id"] == str(writer.agentwatch_span_id)  # type: ignore[attr-defined]
    assert llm["agent_id"] == span["agent_id"] == writer.agentwatch_agent_id  # type: ignore[attr-defined]


def test_what_is_recorded_while_the_library_runs_the_call_nests_under_it(
    server: TestServer, client: Client, provider: FakeProvider
) -> None:
    # An httpx event hook runs inside the library's create(): the call is the open span.
    def on_request(request: httpx.Request) -> None:
        agentwatch.record(
            ActionEvent(action_type="http_request", params={"path": request.url.path})
        )

    session = client.start_session()
    with (
        httpx.Client(event_hooks={"request": [on_request]}) as http,
        openai.OpenAI(
            api_key="sk-test", base_url=provider.openai_url, max_retries=0, http_client=http
        ) as hooked,
    ):
        hooked.chat.completions.create(model="gpt-4o-mini", messages=_ask("x"))
    events = stored(server, session)
    llm = next(e for e in events if e["event_type"] == "llms")
    hook = next(e for e in events if e.get("action_type") == "http_request")
    assert hook["parent_id"] == llm["id"]
    assert hook["params"] == {"path": "/v1/chat/completions"}
    assert llm.get("parent_id") is None
