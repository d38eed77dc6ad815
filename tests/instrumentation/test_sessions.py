"""Which session an LLM call lands in, what it holds with capture_content=False, and
calls made with no session at all."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import openai

from agentwatch import Client, track_agent
from agentwatch.server.testing import TestServer
from tests.instrumentation import fake_provider as fake
from tests.instrumentation.conftest import stored

WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}


def _ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_sessions_in_threads_never_mix(
    server: TestServer, client: Client, oai: openai.OpenAI
) -> None:
    sessions: dict[int, str] = {}

    def worker(n: int) -> None:
        session = client.start_session()  # current in this thread only
        sessions[n] = session.session_id
        for call in range(3):
            oai.chat.completions.create(model="gpt-4o-mini", messages=_ask(f"t{n}-c{call}"))
        session.end_session("Success")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n, session_id in sessions.items():
        events = server.session(session_id)["events"]
        assert sorted(e["prompt"][0]["content"] for e in events) == [f"t{n}-c{c}" for c in range(3)]


async def test_sessions_in_tasks_never_mix(
    server: TestServer, client: Client, aoai: openai.AsyncOpenAI
) -> None:
    async def task(n: int) -> str:
        session = client.start_session()  # current in this task's context only
        for call in range(3):
            stream = await aoai.chat.completions.create(
                model="gpt-4o-mini", messages=_ask(f"a{n}-c{call}"), stream=True
            )
            async for _ in stream:
                await asyncio.sleep(0)  # let the other tasks' streams interleave
        await asyncio.to_thread(session.end_session, "Success")
        return session.session_id

    ids = await asyncio.gather(*(task(n) for n in range(8)))
    for n, session_id in enumerate(ids):
        events = server.session(session_id)["events"]
        assert sorted(e["prompt"][0]["content"] for e in events) == [f"a{n}-c{c}" for c in range(3)]
        assert all(e["completion"]["content"] == fake.TEXT for e in events)


def test_explicit_session_keyword(server: TestServer, client: Client, oai: openai.OpenAI) -> None:
    current = client.start_session()
    other = client.start_session()  # now current; the call names the first one instead
    oai.chat.completions.create(model="gpt-4o-mini", messages=_ask("x"), session=current)
    assert stored(server, other, "llms") == []
    [event] = stored(server, current, "llms")
    assert "session" not in event["params"]


def test_no_session_means_untouched(
    server: TestServer, make_client: Callable[..., Client], oai: openai.OpenAI
) -> None:
    make_client()
    response = oai.chat.completions.create(model="gpt-4o-mini", messages=_ask("x"))
    assert response.choices[0].message.content == fake.TEXT
    stream = oai.chat.completions.create(model="gpt-4o-mini", messages=_ask("x"), stream=True)
    assert type(stream) is openai.Stream  # not even wrapped
    for _ in stream:
        pass


def test_a_client_that_opted_out_gets_no_llm_events(
    server: TestServer, make_client: Callable[..., Client], oai: openai.OpenAI
) -> None:
    make_client()  # instruments the library for everyone
    quiet = make_client(instrument_llm_calls=False)
    session = quiet.start_session()
    oai.chat.completions.create(model="gpt-4o-mini", messages=_ask("x"))
    assert stored(server, session, "llms") == []


def test_agent_attribution(server: TestServer, client: Client, oai: openai.OpenAI) -> None:
    session = client.start_session()

    @track_agent(name="planner")
    class Planner:
        def plan(self) -> None:
            stream = oai.chat.completions.create(
                model="gpt-4o-mini", messages=_ask("x"), stream=True
            )
            self.stream = stream  # read outside the agent's method

    planner = Planner()
    planner.plan()
    for _ in planner.stream:
        pass
    [event] = stored(server, session, "llms")
    assert event["agent_id"] == planner.agentwatch_agent_id  # type: ignore[attr-defined]
    agents = server.session(session.session_id)["agents"]
    assert [a["name"] for a in agents] == ["planner"]


def test_capture_content_false_keeps_all_but_text(
    server: TestServer, make_client: Callable[..., Client], oai: openai.OpenAI
) -> None:
    client = make_client(capture_content=False)
    session = client.start_session()
    messages = [
        {"role": "system", "content": "secret system"},
        {"role": "user", "content": "secret question"},
    ]
    oai.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
    stream = oai.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)
    for _ in stream:
        pass
    events = stored(server, session, "llms")
    assert "secret" not in str(events)
    assert fake.TEXT not in str(events)
    assert "Rome" not in str(events)
    tool, text = events
    assert tool["prompt"] == [{"role": "system"}, {"role": "user"}]
    assert tool["completion"] == {
        "role": "assistant",
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather"}}],
    }
    assert text["completion"] == {"role": "assistant"}
    assert tool["prompt_tokens"] == fake.PROMPT_TOKENS
    assert text["prompt_tokens"] > 0  # estimated from the text before it was dropped
    assert tool["params"]["tools"] == [WEATHER_TOOL]
    assert tool["cost"] > 0
