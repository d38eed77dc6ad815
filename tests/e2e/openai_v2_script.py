"""OpenTelemetry's ``openai-v2`` instrumentation: spans, log events and metrics to agentwatch.

The three OTLP/HTTP exporters read ``OTEL_EXPORTER_OTLP_*`` as the test sets them; content
capture follows ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (SPAN_ONLY puts the
messages on the spans, EVENT_ONLY sends them to /v1/logs). The agent and the tool are
opentelemetry-util-genai's ``invoke_agent`` / ``execute_tool`` invocations, in
conversation ``SESSION_ID``: a chat that asks for the tool, the tool, a second chat.
Prints the trace id.
"""

from __future__ import annotations

import json
from typing import Any

from client_common import emit, env  # first: it guards DNS and collects warnings

# isort: split
# README: openai-v2
from opentelemetry import _logs, metrics, trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

tracer_provider = TracerProvider()
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(tracer_provider)
logger_provider = LoggerProvider()
logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
_logs.set_logger_provider(logger_provider)
meter_provider = MeterProvider([PeriodicExportingMetricReader(OTLPMetricExporter())])
metrics.set_meter_provider(meter_provider)
OpenAIInstrumentor().instrument()
# end README

import openai  # noqa: E402
from opentelemetry.util.genai.handler import get_telemetry_handler  # noqa: E402

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
    return {"city": city, "temperature_c": 21}


def main() -> None:
    session_id = env("SESSION_ID")
    client = openai.OpenAI()
    genai = get_telemetry_handler()
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    with genai.invoke_local_agent(agent_name="planner") as agent:
        agent.conversation_id = session_id
        first = client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL]
        )
        call = first.choices[0].message.tool_calls[0]
        with genai.tool("get_weather", tool_call_id=call.id, tool_type="function") as tool:
            tool.arguments = json.loads(call.function.arguments)
            weather = get_weather(**tool.arguments)
            tool.tool_result = weather
        messages += [
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": json.dumps(weather)},
        ]
        second = client.chat.completions.create(model="house-model-1", messages=messages)
        trace_id = format(agent.span.get_span_context().trace_id, "032x")
    for provider in (tracer_provider, logger_provider, meter_provider):
        provider.shutdown()  # each flushes what it holds
    emit({"trace_id": trace_id, "answer": second.choices[0].message.content})


if __name__ == "__main__":
    main()
