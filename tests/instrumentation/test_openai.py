"""The real ``openai`` client against the fake provider; events asserted on the real server."""

from __future__ import annotations

import gc
import time
from typing import Any

import openai
import pytest

from agentwatch import Client
from agentwatch.instrumentation import uninstrument
from agentwatch.instrumentation._stream import flush_finalizer
from agentwatch.server.testing import TestServer
from tests.instrumentation import fake_provider as fake
from tests.instrumentation.conftest import stored, wait_for

HI = [{"role": "user", "content": "hi"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}
TOOL_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": fake.ARGUMENTS},
}


def _assert_usage(event: dict[str, Any], estimated: bool = False) -> None:
    assert event["prompt_tokens"] == fake.PROMPT_TOKENS
    assert event["completion_tokens"] == fake.COMPLETION_TOKENS
    assert event["cached_tokens"] == fake.CACHED_TOKENS
    assert event["tokens_estimated"] is estimated
    assert event["cost"] is not None
    assert event["cost"] > 0


def test_chat_completion(server: TestServer, client: Client, oai: openai.OpenAI) -> None:
    session = client.start_session()
    response = oai.chat.completions.create(
        model="gpt-4o-mini", messages=HI, temperature=0.2, max_tokens=50, seed=7
    )
    assert response.choices[0].message.content == fake.TEXT

    [event] = stored(server, session, "llms")
    assert event["model"] == "gpt-4o-mini-2024-07-18"  # the model the response names
    assert event["prompt"] == HI
    assert event["completion"] == {"role": "assistant", "content": fake.TEXT}
    assert event["params"] == {
        "model": "gpt-4o-mini",
        "temperature": 0.2,
        "max_tokens": 50,
        "seed": 7,
    }
    assert event["stop_reason"] == "stop"
    assert event["latency"] > 0
    assert event["time_to_first_token"] is None
    _assert_usage(event)
    assert event["gen_ai"] == {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.seed": 7,
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.input_tokens": fake.PROMPT_TOKENS,
        "gen_ai.usage.output_tokens": fake.COMPLETION_TOKENS,
    }


def test_cost_uses_the_cached_input_price(
    server: TestServer, client: Client, oai: openai.OpenAI
) -> None:
    session = client.start_session()
    oai.chat.completions.create(model="gpt-4o-mini", messages=HI)
    [event] = stored(server, session, "llms")
    # gpt-4o-mini: $0.15 / 1M input, $0.075 / 1M cached input, $0.60 / 1M output.
    expected = (12 * 0.15 + 8 * 0.075 + 7 * 0.60) / 1e6
    assert event["cost"] == pytest.approx(expected)


def test_unknown_model_is_stored_with_unknown_cost(
    server: TestServer, client: Client, oai: openai.OpenAI
) -> None:
    session = client.start_session()
    oai.chat.completions.create(model="house-model-7", messages=HI)
    [event] = stored(server, session, "llms")
    assert event["model"] == "house-model-7"
    assert event["prompt_tokens"] == fake.PROMPT_TOKENS
    assert event["cost"] is None


def test_tool_calls(server: TestServer, client: Client, oai: openai.OpenAI) -> None:
    session = client.start_session()
    oai.chat.completions.create(model="gpt-4o-mini", messages=HI, tools=[WEATHER_TOOL])
    stream = oai.chat.completions.create(
        model="gpt-4o-mini", messages=HI, tools=[WEATHER_TOOL], stream=True
    )
    for _ in stream:
        pass
    whole, streamed = stored(server, session, "llms")
    for event in (whole, streamed):
        assert event["completion"] == {
            "role": "assistant",
            "content": None,
            "tool_calls": [TOOL_CALL],
        }
        assert event["stop_reason"] == "tool_calls"
        assert event["params"]["tools"] == [WEATHER_TOOL]


async def test_async_chat_completion(
    server: TestServer, client: Client, aoai: openai.AsyncOpenAI
) -> None:
    session = client.start_session()
    response = await aoai.chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert response.choices[0].message.content == fake.TEXT
    [event] = stored(server, session, "llms")
    assert event["completion"]["content"] == fake.TEXT
    _assert_usage(event)


@pytest.mark.parametrize("include_usage", [True, False])
def test_stream(
    server: TestServer, client: Client, oai: openai.OpenAI, include_usage: bool
) -> None:
    session = client.start_session()
    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    stream = oai.chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True, **options)
    assert isinstance(stream, openai.Stream)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == fake.TEXT

    [event] = stored(server, session, "llms")
    assert event["completion"] == {"role": "assistant", "content": fake.TEXT}
    assert event["model"] == "gpt-4o-mini-2024-07-18"
    assert event["stop_reason"] == "stop"
    assert 0 < event["time_to_first_token"] <= event["latency"]
    if include_usage:
        _assert_usage(event)
    else:  # counted from the text, and said so
        assert event["tokens_estimated"] is True
        assert event["prompt_tokens"] > 0
        assert event["completion_tokens"] > 0
        assert event["cached_tokens"] is None
        assert event["cost"] > 0


async def test_async_stream(server: TestServer, client: Client, aoai: openai.AsyncOpenAI) -> None:
    session = client.start_session()
    stream = await aoai.chat.completions.create(
        model="gpt-4o-mini", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    assert isinstance(stream, openai.AsyncStream)
    async with stream:
        pieces = [c.choices[0].delta.content async for c in stream if c.choices]
    assert "".join(p or "" for p in pieces) == fake.TEXT
    [event] = stored(server, session, "llms")
    assert event["completion"]["content"] == fake.TEXT
    _assert_usage(event)


def test_stream_yields_the_same_chunks_when_they_arrive(
    server: TestServer, client: Client, oai: openai.OpenAI
) -> None:
    def read(**extra: Any) -> list[tuple[float, dict[str, Any]]]:
        stream = oai.chat.completions.create(
            model="gpt-4o-mini",
            messages=HI,
            stream=True,
            extra_headers={"x-fake-chunk-delay": "0.15"},
            **extra,
        )
        return [(time.monotonic(), chunk.model_dump()) for chunk in stream]

    uninstrument()
    plain = read()
    from agentwatch.instrumentation import instrument

    instrument()
    session = client.start_session()
    watched = read()
    assert [c for _, c in watched] == [c for _, c in plain]
    # No buffering: the first chunk reached the caller long before the last was sent.
    assert watched[-1][0] - watched[0][0] > 0.5
    [event] = stored(server, session, "llms")
    assert event["time_to_first_token"] < event["latency"] - 0.5


def _start_stream(oai: openai.OpenAI) -> Any:
    stream = oai.chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
    next(stream)  # role chunk
    next(stream)  # "Hello"
    return stream


def _assert_partial(event: dict[str, Any]) -> None:
    assert event["completion"] == {"role": "assistant", "content": "Hello"}
    assert event["stop_reason"] is None
    assert event["tokens_estimated"] is True


def test_stream_closed_early(server: TestServer, client: Client, oai: openai.OpenAI) -> None:
    session = client.start_session()
    _start_stream(oai).close()
    [event] = stored(server, session, "llms")
    _assert_partial(event)


def test_stream_left_by_context_manager(
    server: TestServer, client: Client, oai: openai.OpenAI
) -> None:
    session = client.start_session()
    with _start_stream(oai) as stream:
        assert stream.response.status_code == 200  # the library's own attributes
    [event] = stored(server, session, "llms")
    _assert_partial(event)


def test_stream_abandoned_is_recorded_when_collected(
    server: TestServer, client: Client, oai: openai.OpenAI
) -> None:
    session = client.start_session()
    stream = oai.chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    stream.response.close()  # what the library would leave to the garbage collector
    del stream
    gc.collect()
    assert flush_finalizer()
    wait_for(lambda: session.event_counts["llms"] == 1)
    [event] = stored(server, session, "llms")
    _assert_partial(event)


@pytest.mark.parametrize(
    ("model", "error"),
    [
        ("error-400", openai.BadRequestError),
        ("error-401", openai.AuthenticationError),
        ("error-429", openai.RateLimitError),
        ("error-500", openai.InternalServerError),
    ],
)
def test_http_error_is_linked_and_reraised(
    server: TestServer, client: Client, oai: openai.OpenAI, model: str, error: type[Exception]
) -> None:
    session = client.start_session()
    with pytest.raises(error) as raised:
        oai.chat.completions.create(model=model, messages=HI)
    assert type(raised.value) is error
    [llm] = stored(server, session, "llms")
    [failure] = stored(server, session, "errors")
    assert failure["trigger_event_id"] == llm["id"]
    assert failure["trigger_event_type"] == "llms"
    assert failure["error_type"] == error.__name__
    assert failure["code"] == model.removeprefix("error-")
    assert llm["model"] == model
    assert llm["completion"] is None
    assert llm["cost"] is None
    assert llm["gen_ai"]["error.type"] == error.__name__


def test_timeout_is_linked_and_reraised(server: TestServer, client: Client, provider: Any) -> None:
    session = client.start_session()
    slow = openai.OpenAI(api_key="sk", base_url=provider.openai_url, max_retries=0, timeout=0.2)
    with slow, pytest.raises(openai.APITimeoutError):
        slow.chat.completions.create(model="slow", messages=HI)
    [llm] = stored(server, session, "llms")
    [failure] = stored(server, session, "errors")
    assert failure["trigger_event_id"] == llm["id"]
    assert failure["error_type"] == "APITimeoutError"


def test_responses_api(server: TestServer, client: Client, oai: openai.OpenAI) -> None:
    session = client.start_session()
    response = oai.responses.create(
        model="gpt-4o-mini", input="hi", instructions="be brief", max_output_tokens=30
    )
    assert response.output_text == fake.TEXT
    with_tool = oai.responses.create(
        model="gpt-4o-mini",
        input=HI,
        tools=[{"type": "function", "name": "get_weather", "parameters": {}}],
    )
    assert with_tool.output[0].type == "function_call"
    text, tool = stored(server, session, "llms")
    assert text["prompt"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert text["completion"] == {"role": "assistant", "content": fake.TEXT}
    assert text["stop_reason"] == "completed"
    assert text["gen_ai"]["gen_ai.request.max_tokens"] == 30
    _assert_usage(text)
    assert tool["completion"]["tool_calls"] == [TOOL_CALL]


def test_responses_api_stream(server: TestServer, client: Client, oai: openai.OpenAI) -> None:
    session = client.start_session()
    stream = oai.responses.create(model="gpt-4o-mini", input="hi", stream=True)
    deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
    assert "".join(deltas) == fake.TEXT
    [event] = stored(server, session, "llms")
    assert event["completion"]["content"] == fake.TEXT
    assert event["time_to_first_token"] > 0
    _assert_usage(event)


async def test_async_responses_api(
    server: TestServer, client: Client, aoai: openai.AsyncOpenAI
) -> None:
    session = client.start_session()
    await aoai.responses.create(model="gpt-4o-mini", input="hi")
    stream = await aoai.responses.create(model="gpt-4o-mini", input="hi", stream=True)
    async for _ in stream:
        pass
    whole, streamed = stored(server, session, "llms")
    for event in (whole, streamed):
        assert event["completion"]["content"] == fake.TEXT
        _assert_usage(event)


def test_stream_helpers_and_parse_are_recorded_once(
    server: TestServer, client: Client, oai: openai.OpenAI
) -> None:
    session = client.start_session()
    with oai.chat.completions.stream(model="gpt-4o-mini", messages=HI) as stream:
        assert stream.get_final_completion().choices[0].message.content == fake.TEXT
    with oai.responses.stream(model="gpt-4o-mini", input="hi") as stream:
        assert stream.get_final_response().output_text == fake.TEXT
    parsed = oai.chat.completions.parse(model="gpt-4o-mini", messages=HI)
    assert parsed.choices[0].message.content == fake.TEXT
    assert oai.responses.parse(model="gpt-4o-mini", input="hi").output_text == fake.TEXT
    events = stored(server, session, "llms")
    assert len(events) == 4
    for event in events:
        assert event["completion"]["content"] == fake.TEXT
        assert event["model"] == "gpt-4o-mini-2024-07-18"


async def test_async_parse(server: TestServer, client: Client, aoai: openai.AsyncOpenAI) -> None:
    session = client.start_session()
    await aoai.chat.completions.parse(model="gpt-4o-mini", messages=HI)
    [event] = stored(server, session, "llms")
    _assert_usage(event)


def test_stream_failing_midway_is_linked_and_reraised(
    server: TestServer, client: Client, oai: openai.OpenAI
) -> None:
    session = client.start_session()
    stream = oai.chat.completions.create(model="broken-stream", messages=HI, stream=True)
    received = [next(stream), next(stream), next(stream)]
    with pytest.raises(openai.APIError, match="stream broke"):
        next(stream)
    assert len(received) == 3
    [llm] = stored(server, session, "llms")
    [failure] = stored(server, session, "errors")
    assert failure["trigger_event_id"] == llm["id"]
    assert failure["error_type"] == "APIError"
    assert llm["completion"] == {"role": "assistant", "content": "Hello from"}
    assert llm["tokens_estimated"] is True


async def test_async_stream_closed_early(
    server: TestServer, client: Client, aoai: openai.AsyncOpenAI
) -> None:
    session = client.start_session()
    stream = await aoai.chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
    await stream.__anext__()
    await stream.__anext__()
    await stream.close()
    [event] = stored(server, session, "llms")
    _assert_partial(event)
