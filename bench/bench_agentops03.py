"""agentops 0.3.26 against the stub: caller cost per event and delivery of a burst.

The unit (perf.md §2) is ``ev = ActionEvent(action_type, params={3 keys}, returns=~150
chars)`` followed by ``session.record(ev)``. With ``--no-walk`` the event gets
``agent_id=None``, which skips the SDK's per-event ``inspect.stack()`` agent lookup.
Runs in the agentops03 venv. Options: ``--stub URL``, ``--n`` events, ``--no-walk``.
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
    flag,
    guard_loopback,
    latency_summary_us,
    peak_rss_mib,
    stub_count,
    wait_for_quiet,
)

guard_loopback()

import agentops  # noqa: E402  (the guard must be in place before the SDK loads)
from agentops.event import ActionEvent  # noqa: E402
from agentops.meta_client import MetaClient  # noqa: E402

# init() would GET pypi.org for an update check; developer errors go to the public host.
agentops.check_agentops_update = lambda: None
MetaClient.send_exception_to_server = lambda *args, **kwargs: None


def main() -> None:
    stub, n = arg("stub", "http://127.0.0.1:18080"), int(arg("n", "50000"))
    walk = not flag("no-walk")
    agentops.init(api_key=str(uuid.uuid4()), endpoint=stub, auto_start_session=False)
    start = time.perf_counter()
    session = agentops.start_session(tags=["bench"])
    start_session_ms = (time.perf_counter() - start) * 1000
    assert session is not None, "start_session failed against the stub"

    baseline = stub_count(stub, "v2_events")
    bytes_before = stub_count(stub, "wire_bytes")
    extra: dict[str, Any] = {} if walk else {"agent_id": None}
    caller_ns, record_ns = [0] * n, [0] * n
    clock = time.perf_counter_ns
    cpu_start = time.process_time()
    loop_start = clock()
    for i in range(n):
        t0 = clock()
        event = ActionEvent(action_type="web_search", params=PARAMS, returns=RETURNS, **extra)
        t1 = clock()
        session.record(event)
        t2 = clock()
        caller_ns[i], record_ns[i] = t2 - t0, t2 - t1
    loop_s = (clock() - loop_start) / 1e9
    during_loop = stub_count(stub, "v2_events") - baseline

    end_start = time.perf_counter()
    session.end_session("Success")
    end_session_s = time.perf_counter() - end_start
    delivered = wait_for_quiet(stub, "v2_events") - baseline
    wire_bytes = stub_count(stub, "wire_bytes") - bytes_before
    cpu_s = time.process_time() - cpu_start
    emit(
        {
            **latency_summary_us(caller_ns),
            "record_p50_us": latency_summary_us(record_ns)["p50_us"],
            "n": n,
            "caller_events_per_s": n / loop_s,
            "delivered_during_loop": during_loop,
            "delivered": delivered,
            "wire_bytes_per_event": wire_bytes / max(delivered, 1),
            "cpu_us_per_event": cpu_s / n * 1e6,
            "delivered_per_s": delivered / (loop_s + end_session_s),
            "end_session_s": end_session_s,
            "start_session_ms": start_session_ms,
            "peak_rss_mib": peak_rss_mib(),
        }
    )


if __name__ == "__main__":
    main()
