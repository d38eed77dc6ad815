"""A trace whose children come before its root (every turn of a long conversation, when
the root span naming the session ends last and is sent in a later request) moves into its
session. The move costs what moved, not what the session holds: no statement of it reads
the session's other events (counters, models), so a conversation's N turns are not N
scans of a growing session. Counters and models after the moves are what they would be
had every span come at once."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from agentwatch.server.otlp.sessions import named_session
from agentwatch.server.testing import TestServer, inprocess_server
from tests.server.otlp_requests import (
    PROTOBUF,
    SECOND,
    new_span_id,
    new_trace_id,
    now_ns,
    post,
    rejected,
    span,
    traces_request,
)

TURNS = 12


@pytest.fixture
def moving_server(db_url: str) -> Iterator[TestServer]:
    with inprocess_server(db_url) as server:
        yield server


def turn(
    conversation: str, start: int, model: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the children, then the root naming the conversation) of one agent turn."""
    trace, root = new_trace_id(), new_span_id()
    chat = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 20,
    }
    children = [
        span(trace, None, root, name="chat", start=start + i * SECOND, attributes=chat)
        for i in range(3)
    ]
    named = {"gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": conversation}
    return children, [
        span(trace, root, None, name="agent", start=start, end=start + 5 * SECOND, attributes=named)
    ]


def test_a_turn_moving_into_a_long_conversation_reads_none_of_its_other_events(
    moving_server: TestServer,
) -> None:
    server = moving_server
    conversation = f"conv-{uuid.uuid4()}"
    start = now_ns() - 3600 * SECOND
    statements: list[tuple[str, Any]] = []

    def listen(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        statements.append((statement, params))

    with httpx.Client(base_url=server.url, transport=server.transport) as http:

        def send(spans: list[dict[str, Any]]) -> None:
            body = traces_request(spans, PROTOBUF)
            assert rejected(post(http, "/v1/traces", body, PROTOBUF, server.api_key)) == (0, "")

        for t in range(TURNS):
            children, root = turn(conversation, start + t * 10 * SECOND, f"model-{t % 3}")
            send(children)  # a session of the trace's own, for now
            if t == TURNS - 1:
                sa.event.listen(server.storage.engine, "before_cursor_execute", listen)
            send(root)  # the trace moves into the conversation's session
        sa.event.remove(server.storage.engine, "before_cursor_execute", listen)

    session_id, _ = named_session(server.project_id, conversation)
    detail = server.session(session_id)
    assert detail["session"]["event_count"] == TURNS * 4
    assert detail["session"]["counts"]["llms"] == TURNS * 3
    assert detail["session"]["tokens"]["prompt"] == TURNS * 3 * 100
    stored = server.storage.session(server.project_id, session_id)
    assert stored is not None
    assert set(json.loads(stored.models)) == {"model-0", "model-1", "model-2"}

    scans = [
        statement
        for statement, params in statements
        if session_id in _values(params)
        and re.search(r"\bFROM events\b", statement)
        and re.search(r"count\(|sum\(|total\(|GROUP BY|max\(", statement, re.IGNORECASE)
    ]
    assert statements, "the last request was not seen"
    assert scans == []


def test_another_project_sending_the_same_trace_ids_moves_nothing_of_ours(
    moving_server: TestServer,
) -> None:
    # Attack: a second project replays our trace ids and conversation name, children first
    # then roots, so that its moves would name our traces. Each project's traces move in
    # its own sessions only: ours keep every span and counter, theirs hold their copies.
    server = moving_server
    other = server.storage.create_project(f"other-{uuid.uuid4().hex[:8]}").id
    other_key, _ = server.storage.create_api_key(other)
    conversation = f"conv-{uuid.uuid4()}"
    start = now_ns() - 3600 * SECOND
    turns = [turn(conversation, start + t * 10 * SECOND, "model-0") for t in range(3)]
    with httpx.Client(base_url=server.url, transport=server.transport) as http:

        def send(spans: list[dict[str, Any]], key: str) -> None:
            body = traces_request(spans, PROTOBUF)
            assert rejected(post(http, "/v1/traces", body, PROTOBUF, key)) == (0, "")

        for children, root in turns:
            send(children, server.api_key)
            send(root, server.api_key)
        for children, root in turns:
            send(children, other_key)
            send(root, other_key)

    ours, _ = named_session(server.project_id, conversation)
    theirs, _ = named_session(other, conversation)
    assert ours != theirs
    mine = server.session(ours)
    assert mine["session"]["event_count"] == 3 * 4
    assert mine["session"]["counts"]["llms"] == 3 * 3
    their_detail = server.storage.session_detail(other, theirs)
    assert their_detail is not None
    assert their_detail[0].event_count == 3 * 4
    assert server.storage.session_detail(other, ours) is None  # not readable across projects


def _values(params: Any) -> list[Any]:
    """Every value bound to a statement, however the driver was handed them."""
    if isinstance(params, dict):
        return [v for value in params.values() for v in _values(value)]
    if isinstance(params, list | tuple):
        return [v for value in params for v in _values(value)]
    return [params]
