"""Spans of the same traces sent by many threads at once: one tree, exact counters, no
deadlock (PostgreSQL runs the requests truly in parallel; SQLite serialises them)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

import httpx
import pytest

from agentwatch.server.otlp.sessions import named_session, trace_session
from agentwatch.server.testing import TestServer
from tests.server.otlp_requests import (
    PROTOBUF,
    new_span_id,
    new_trace_id,
    post,
    rejected,
    span,
    traces_request,
)

THREADS = 8


@pytest.fixture
def http(server: TestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, transport=server.transport) as client:
        yield client


def test_concurrent_requests_of_one_conversation(server: TestServer, http: httpx.Client) -> None:
    traces = [new_trace_id() for _ in range(6)]
    spans = []
    for i, trace in enumerate(traces):
        root = new_span_id()
        # Every other trace names the session on its root only: its children, sent first
        # by some thread, go to the trace's own session and must move.
        named = {"session.id": "shared-conversation"} if i % 2 == 0 else {}
        spans.append(span(trace, root, name=f"root{i}", attributes=named))
        spans.extend(
            span(
                trace,
                parent=root,
                name=f"llm{i}.{j}",
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": 10,
                },
            )
            for j in range(5)
        )
    errors: list[BaseException] = []

    def send(seed: int) -> None:
        rng = random.Random(seed)
        mine = rng.sample(spans, k=len(spans) // 2) + spans[seed::THREADS]
        try:
            for start in range(0, len(mine), 4):
                chunk = mine[start : start + 4]
                with httpx.Client(base_url=server.url, transport=server.transport) as client:
                    response = post(
                        client,
                        "/v1/traces",
                        traces_request(chunk, PROTOBUF),
                        PROTOBUF,
                        server.api_key,
                    )
                assert rejected(response) == (0, ""), response.text
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=send, args=(seed,)) for seed in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    shared = server.session(named_session(server.project_id, "shared-conversation")[0])
    named_traces = traces[0::2]
    assert {e["trace_id"] for e in shared["events"]} == set(named_traces)
    assert len(shared["events"]) == 6 * len(named_traces)
    assert shared["session"]["counts"]["llms"] == 5 * len(named_traces)
    assert shared["session"]["tokens"]["prompt"] == 50 * len(named_traces)
    for trace in named_traces:
        with pytest.raises(KeyError):
            server.session(trace_session(server.project_id, trace))
    for trace in traces[1::2]:
        own = server.session(trace_session(server.project_id, trace))
        assert own["session"]["event_count"] == 6
        assert own["session"]["counts"]["llms"] == 5
