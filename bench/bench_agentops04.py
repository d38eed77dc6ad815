"""agentops 0.4.x against the stub (v3 auth + OTLP/HTTP): caller cost and burst delivery.

The unit (perf.md §4) is one call of an ``@agentops.tool`` function with three arguments
returning ~150 characters; the SDK records its JSON input and output on a span. The
session is a trace started with ``start_trace``; the burst is flushed after ``end_trace``.
Runs in the agentops04 venv (OTel pinned, see venvs.py). Options: ``--stub URL``, ``--n``.
"""

from __future__ import annotations

import time
import uuid
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

import agentops  # noqa: E402  (the guard must be in place before the SDK loads)
from agentops.sdk.core import TracingCore  # noqa: E402
from opentelemetry import trace  # noqa: E402


def point_metrics_at(stub: str) -> None:
    """0.4.21 hard-codes its metrics endpoint (not in Config); send it to the stub."""
    original = TracingCore.initialize

    def initialize(self: TracingCore, jwt_provider: Any = None, **kwargs: Any) -> None:
        kwargs["metrics_endpoint"] = f"{stub}/v1/metrics"
        original(self, jwt_provider=jwt_provider, **kwargs)

    TracingCore.initialize = initialize


def web_search(query: str, max_results: int, strict: bool) -> str:
    return RETURNS


# The decorator names the span after the function: "web_search.tool".
traced_web_search: Any = agentops.tool(web_search)


def wait_for_auth(stub: str, timeout_s: float = 10.0) -> None:
    """init() fetches its token in a background thread; measure once it has it."""
    deadline = time.monotonic() + timeout_s
    while stub_count(stub, "v3_auth") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)


def main() -> None:
    stub, n = arg("stub", "http://127.0.0.1:18080"), int(arg("n", "50000"))
    point_metrics_at(stub)
    agentops.init(
        api_key=str(uuid.uuid4()),
        endpoint=stub,
        exporter_endpoint=f"{stub}/v1/traces",
        auto_start_session=False,
    )
    wait_for_auth(stub)
    context = agentops.start_trace("bench", tags=["bench"])
    baseline = stub_count(stub, "otlp_unit_spans")
    bytes_before = stub_count(stub, "wire_bytes")

    cpu_start = time.process_time()
    loop_start = time.perf_counter()
    durations = time_calls(lambda i: traced_web_search(**PARAMS), n)
    loop_s = time.perf_counter() - loop_start
    during_loop = stub_count(stub, "otlp_unit_spans") - baseline

    end_start = time.perf_counter()
    agentops.end_trace(context, end_state="Success")
    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    end_s = time.perf_counter() - end_start
    delivered = wait_for_quiet(stub, "otlp_unit_spans") - baseline
    wire_bytes = stub_count(stub, "wire_bytes") - bytes_before
    cpu_s = time.process_time() - cpu_start
    emit(
        {
            **latency_summary_us(durations),
            "n": n,
            "caller_events_per_s": n / loop_s,
            "delivered_during_loop": during_loop,
            "delivered": delivered,
            "wire_bytes_per_event": wire_bytes / max(delivered, 1),
            "cpu_us_per_event": cpu_s / n * 1e6,
            "delivered_per_s": delivered / (loop_s + end_s),
            "end_session_s": end_s,
            "peak_rss_mib": peak_rss_mib(),
        }
    )


if __name__ == "__main__":
    main()
