"""Whole sessions are streamed: the v2 export and ``GET /api/sessions/{id}`` over a real
socket, chunked, a page at a time, with the same JSON a one-piece answer had. Both databases."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from agentwatch.server import exports, wire
from agentwatch.server.pricing import PriceTable
from agentwatch.server.storage import SessionFields
from agentwatch.server.storage.schema import events
from agentwatch.server.testing import TestServer, uvicorn_server

TYPES = ("llms", "tools", "actions", "errors", "apis")
COUNT = 2 * exports.PAGE_EVENTS + 7  # three pages, the last one short


@pytest.fixture
def live(db_url: str) -> Iterator[TestServer]:
    with uvicorn_server(db_url) as server:
        yield server


def seed(server: TestServer, count: int = COUNT) -> str:
    session_id = str(uuid.uuid4())
    storage = server.storage
    storage.create_or_attach_session(server.project_id, SessionFields(session_id, tags=("big",)))
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    raw = [
        {
            "id": f"e{n:05d}",
            "event_type": TYPES[n % len(TYPES)],
            # Pairs share a start time: the keyset must break ties by id across pages.
            "init_timestamp": (start + dt.timedelta(milliseconds=n // 2)).isoformat(),
            "params": {"n": n, "text": "x" * 50},
            "model": "gpt-4o",
            "prompt_tokens": n,
        }
        for n in range(count)
    ]
    prices = PriceTable.load()
    records = [wire.event_record(e, "e", session_id, prices, start) for e in raw]
    storage.insert_events(server.project_id, session_id, records)
    return session_id


def get(server: TestServer, path: str, **params: Any) -> httpx.Response:
    headers = {"X-Agentops-Api-Key": server.api_key}
    return httpx.get(server.url + path, headers=headers, params=params, timeout=60)


def test_the_detail_is_streamed_and_equals_the_one_piece_answer(live: TestServer) -> None:
    session_id = seed(live)
    answer = get(live, f"/api/sessions/{session_id}")
    assert answer.status_code == 200
    assert answer.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in answer.headers
    assert answer.json() == json.loads(json.dumps(live.session(session_id)))
    ids = [e["id"] for e in answer.json()["events"]]
    assert ids == sorted(ids)
    assert len(ids) == COUNT
    # From a cursor, streamed as well: the events after it.
    paged = get(live, f"/api/sessions/{session_id}", event_limit=10).json()
    rest = get(live, f"/api/sessions/{session_id}", event_cursor=paged["next_event_cursor"])
    assert [e["id"] for e in rest.json()["events"]] == ids[10:]


def test_the_export_is_streamed_grouped_like_agentops(live: TestServer) -> None:
    session_id = seed(live)
    answer = get(live, f"/v2/sessions/{session_id}/export")
    assert answer.status_code == 200
    assert answer.headers.get("transfer-encoding") == "chunked"
    exported = answer.json()
    assert list(exported) == ["session", "agents", "actions", "llms", "tools", "errors"]
    assert exported["session"]["id"] == session_id
    assert exported["session"]["tags"] == ["big"]
    detail = {e["id"]: e for e in live.session(session_id)["events"]}
    for group in ("actions", "llms", "tools", "errors"):
        listed = exported[group]
        assert [e["id"] for e in listed] == sorted(e["id"] for e in listed)
        for e in listed:
            assert e == {k: v for k, v in detail[e["id"]].items() if k != "data"}
    kinds = Counter(e["event_type"] for e in exported["actions"])
    assert kinds == {"actions": COUNT // 5 + (COUNT % 5 > 2), "apis": COUNT // 5}
    assert sum(len(exported[g]) for g in ("actions", "llms", "tools", "errors")) == COUNT


def test_an_empty_session_and_an_unknown_one(live: TestServer) -> None:
    session_id = seed(live, 0)
    exported = get(live, f"/v2/sessions/{session_id}/export").json()
    assert [exported[g] for g in ("actions", "llms", "tools", "errors")] == [[], [], [], []]
    assert get(live, f"/api/sessions/{session_id}").json()["events"] == []
    for path in (f"/v2/sessions/{uuid.uuid4()}/export", f"/api/sessions/{uuid.uuid4()}"):
        assert get(live, path).status_code == 404
        assert get(live, path.replace("sessions/", "sessions/not-an-id-")).status_code == 404


def test_an_event_stored_before_depth_was_bounded_is_still_readable(live: TestServer) -> None:
    """Rows written by an older server (params 400 levels deep) must not make the session's
    reads fail: each is encoded on its own, by the stdlib when orjson gives up."""
    session_id = seed(live, 3)
    deep: Any = 1
    for _ in range(400):
        deep = {"a": deep}
    with live.storage.write() as conn:
        conn.execute(
            sa.update(events)
            .where(events.c.session_id == session_id, events.c.id == "e00001")
            .values(data=json.dumps({"event_type": "tools", "params": deep}))
        )
    for path in (f"/v2/sessions/{session_id}/export", f"/api/sessions/{session_id}"):
        answer = get(live, path)
        assert answer.status_code == 200, path
        assert "e00001" in answer.text
