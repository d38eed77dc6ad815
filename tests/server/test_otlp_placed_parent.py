"""``agentwatch.parent_event_id``: the SDK places the application's spans in its session.

Our SDK sends the application's captured OpenTelemetry spans with the event they nest
under (README "The application's own spans"); the receiver takes that attribute as the
span's parent instead of its OpenTelemetry parent, "" as none, and such a span is no
root of the session (its status does not say how the session ended). On both databases.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentwatch.server.otlp.mapping import PARENT_EVENT_ID
from agentwatch.server.testing import TestServer
from tests.server.otlp_requests import (
    JSON,
    PROTOBUF,
    new_span_id,
    new_trace_id,
    post,
    rejected,
    span,
    traces_request,
)

PLACED = PARENT_EVENT_ID  # the attribute the SDK sends (telemetry/capture.py says it too)


@pytest.fixture
def http(server: TestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, transport=server.transport) as client:
        yield client


def send(
    http: httpx.Client, server: TestServer, spans: list[dict[str, Any]], encoding: str
) -> None:
    body = traces_request(spans, encoding)
    response = post(http, "/v1/traces", body, encoding, server.api_key)
    assert rejected(response) == (0, ""), response.text


@pytest.mark.parametrize("encoding", [PROTOBUF, JSON])
def test_the_placed_parent_wins_over_the_otel_parent(
    server: TestServer, http: httpx.Client, encoding: str
) -> None:
    session_id = str(uuid.uuid4())
    trace_id = new_trace_id()
    remote_parent, outer_id, self_id = new_span_id(), new_span_id(), new_span_id()
    step = str(uuid.uuid4())  # a v2 event of the session, the SDK's span the code ran in
    named = {"session.id": session_id}
    spans = [
        # Its OTel parent is a span that was never captured (an incoming request's).
        span(trace_id, outer_id, remote_parent, name="outer", attributes={**named, PLACED: step}),
        # Under its OTel parent: no attribute.
        span(trace_id, None, outer_id, name="inner", attributes=named),
        # A root in OTel terms placed at the session's top ("") whose ERROR does not
        # end the session.
        span(trace_id, None, None, name="top", status=2, attributes={**named, PLACED: ""}),
        # An attribute that is no id (too long), or the span itself, is ignored: the OTel
        # parent stays.
        span(trace_id, None, outer_id, name="odd", attributes={**named, PLACED: "x" * 129}),
        span(trace_id, self_id, outer_id, name="self", attributes={**named, PLACED: self_id}),
    ]
    send(http, server, spans, encoding)
    detail = server.session(session_id)
    events = {e["name"]: e for e in detail["events"] if e["kind"] != "error"}
    assert events["outer"]["parent_id"] == step
    assert events["inner"]["parent_id"] == outer_id
    assert events["top"]["parent_id"] is None
    assert events["odd"]["parent_id"] == outer_id
    assert events["self"]["parent_id"] == outer_id
    assert detail["session"]["end_state"] == "Indeterminate"
    # The error event of "top" is still under it.
    [error] = [e for e in detail["events"] if e["kind"] == "error"]
    assert error["parent_id"] == events["top"]["id"]


def test_a_placed_parent_cannot_reach_another_projects_session(
    server: TestServer, http: httpx.Client
) -> None:
    """The attribute names a parent inside the span's own session only: a span naming a
    session of another project goes to this project's own session of that id, whatever
    parent it names, and the other project's session is untouched."""
    other_project = server.storage.create_project("other")
    other_key, _ = server.storage.create_api_key(other_project.id)
    foreign = str(uuid.uuid4())
    body = traces_request([span(new_trace_id(), attributes={"session.id": foreign})], JSON)
    assert rejected(post(http, "/v1/traces", body, JSON, other_key)) == (0, "")
    mine = span(new_trace_id(), attributes={"session.id": foreign, PLACED: "e"})
    assert rejected(
        post(http, "/v1/traces", traces_request([mine], JSON), JSON, server.api_key)
    ) == (0, "")  # taken into this project's own session of that id (tenancy.py)
    foreign_row = server.storage.session(other_project.id, foreign)
    assert foreign_row is not None
    assert foreign_row.event_count == 1  # theirs, untouched


def test_the_sdk_and_the_server_name_the_same_attribute() -> None:
    """The SDK (telemetry/capture.py) sends what the receiver reads: one wire name."""
    from agentwatch.telemetry.capture import PARENT_EVENT_ID as SENT

    assert SENT == PARENT_EVENT_ID == "agentwatch.parent_event_id"
