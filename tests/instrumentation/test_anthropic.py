"""The real ``anthropic`` client against the fake provider; events asserted on the real server."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from agentwatch import Client
from agentwatch.server.testing import TestServer
from tests.instrumentation import fake_provider as fake
from tests.instrumentation.conftest import stored

HI = [{"role": "user", "content": "hi"}]
TOOL = {"name": "get_weather", "input_schema": {"type": "object"}}
TOOL_CALL = {
    "id": "toolu_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
}
ARGS: dict[str, Any] = {"model": "claude-3-5-haiku", "max_tokens": 100, "messages": HI}


def _assert_message(event: dict[str, Any], tool: bool = False) -> None:
    assert event["model"] == "claude-3-5-haiku-20241022"
    expected: dict[str, Any] = {"role": "assistant", "content": fake.TEXT}
    if tool:
        expected["tool_calls"] = [TOOL_CALL]
    assert event["completion"] == expected
    assert event["stop_reason"] == ("tool_use" if tool else "end_turn")
    # Anthropic reports cache reads apart from input_tokens; prompt_tokens includes them.
    assert event["prompt_tokens"] == fake.PROMPT_TOKENS
    assert event["cached_tokens"] == fake.CACHED_TOKENS
    assert event["completion_tokens"] == fake.COMPLETION_TOKENS
    assert event["tokens_estimated"] is False
    assert event["cost"] > 0
    assert event["gen_ai"]["gen_ai.system"] == "anthropic"
    assert event["gen_ai"]["gen_ai.request.max_tokens"] == 100


def test_message(server: TestServer, client: Client, claude: anthropic.Anthropic) -> None:
    session = client.start_session()
    message = claude.messages.create(**ARGS, system="be brief", stop_sequences=["END"])
    assert message.content[0].text == fake.TEXT
    [event] = stored(server, session, "llms")
    assert event["prompt"] == [{"role": "system", "content": "be brief"}, *HI]
    assert event["params"] == {
        "model": "claude-3-5-haiku",
        "max_tokens": 100,
        "stop_sequences": ["END"],
    }
    assert event["gen_ai"]["gen_ai.request.stop_sequences"] == ["END"]
    _assert_message(event)


def test_tool_use(server: TestServer, client: Client, claude: anthropic.Anthropic) -> None:
    session = client.start_session()
    claude.messages.create(**ARGS, tools=[TOOL])
    with claude.messages.create(**ARGS, tools=[TOOL], stream=True) as stream:
        for _ in stream:
            pass
    whole, streamed = stored(server, session, "llms")
    _assert_message(whole, tool=True)
    _assert_message(streamed, tool=True)


async def test_async_message_and_stream(
    server: TestServer, client: Client, aclaude: anthropic.AsyncAnthropic
) -> None:
    session = client.start_session()
    await aclaude.messages.create(**ARGS)
    stream = await aclaude.messages.create(**ARGS, stream=True)
    assert isinstance(stream, anthropic.AsyncStream)
    async for _ in stream:
        pass
    whole, streamed = stored(server, session, "llms")
    _assert_message(whole)
    _assert_message(streamed)
    assert streamed["time_to_first_token"] > 0


def test_stream_helper(server: TestServer, client: Client, claude: anthropic.Anthropic) -> None:
    session = client.start_session()
    with claude.messages.stream(**ARGS) as stream:
        assert "".join(stream.text_stream) == fake.TEXT
    with claude.messages.stream(**ARGS, tools=[TOOL]) as stream:
        final = stream.get_final_message()
    assert final.content[1].input == {"city": "Rome"}
    texts, tools = stored(server, session, "llms")
    _assert_message(texts)
    _assert_message(tools, tool=True)
    assert 0 < texts["time_to_first_token"] <= texts["latency"]


async def test_async_stream_helper(
    server: TestServer, client: Client, aclaude: anthropic.AsyncAnthropic
) -> None:
    session = client.start_session()
    async with aclaude.messages.stream(**ARGS) as stream:
        assert "".join([t async for t in stream.text_stream]) == fake.TEXT
    async with aclaude.messages.stream(**ARGS) as stream:
        assert await stream.get_final_text() == fake.TEXT
    texts, final = stored(server, session, "llms")
    _assert_message(texts)
    _assert_message(final)


def test_stream_helper_left_early(
    server: TestServer, client: Client, claude: anthropic.Anthropic
) -> None:
    session = client.start_session()
    with claude.messages.stream(**ARGS) as stream:
        assert next(iter(stream.text_stream)) == "Hello"
    [event] = stored(server, session, "llms")
    assert event["completion"] == {"role": "assistant", "content": "Hello"}
    assert event["stop_reason"] is None
    assert event["prompt_tokens"] == fake.PROMPT_TOKENS  # message_start had them
    assert event["tokens_estimated"] is True  # the output count never came


def test_error_is_linked_and_reraised(
    server: TestServer, client: Client, claude: anthropic.Anthropic
) -> None:
    session = client.start_session()
    with pytest.raises(anthropic.RateLimitError):
        claude.messages.create(**{**ARGS, "model": "error-429"})
    with (
        pytest.raises(anthropic.BadRequestError),
        claude.messages.stream(**{**ARGS, "model": "error-400"}),
    ):
        pass
    first, second = stored(server, session, "llms")
    errors = stored(server, session, "errors")
    assert [(e["trigger_event_id"], e["error_type"], e["code"]) for e in errors] == [
        (first["id"], "RateLimitError", "429"),
        (second["id"], "BadRequestError", "400"),
    ]


def test_beta_messages(server: TestServer, client: Client, claude: anthropic.Anthropic) -> None:
    session = client.start_session()
    claude.beta.messages.create(**ARGS)
    with claude.beta.messages.stream(**ARGS) as stream:
        stream.until_done()
    whole, streamed = stored(server, session, "llms")
    _assert_message(whole)
    _assert_message(streamed)


async def test_stream_failing_midway(
    server: TestServer, client: Client, aclaude: anthropic.AsyncAnthropic
) -> None:
    session = client.start_session()
    async with aclaude.messages.stream(**{**ARGS, "model": "broken-stream"}) as stream:
        with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
            await stream.until_done()
    [llm] = stored(server, session, "llms")
    [failure] = stored(server, session, "errors")
    assert failure["trigger_event_id"] == llm["id"]
    assert failure["error_type"] == "APIStatusError"
    assert llm["model"] == "broken-stream"  # from message_start, as are the prompt tokens
    assert llm["prompt_tokens"] == fake.PROMPT_TOKENS
    assert llm["completion"] is None  # it broke before the first text delta
