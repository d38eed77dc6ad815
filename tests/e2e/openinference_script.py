"""OpenInference's OpenAI instrumentor, with Phoenix's ``register`` pointed at agentwatch.

An agent span (OpenInference kind AGENT) in session ``SESSION_ID`` holds a chat that asks
for a tool, the tool (``@tracer.tool``, kind TOOL) and a second chat with the tool's
result. ``openai`` talks to the fake provider (``OPENAI_BASE_URL``). Prints the trace id.
"""

from __future__ import annotations

import json
from typing import Any

from client_common import emit, env  # first: it guards DNS and collects warnings

# isort: split
# README: openinference
import os

from openinference.instrumentation.openai import OpenAIInstrumentor
from phoenix.otel import register

tracer_provider = register(
    endpoint=os.environ["AGENTWATCH_ENDPOINT"] + "/v1/traces",
    protocol="http/protobuf",  # without it, phoenix.otel picks gRPC
    api_key=os.environ["AGENTWATCH_API_KEY"],  # sent as "Authorization: Bearer ..."
    batch=True,
    verbose=False,
)
OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
# end README

import openai  # noqa: E402
from openinference.instrumentation import using_session  # noqa: E402

QUESTION = "What is the weather in Rome?"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
tracer = tracer_provider.get_tracer("trip-agent")


@tracer.tool(name="get_weather", description="Current weather of a city")
def get_weather(city: str) -> dict[str, Any]:
    return {"city": city, "temperature_c": 21}


def main() -> None:
    session_id = env("SESSION_ID")
    client = openai.OpenAI()
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    with (
        using_session(session_id),
        tracer.start_as_current_span("planner", openinference_span_kind="agent") as agent,
    ):
        agent.set_input(QUESTION)
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
        agent.set_output(second.choices[0].message.content)
        trace_id = format(agent.get_span_context().trace_id, "032x")
    tracer_provider.shutdown()
    emit({"trace_id": trace_id, "answer": second.choices[0].message.content})


if __name__ == "__main__":
    main()
