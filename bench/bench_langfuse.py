"""Langfuse (current release) against the stub's OTLP endpoint: caller cost and delivery.

The unit (perf.md §3, "tool") is ``start_observation(name, as_type="tool", input=params,
metadata={2 keys})`` + ``.update(output=~150 chars)`` + ``.end()``, inside one
``start_as_current_observation(name="session", as_type="agent")``; then ``flush()``.
Langfuse's exporter posts gzip protobuf to ``{base_url}/api/public/otel/v1/traces``.
Runs in the langfuse venv. Options: ``--stub URL``, ``--n``.
"""

from __future__ import annotations

import time
from typing import Any

from common import (
    PARAMS,
    RETURNS,
    arg,
    emit,
    guard_loopback,
    latency_summary_us,
    peak_rss_mib,
    stub_count,
    time_calls,
    wait_for_quiet,
)

guard_loopback()

from langfuse import Langfuse  # noqa: E402  (the guard must be in place before the SDK loads)

METADATA = {"agent": "planner", "step": "search"}


def main() -> None:
    stub, n = arg("stub", "http://127.0.0.1:18080"), int(arg("n", "50000"))
    init_start = time.perf_counter()
    client: Any = Langfuse(public_key="pk-lf-bench", secret_key="sk-lf-bench", base_url=stub)
    init_ms = (time.perf_counter() - init_start) * 1000
    baseline = stub_count(stub, "otlp_unit_spans")
    bytes_before = stub_count(stub, "wire_bytes")

    def one_tool_call(i: int) -> None:
        observation = client.start_observation(
            name="web_search", as_type="tool", input=PARAMS, metadata=METADATA
        )
        observation.update(output=RETURNS)
        observation.end()

    with client.start_as_current_observation(name="session", as_type="agent"):
        cpu_start = time.process_time()
        loop_start = time.perf_counter()
        durations = time_calls(one_tool_call, n)
        loop_s = time.perf_counter() - loop_start
    during_loop = stub_count(stub, "otlp_unit_spans") - baseline

    flush_start = time.perf_counter()
    client.flush()
    flush_s = time.perf_counter() - flush_start
    delivered = wait_for_quiet(stub, "otlp_unit_spans") - baseline
    wire_bytes = stub_count(stub, "wire_bytes") - bytes_before
    cpu_s = time.process_time() - cpu_start
    client.shutdown()
    emit(
        {
            **latency_summary_us(durations),
            "n": n,
            "caller_events_per_s": n / loop_s,
            "delivered_during_loop": during_loop,
            "delivered": delivered,
            "wire_bytes_per_event": wire_bytes / max(delivered, 1),
            "cpu_us_per_event": cpu_s / n * 1e6,
            "delivered_per_s": delivered / (loop_s + flush_s),
            "end_session_s": flush_s,
            "init_ms": init_ms,
            "peak_rss_mib": peak_rss_mib(),
        }
    )


if __name__ == "__main__":
    main()
