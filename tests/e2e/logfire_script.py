"""Logfire, unchanged, sending to agentwatch: its token check and its spans.

``configure`` reads ``LOGFIRE_TOKEN`` and ``LOGFIRE_BASE_URL``; it checks the token with
``GET /v1/info`` and exports to ``/v1/traces``. The tree: a Logfire span for the agent in
session ``SESSION_ID`` with tags, ``instrument_openai``'s spans for a chat that asks for a
tool and a second chat, and a span for the tool between them. The session is named by
``gen_ai.conversation.id``: Logfire scrubs the value of any attribute whose name contains
"session". ``openai`` talks to the fake provider (``OPENAI_BASE_URL``). Prints the trace id.
"""

from __future__ import annotations

import json
from typing import Any

from client_common import emit, env  # first: it guards DNS and collects warnings

# isort: split
# README: logfire
import logfire
import openai

logfire.configure(service_name="trip-agent", console=False)
client = openai.OpenAI()
logfire.instrument_openai(client)
# end README

TAGS = ["e2e", "logfire"]
QUESTION = "What is the weather in Rome?"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def get_weather(city: str) -> dict[str, Any]:
    with logfire.span(
        "get_weather {city}", city=city, **{"gen_ai.operation.name": "execute_tool"}
    ) as span:
        result = {"city": city, "temperature_c": 21}
        span.set_attributes(
            {
                "gen_ai.tool.name": "get_weather",
                "gen_ai.tool.call.arguments": json.dumps({"city": city}),
                "gen_ai.tool.call.result": json.dumps(result),
            }
        )
        return result


def main() -> None:
    session_id = env("SESSION_ID")
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    # Not "session.id": Logfire scrubs attributes whose name contains "session".
    agent_attributes = {
        "gen_ai.conversation.id": session_id,
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "planner",
    }
    with logfire.span("planner", _tags=TAGS, **agent_attributes) as agent:
        first = client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL]
        )
        call = first.choices[0].message.tool_calls[0]
        weather = get_weather(**json.loads(call.function.arguments))
        messages += [
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": json.dumps(weather)},
        ]
        second = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        trace_id = format(agent.get_span_context().trace_id, "032x")
    logfire.shutdown()
    emit({"trace_id": trace_id, "answer": second.choices[0].message.content})


if __name__ == "__main__":
    main()
