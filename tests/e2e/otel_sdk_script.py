"""The plain OpenTelemetry SDK and OTLP/HTTP exporter, configured only by environment.

The exporter reads ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS`` and
``OTEL_EXPORTER_OTLP_COMPRESSION`` as the test sets them. The spans follow the
OpenTelemetry GenAI conventions by hand, as an agent framework without an instrumentor
would write them: an ``invoke_agent`` root in conversation ``SESSION_ID``, a chat that asks
for a tool, the tool, and a second chat with a model the price table does not know.
Prints the trace id and the span ids by role.
"""

from __future__ import annotations

import json

from client_common import emit, env  # first: it guards DNS and collects warnings

# isort: split
# README: otel-sdk
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
# end README

from opentelemetry.trace import SpanKind  # noqa: E402

QUESTION = "What is the weather in Rome?"
CALL_ARGUMENTS = '{"city": "Rome"}'
TOOL_RESULT = '{"temperature_c": 21, "sky": "clear"}'
ANSWER = "It is 21 °C and clear in Rome."


def chat(
    tracer: trace.Tracer, model: str, messages: list[dict[str, object]], output: dict[str, object]
) -> str:
    """One chat span as the GenAI conventions describe it; returns its span id."""
    with tracer.start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT) as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": model,
                "gen_ai.response.model": model,
                "gen_ai.usage.input_tokens": 20,
                "gen_ai.usage.cache_read.input_tokens": 8,
                "gen_ai.usage.output_tokens": 7,
                "gen_ai.input.messages": json.dumps(messages),
                "gen_ai.output.messages": json.dumps([output]),
                "gen_ai.response.finish_reasons": [str(output["finish_reason"])],
            }
        )
        return format(span.get_span_context().span_id, "016x")


def main() -> None:
    session_id = env("SESSION_ID")
    tracer = trace.get_tracer("trip-agent")
    user = {"role": "user", "parts": [{"type": "text", "content": QUESTION}]}
    call = {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": CALL_ARGUMENTS}
    asks = {"role": "assistant", "parts": [call], "finish_reason": "tool_calls"}
    agent_attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "planner",
        "gen_ai.conversation.id": session_id,
    }
    spans: dict[str, str] = {}
    with tracer.start_as_current_span("invoke_agent planner", attributes=agent_attributes) as agent:
        spans["agent"] = format(agent.get_span_context().span_id, "016x")
        spans["chat1"] = chat(tracer, "gpt-4o-mini", [user], asks)
        tool_attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.id": "call_1",
            "gen_ai.tool.call.arguments": CALL_ARGUMENTS,
            "gen_ai.tool.call.result": TOOL_RESULT,
        }
        with tracer.start_as_current_span(
            "execute_tool get_weather", attributes=tool_attributes
        ) as tool:
            spans["tool"] = format(tool.get_span_context().span_id, "016x")
        answer = {
            "role": "assistant",
            "parts": [{"type": "text", "content": ANSWER}],
            "finish_reason": "stop",
        }
        result = {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_1", "response": TOOL_RESULT}],
        }
        spans["chat2"] = chat(tracer, "house-model-1", [user, asks, result], answer)
        trace_id = format(agent.get_span_context().trace_id, "032x")
    provider.shutdown()  # flushes the batch processor
    emit({"trace_id": trace_id, "spans": spans})


if __name__ == "__main__":
    main()
