"""The Langfuse 5 SDK, unchanged, sending its OpenTelemetry spans to agentwatch.

``get_client()`` reads ``LANGFUSE_PUBLIC_KEY``, ``LANGFUSE_SECRET_KEY`` and
``LANGFUSE_BASE_URL``; ``auth_check()`` asks ``GET /api/public/projects``; spans go gzipped
to ``/api/public/otel/v1/traces`` with Basic auth. The tree is ``@observe`` functions: an
agent in session ``SESSION_ID`` with tags, a tool, and a generation whose model, messages
and usage are set with ``update_current_generation``. Prints the trace id.
"""

from __future__ import annotations

from typing import Any

from client_common import emit, env  # first: it guards DNS and collects warnings

# isort: split
# README: langfuse
from langfuse import get_client, observe, propagate_attributes

langfuse = get_client()
# end README

TAGS = ["e2e", "langfuse"]
QUESTION = "What is the weather in Rome?"
ANSWER = "It is 21 °C in Rome."
seen: dict[str, Any] = {}


@observe(as_type="tool")
def get_weather(city: str) -> dict[str, Any]:
    return {"city": city, "temperature_c": 21}


@observe(as_type="generation")
def answer(weather: dict[str, Any]) -> str:
    langfuse.update_current_generation(
        model="gpt-4o-mini",
        input=[{"role": "user", "content": QUESTION}, {"role": "tool", "content": str(weather)}],
        output={"role": "assistant", "content": ANSWER},
        usage_details={"input": 20, "output": 7},
    )
    return ANSWER


@observe(as_type="agent")
def planner(city: str) -> str:
    seen["trace_id"] = langfuse.get_current_trace_id()
    return answer(get_weather(city))


def main() -> None:
    session_id = env("SESSION_ID")
    if not langfuse.auth_check():
        raise SystemExit("langfuse.auth_check() failed")
    with propagate_attributes(session_id=session_id, tags=TAGS):
        reply = planner("Rome")
    langfuse.shutdown()  # flushes
    emit({"answer": reply, "trace_id": seen["trace_id"]})


if __name__ == "__main__":
    main()
