"""What a queued event costs in memory (allocations traced, not RSS: deterministic).

The benchmark reports RSS per queued event (bench/RESULTS.md); this holds the design
that keeps it small: one slotted span and the event's JSON, right-sized.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

from agentwatch import ActionEvent, Client
from agentwatch.server.testing import TestServer

from .faults import GatedTransport


def test_a_queued_event_holds_little_more_than_its_json(
    server: TestServer, make_client: Callable[..., Client]
) -> None:
    assert server.transport is not None
    gated = GatedTransport(server.transport)  # nothing leaves: every event stays queued
    client = make_client(transport=gated)
    session = client.start_session()
    params = {"query": "flights to Rome", "max_results": 5}
    returns = "Found 5 flights: AZ 611 08:10, FR 9421 11:35 " * 4
    session.record(ActionEvent(action_type="warm_up"))
    n = 2000
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(n):
            session.record(ActionEvent(action_type="web_search", params=params, returns=returns))
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    json_size = len(client.telemetry.processor._queue[-1].data)  # type: ignore[union-attr]
    per_event = (after - before) / n
    # The JSON (~500 B here) plus the span and the queue slot: not orjson's 4 KB buffer.
    assert json_size < per_event < json_size + 400, (json_size, per_event)
    gated.open()
