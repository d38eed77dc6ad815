"""Instrumented calls of the real ``openai`` and ``anthropic`` clients (against the fake
provider) leave the SDK as GenAI ``chat`` spans with what the instrumentation learnt:
provider, response model and id, usage, finish reasons, tool calls as message parts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import anthropic
import openai
import pytest

from agentwatch import Client
from tests.instrumentation import fake_provider as fake
from tests.sdk.otlp_collector import Collector, collector

pytestmark = pytest.mark.otel

WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}
CLAUDE_TOOL = {"name": "get_weather", "input_schema": {"type": "object"}}


@pytest.fixture
def otlp() -> Iterator[Collector]:
    with collector() as running:
        yield running


def test_an_openai_call_with_a_tool_call_is_a_chat_span(
    make_client: Callable[..., Client], otlp: Collector, oai: openai.OpenAI
) -> None:
    client = make_client(otlp_endpoint=otlp.url)
    session = client.start_session()
    oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        tools=[WEATHER_TOOL],
        temperature=0.3,
    )
    session.end_session("Success")
    client.shutdown()

    [span] = [s for s in otlp.spans() if s["attributes"].get("gen_ai.operation.name") == "chat"]
    assert span["name"] == "chat gpt-4o-mini"
    attrs = span["attributes"]
    assert attrs["gen_ai.provider.name"] == attrs["gen_ai.system"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert attrs["gen_ai.response.id"] == "chatcmpl-1"
    assert attrs["gen_ai.request.temperature"] == 0.3
    assert attrs["gen_ai.usage.input_tokens"] == fake.PROMPT_TOKENS
    assert attrs["gen_ai.usage.output_tokens"] == fake.COMPLETION_TOKENS
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == fake.CACHED_TOKENS
    assert attrs["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert json.loads(attrs["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Be brief."}
    ]
    [output] = json.loads(attrs["gen_ai.output.messages"])
    assert output["finish_reason"] == "tool_calls"
    assert output["parts"][-1] == {
        "type": "tool_call",
        "id": "call_1",
        "name": "get_weather",
        "arguments": json.loads(fake.ARGUMENTS),
    }


def test_an_anthropic_tool_round_trip_keeps_its_parts(
    make_client: Callable[..., Client], otlp: Collector, claude: anthropic.Anthropic
) -> None:
    client = make_client(otlp_endpoint=otlp.url)
    session = client.start_session()
    claude.messages.create(
        model="claude-3-5-haiku-latest",
        max_tokens=64,
        system="Use tools.",
        tools=[CLAUDE_TOOL],
        messages=[
            {"role": "user", "content": "Weather in Rome?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_0", "name": "get_weather", "input": {}}
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_0", "content": "21 C"}],
            },
        ],
    )
    session.end_session("Success")
    client.shutdown()

    [span] = [s for s in otlp.spans() if s["attributes"].get("gen_ai.operation.name") == "chat"]
    attrs = span["attributes"]
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.request.max_tokens"] == 64
    assert json.loads(attrs["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Use tools."}
    ]
    assert json.loads(attrs["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Rome?"}]},
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "toolu_0", "name": "get_weather", "arguments": {}}
            ],
        },
        {
            "role": "user",
            "parts": [{"type": "tool_call_response", "id": "toolu_0", "response": "21 C"}],
        },
    ]
    [output] = json.loads(attrs["gen_ai.output.messages"])
    assert output["parts"][0] == {"type": "text", "content": fake.TEXT}
    assert output["parts"][1]["name"] == "get_weather"
    assert output["finish_reason"] == "tool_use"


def test_a_failed_call_is_an_error_span(
    make_client: Callable[..., Client], otlp: Collector, oai: openai.OpenAI
) -> None:
    client = make_client(otlp_endpoint=otlp.url)
    session = client.start_session()
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="error-400", messages=[{"role": "user", "content": "x"}])
    session.end_session("Success")
    client.shutdown()
    [span] = [s for s in otlp.spans() if s["attributes"].get("gen_ai.operation.name") == "chat"]
    assert span["status"] == 2  # ERROR
    assert span["attributes"]["error.type"] == "BadRequestError"
    assert span["events"][0][0] == "exception"
    assert span["events"][0][1]["exception.type"] == "BadRequestError"
