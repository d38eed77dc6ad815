"""agentops 0.4.21, unchanged, pointed at agentwatch: its token, spans and captured output.

``init`` gets a token from ``/v3/auth/token``; the trace started with ``start_trace`` is
the session (tags, end state). In it an ``@agent`` class whose ``@operation`` calls a
``@tool`` and ``openai`` (instrumented by agentops, answered by the fake provider at
``OPENAI_BASE_URL``). What the script prints while the session runs is captured by
agentops and uploaded to ``/v4/logs/upload/`` when the session ends.

agentops 0.4.21 sends its metrics to a hard-coded vendor host (no setting);
``agentops_metrics`` points them at agentwatch's ``/v1/metrics`` so that nothing leaves
the machine. Prints the
trace id (decimal and hex) and the token agentops was given.
"""

from __future__ import annotations

from typing import Any

from client_common import emit  # first: it guards DNS and collects warnings

# isort: split
import agentops_metrics  # noqa: F401  (before init: metrics to agentwatch, not the vendor)

# isort: split
# README: agentops
import os

import agentops

agentops.init(
    api_key=os.environ["AGENTWATCH_API_KEY"],
    endpoint=os.environ["AGENTWATCH_ENDPOINT"],
    exporter_endpoint=os.environ["AGENTWATCH_ENDPOINT"] + "/v1/traces",
    auto_start_session=False,
)
# end README

import openai  # noqa: E402
from opentelemetry import trace as otel_trace  # noqa: E402

TAGS = ["e2e", "agentops-04"]


@agentops.tool(name="get_weather")
def get_weather(city: str) -> dict[str, Any]:
    return {"city": city, "temperature_c": 21}


@agentops.agent(name="planner")
class Planner:
    def __init__(self) -> None:
        self.client = openai.OpenAI()

    @agentops.operation(name="plan_day")
    def plan_day(self, city: str) -> str:
        print(f"planning a day in {city}")  # captured by agentops, uploaded at the end
        weather = get_weather(city)
        reply = self.client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": "You plan short trips."},
                {"role": "user", "content": f"One day in {city}; weather: {weather}"},
            ],
        )
        return str(reply.choices[0].message.content)


def main() -> None:
    session = agentops.start_trace("trip", tags=TAGS)
    if session is None:
        raise SystemExit("agentops.start_trace() returned None")
    planner = Planner()
    answer = planner.plan_day("Rome")
    del planner  # the @agent span of a class ends with its instance
    trace_id = session.span.get_span_context().trace_id
    agentops.end_trace(session, end_state="Success")
    otel_trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    token = agentops.get_client().get_current_jwt()  # what /v3/auth/token answered
    emit(
        {
            "trace_id": format(trace_id, "032x"),
            "trace_id_decimal": str(trace_id),
            "answer": answer,
            "token": token,
        }
    )


if __name__ == "__main__":
    main()
