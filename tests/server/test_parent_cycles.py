"""Parent links that loop across events (A's parent B, B's parent A) are stored as sent, and
every read places each span once, on SQLite and PostgreSQL.

Ingest is order-free (a parent may arrive later, in another request), so only what one
event shows wrong by itself is refused (an event naming itself as its parent); a cycle
through several events is taken as sent, over v2 and OTLP alike (README "The v2
protocol", parent links). The reads that draw or walk the tree must then never loop or
fail: the tree endpoint (the cycle broken at its earliest span), its live changes, the
JSON session, the v2 export, the session page and the compare view.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from agentwatch.server.testing import TestServer

from .conftest import V2, event
from .otlp_requests import (
    JSON,
    PROTOBUF,
    SECOND,
    new_span_id,
    new_trace_id,
    post,
    rejected,
    span,
    traces_json,
    traces_request,
)

T0 = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)


def at(ms: int) -> str:
    return (T0 + dt.timedelta(milliseconds=ms)).isoformat()


def tree(v2: V2, session_id: str) -> list[dict[str, Any]]:
    answer = v2.get(f"/api/sessions/{session_id}/tree")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]


def seed_cycles(v2: V2) -> tuple[str, dict[str, str]]:
    """A v2 session with a 2-cycle sent in one request (a <-> b), a 3-cycle sent one event
    per request (c -> d -> e -> c), a span hanging under the first cycle and a plain root."""
    session_id, jwt = v2.create_session(init_timestamp=at(0))
    names = ("a", "b", "c", "d", "e", "under", "root")
    ids = {name: str(uuid.uuid4()) for name in names}
    parent = {"a": "b", "b": "a", "c": "d", "d": "e", "e": "c", "under": "a", "root": None}
    start = {"root": 0, "b": 10, "a": 20, "under": 30, "d": 40, "e": 50, "c": 60}

    def wire(name: str) -> dict[str, Any]:
        up = parent[name]
        return event(
            "actions",
            id=ids[name],
            parent_id=None if up is None else ids[up],
            action_type=name,
            init_timestamp=at(start[name]),
            end_timestamp=at(start[name] + 5),
        )

    assert v2.events(jwt, [wire(n) for n in ("a", "b", "under", "root")]).status_code == 200
    for name in ("c", "d", "e"):
        assert v2.events(jwt, [wire(name)]).status_code == 200
    return session_id, ids


def test_a_v2_cycle_is_stored_as_sent_and_every_read_places_each_span_once(
    v2: V2, server: TestServer
) -> None:
    session_id, ids = seed_cycles(v2)
    name_of = {v: k for k, v in ids.items()}

    # The links are stored as sent ...
    stored = v2.get(f"/api/sessions/{session_id}")
    assert stored.status_code == 200, stored.text
    parents = {name_of[e["id"]]: e["parent_id"] for e in stored.json()["events"]}
    assert parents == {
        "a": ids["b"],
        "b": ids["a"],
        "c": ids["d"],
        "d": ids["e"],
        "e": ids["c"],
        "under": ids["a"],
        "root": None,
    }
    # ... and the tree places each span once, each cycle broken at its earliest span.
    rows = tree(v2, session_id)
    assert [(name_of[r["id"]], r["depth"]) for r in rows] == [
        ("root", 0),
        ("b", 0),  # the 2-cycle's earliest: a root
        ("a", 1),
        ("under", 2),
        ("d", 0),  # the 3-cycle's earliest
        ("c", 1),
        ("e", 2),
    ]
    assert {name_of[r["id"]]: r["parent"] for r in rows} == parents  # the column is as stored

    exported = v2.get(f"/v2/sessions/{session_id}/export")
    assert exported.status_code == 200, exported.text
    assert sorted(name_of[e["id"]] for e in exported.json()["actions"]) == sorted(ids)

    cursor = v2.get(f"/api/sessions/{session_id}/tree").json()["cursor"]
    changes = v2.get(f"/api/sessions/{session_id}/changes", cursor=cursor)
    assert changes.status_code == 200, changes.text

    other, _ = seed_cycles(v2)
    compared = v2.get("/api/compare", a=session_id, b=other)
    assert compared.status_code == 200, compared.text

    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        page = http.get(f"/sessions/{session_id}")
        assert page.status_code == 200, page.text
        drawn = http.get(f"/sessions/{session_id}/tree")
        assert drawn.status_code == 200, drawn.text
        assert len(drawn.json()["rows"]) == len(ids)


def test_an_otlp_cycle_is_stored_as_sent_and_read_like_a_v2_one(v2: V2, server: TestServer) -> None:
    session_id = str(uuid.uuid4())
    trace, p, q, r = new_trace_id(), new_span_id(), new_span_id(), new_span_id()
    start = int(T0.timestamp()) * SECOND
    named = {"session.id": session_id}
    spans = [
        span(trace, p, q, name="p", start=start + 2 * SECOND, attributes=named),
        span(trace, q, p, name="q", start=start + SECOND, attributes=named),  # p <-> q
        span(trace, r, p, name="r", start=start + 3 * SECOND, attributes=named),
    ]
    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        sent = post(http, "/v1/traces", traces_json(spans), JSON, server.api_key)
        assert sent.status_code == 200, sent.text
        page = http.get(f"/sessions/{session_id}")
        assert page.status_code == 200, page.text

    rows = tree(v2, session_id)
    assert [(r_["label"], r_["depth"], r_["parent"]) for r_ in rows] == [
        ("q", 0, p),  # the earliest of the cycle is a root, its stored parent kept
        ("p", 1, q),
        ("r", 2, p),
    ]
    exported = v2.get(f"/v2/sessions/{session_id}/export")
    assert exported.status_code == 200, exported.text
    detail = v2.get(f"/api/sessions/{session_id}")
    assert detail.status_code == 200, detail.text
    assert {e["id"]: e["parent_id"] for e in detail.json()["events"]} == {p: q, q: p, r: p}


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
def test_an_otlp_span_naming_itself_as_parent_is_refused_by_name_as_over_v2(
    v2: V2, server: TestServer, content_type: str
) -> None:
    session_id = str(uuid.uuid4())
    trace, selfish, fine = new_trace_id(), new_span_id(), new_span_id()
    named = {"session.id": session_id}
    spans = [
        span(trace, selfish, selfish, name="selfish", attributes=named),
        span(trace, fine, selfish, name="fine", attributes=named),
    ]
    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        sent = post(
            http, "/v1/traces", traces_request(spans, content_type), content_type, server.api_key
        )
    count, message = rejected(sent)
    assert count == 1
    assert "parentSpanId: a span cannot be its own parent" in message
    # The other span is stored, under the parent it names (which never arrived: a root).
    assert [(r["label"], r["parent"], r["depth"]) for r in tree(v2, session_id)] == [
        ("fine", selfish, 0)
    ]
    # The v2 route refuses the same thing, by name.
    _, jwt = v2.create_session()
    own = str(uuid.uuid4())
    answer = v2.events(jwt, [event("actions", id=own, parent_id=own)])
    assert answer.status_code == 422
    assert "parent_id: an event cannot be its own parent" in answer.json()["message"]
