"""Search and the list API: every kind of text, filters, cursors, tenancy, bounds, backfill.

Runs on SQLite and PostgreSQL (``db_url``): each database indexes the same words.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command

from agentwatch.server.storage import ListOrder, SessionFilter, Storage, search
from agentwatch.server.storage.migrate import alembic_config
from agentwatch.server.testing import TestServer
from tests.conftest import require_pg
from tests.server.conftest import V2, event
from tests.server.otlp_requests import (
    PROTOBUF,
    logs_pb,
    new_span_id,
    new_trace_id,
    post,
    span,
    traces_request,
)

BASE = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


def found(v2: V2, **params: Any) -> list[str]:
    answer = v2.get("/api/sessions", **params)
    assert answer.status_code == 200, answer.text
    return [s["id"] for s in answer.json()["sessions"]]


def _travel(v2: V2) -> tuple[str, str]:
    """A session with every kind of text; returns (session id, jwt)."""
    session_id, jwt = v2.create_session(tags=["trip-planner", 'say "hi"', "build 6e9e19de21c9"])
    llm = event(
        "llms",
        model="gpt-4o",
        prompt=[{"role": "user", "content": "Find a hotel in Lisbon"}],
        completion={"role": "assistant", "content": "The Pestana Palace has rooms"},
        prompt_tokens=100,
        completion_tokens=20,
    )
    tool = event(
        "tools",
        name="book_flight",
        params={"arguments": json.dumps({"note": "window seat\nvegetarian meal"})},
    )
    error = event(
        "errors",
        error_type="SeatUnavailable",
        details="no aisle seats left on TP1351",
        trigger_event_id=tool["id"],
        trigger_event_type="tools",
    )
    v2.events(jwt, [llm, tool, error]).raise_for_status()
    agent = str(uuid.uuid4())
    v2.post_jwt("/v2/create_agent", jwt, {"id": agent, "name": "Concierge"}).raise_for_status()
    v2.post_jwt(
        "/v2/update_session",
        jwt,
        {"session": {"end_state": "Fail", "end_state_reason": "overbooked flight"}},
    ).raise_for_status()
    return session_id, jwt


@pytest.mark.parametrize("few_docs", [5000, 0], ids=["rare-words", "common-words"])
def test_search_finds_every_kind_of_text(
    v2: V2, monkeypatch: pytest.MonkeyPatch, few_docs: int
) -> None:
    """Both ways a word is looked up (rare: its sessions by id; common: each session read
    in order looks it up) find the same sessions."""
    monkeypatch.setattr(search, "_FEW_DOCS", few_docs)
    session_id, _ = _travel(v2)
    plain, _ = v2.create_session(tags=["other"])
    for q in (
        "lisbon hotel",  # prompt words, any order
        "pestana",  # completion
        "book_flight",  # tool name
        "vegetarian",  # a word after \n inside JSON carried in a string
        "SeatUnavailable",  # error type
        "aisle seats",  # error message
        "concierge",  # agent name
        "trip-planner",  # tag, as a phrase of its words
        "overbooked",  # end state reason
        session_id,  # the id in full
        session_id[:8],  # the short id the header shows
        "pesta",  # a prefix of the last word
        "6e9e19de21c9",  # what PostgreSQL's parser would read as a number and split
        "6e9e1",  # and a prefix of it
    ):
        assert found(v2, q=q) == [session_id], q
    assert found(v2, q="n") == []  # a JSON escape's letter is no word
    assert found(v2, q='"') == []  # nor are the quotes of the stored tags
    assert found(v2, q='say "hi"') == [session_id]  # the words of a tag, or the tag itself
    assert found(v2, q="window aisle") == [session_id]  # words of two events: one session
    assert found(v2, q="window zebra") == []  # every word must be found
    assert found(v2, q="other") == [plain]


def test_changed_text_is_found(v2: V2) -> None:
    session_id, jwt = v2.create_session(tags=["first"])
    tool = event("tools", name="lookup", params={"city": "Porto"})
    v2.events(jwt, [tool]).raise_for_status()
    v2.post_jwt(
        "/v2/update_events", jwt, {"events": [{**tool, "params": {"city": "Faro"}}]}
    ).raise_for_status()
    assert found(v2, q="faro") == [session_id]
    v2.post_jwt("/v2/update_session", jwt, {"session": {"tags": ["second"]}}).raise_for_status()
    assert found(v2, q="second") == [session_id]
    assert found(v2, q="first") == []


def test_filters_model_agent_errors_cost_duration(v2: V2) -> None:
    travel, _ = _travel(v2)
    cheap, jwt = v2.create_session(init_timestamp=BASE.isoformat())
    v2.events(
        jwt, [event("llms", model="claude-3-5-haiku", prompt_tokens=1, completion_tokens=1)]
    ).raise_for_status()
    v2.post_jwt(
        "/v2/update_session",
        jwt,
        {
            "session": {
                "end_state": "Success",
                "end_timestamp": (BASE + dt.timedelta(hours=2)).isoformat(),
            }
        },
    ).raise_for_status()
    assert found(v2, model="gpt-4o") == [travel]
    assert set(found(v2, model=["gpt-4o", "claude-3-5-haiku"])) == {travel, cheap}
    assert found(v2, agent="Concierge") == [travel]
    assert found(v2, has_errors="true") == [travel]
    assert found(v2, has_errors="false") == [cheap]
    assert found(v2, min_cost="0.0004") == [travel]  # 100 x $2.50/1M + 20 x $10/1M
    assert found(v2, max_cost="0.0001") == [cheap]
    assert found(v2, min_duration="3600") == [cheap]
    assert found(v2, max_duration="60") == [travel]
    listed = v2.get("/api/sessions").json()
    assert listed["total"] == 2
    row = next(s for s in listed["sessions"] if s["id"] == travel)
    assert row["main_agent"] == "Concierge"
    assert row["agent_count"] == 1
    assert row["models"] == ["gpt-4o"]
    assert row["truncated"] == []
    assert v2.get("/api/sessions", has_errors="true").json()["total"] == 1


def _otlp(server: TestServer, spans: list[dict[str, Any]]) -> None:
    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        answer = post(http, "/v1/traces", traces_request(spans, PROTOBUF), PROTOBUF, server.api_key)
    assert answer.status_code == 200, answer.text


def test_otlp_spans_are_searched_and_follow_their_trace(v2: V2, server: TestServer) -> None:
    trace, root_id = new_trace_id(), new_span_id()
    llm = span(
        trace,
        parent=root_id,
        name="chat",
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.input.messages": json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "translate marmalade"}]}]
            ),
        },
    )
    _otlp(server, [llm])  # first into the trace's own session
    root = span(
        trace,
        root_id,
        name="root",
        attributes={
            "session.id": "conversation-7",
            "user.id": "ana@example.com",
            "metadata": json.dumps({"plan": "gold", "seats": 3}),
        },
    )
    _otlp(server, [root])  # then the trace moves to the session the root names
    (named,) = found(v2, q="marmalade")
    assert server.session(named)["session"]["external_id"] == "conversation-7"
    assert found(v2, q="conversation-7") == [named]
    assert found(v2, user="ana@example.com") == [named]
    assert found(v2, metadata="plan=gold") == [named]
    assert found(v2, metadata="seats=3") == [named]
    assert found(v2, metadata="plan=silver") == []
    assert found(v2, model="gpt-4o-mini") == [named]
    assert v2.get("/api/sessions").json()["total"] == 1  # the derived session is gone


def test_otlp_log_records_are_searched_whichever_comes_first(v2: V2, server: TestServer) -> None:
    """GenAI message events sent as log records, before their span and after it, and
    after the trace moved to the session a later span names."""
    early, late = new_trace_id(), new_trace_id()
    first = span(early, attributes={"gen_ai.operation.name": "chat"})
    second = span(late, attributes={"gen_ai.operation.name": "chat"})

    def log(trace: str, span_id: str, text: str) -> None:
        record = {"trace_id": trace, "span_id": span_id, "event_name": "gen_ai.user.message"}
        body = logs_pb([{**record, "body": {"content": text}}])
        with httpx.Client(base_url=server.url, transport=server.transport) as http:
            assert post(http, "/v1/logs", body, PROTOBUF, server.api_key).status_code == 200

    log(early, str(first["span_id"]), "quince jelly")  # before its span
    _otlp(server, [first])
    _otlp(server, [second])
    log(late, str(second["span_id"]), "elderflower cordial")  # after it
    (one,) = found(v2, q="quince")
    (two,) = found(v2, q="elderflower cordial")
    assert one != two
    # The early trace moves to the session a later span of it names; its records follow.
    _otlp(server, [span(early, attributes={"session.id": "picnic"})])
    (moved,) = found(v2, q="quince")
    assert server.session(moved)["session"]["external_id"] == "picnic"
    assert found(v2, q="quince elderflower") == []


def test_search_never_crosses_projects(v2: V2, other_project: V2) -> None:
    mine, _ = _travel(v2)
    theirs, _ = _travel(other_project)
    assert found(v2, q="lisbon") == [mine]
    assert found(other_project, q="lisbon") == [theirs]
    # Their ids, in full or as prefixes, as text or as an id filter, find nothing.
    assert found(v2, q=theirs) == []
    assert found(v2, q=theirs[:8]) == []
    assert found(v2, id=theirs) == []
    assert found(v2, agent="Concierge") == [mine]
    assert v2.get("/api/sessions", q="lisbon").json()["total"] == 1


def _cursor(parts: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def test_forged_cursors_are_400_naming_the_parameter(v2: V2) -> None:
    for n in range(3):
        v2.create_session(init_timestamp=(BASE + dt.timedelta(minutes=n)).isoformat())
    page = v2.get("/api/sessions", limit=1, sort="cost").json()
    assert page["next_cursor"]
    assert (
        v2.get("/api/sessions", limit=1, sort="cost", cursor=page["next_cursor"]).status_code == 200
    )
    for params in (
        {"cursor": "garbage!!"},
        {"cursor": _cursor(["cost", 2**63, "x"]), "sort": "cost"},
        {"cursor": _cursor(["cost", 1e400, "x"]), "sort": "cost"},
        {"cursor": _cursor(["time", "9999-12-31T23:59:59-23:59", "x"])},
        {"cursor": _cursor(["time", "0001-01-01T00:00:00+23:59", "x"])},
        {"cursor": _cursor(["time", "2025-01-01T00:00:00", ""])},
        {"cursor": page["next_cursor"]},  # made for sort=cost
        {"cursor": page["next_cursor"], "sort": "cost", "order": "asc"},
        {"cursor": "A" * 5000},
    ):
        answer = v2.get("/api/sessions", **params)
        assert answer.status_code == 400, (params, answer.text)
        assert answer.json()["message"].startswith("cursor:"), answer.text


def test_oversized_filters_are_400_naming_the_limit(v2: V2) -> None:
    answer = v2.get("/api/sessions", tag=[f"t{i}" for i in range(2000)])
    assert answer.status_code == 400
    assert answer.json()["message"] == "tag: at most 20 values, got 2000"
    answer = v2.get("/api/sessions", q="word " * 200)
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("q: at most 500 characters")
    answer = v2.get("/api/sessions", model="m" * 201)
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("model:")
    assert v2.get("/api/sessions", limit=500).status_code == 200
    answer = v2.get("/api/sessions", limit=501)
    assert answer.status_code == 400
    assert answer.json()["message"] == "limit: expected 1 to 500, got 501"


def test_list_rows_cap_large_strings_the_detail_has_them_whole(v2: V2) -> None:
    reason = "x" * 3_000_000
    tags = [f"tag-{i:03d}-" + "y" * 150 for i in range(200)]
    session_id, jwt = v2.create_session(tags=tags)
    v2.post_jwt(
        "/v2/update_session", jwt, {"session": {"end_state": "Fail", "end_state_reason": reason}}
    ).raise_for_status()
    answer = v2.get("/api/sessions")
    assert len(answer.content) < 50_000
    (row,) = answer.json()["sessions"]
    assert row["truncated"] == ["end_state_reason", "tags"]
    assert row["end_state_reason"] == "x" * 1999 + "\u2026"
    assert row["tags"] == tags[: len(row["tags"])]
    assert 0 < len(row["tags"]) <= 50
    detail = v2.get(f"/api/sessions/{session_id}").json()["session"]
    assert detail["end_state_reason"] == reason
    assert detail["tags"] == tags


def test_sort_both_ways_walks_every_session_once(v2: V2) -> None:
    ids = []
    for n in range(5):
        session_id, jwt = v2.create_session(
            init_timestamp=(BASE + dt.timedelta(minutes=n)).isoformat()
        )
        v2.events(jwt, [event("errors") for _ in range(n % 3)])
        ids.append(session_id)
    for sort in ("time", "errors", "tokens", "duration", "cost"):
        for order in ("asc", "desc"):
            seen: list[str] = []
            cursor = None
            while True:
                params: dict[str, Any] = {"limit": 2, "sort": sort, "order": order}
                if cursor:
                    params["cursor"] = cursor
                page = v2.get("/api/sessions", **params).json()
                seen += [s["id"] for s in page["sessions"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert sorted(seen) == sorted(ids), (sort, order)
    newest = found(v2, order="desc")
    assert found(v2, order="asc") == newest[::-1]
    errors = [
        s["counts"]["errors"]
        for s in v2.get("/api/sessions", sort="errors", order="asc").json()["sessions"]
    ]
    assert errors == sorted(errors)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables yet (``db_url``'s PostgreSQL ones come migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    cluster = require_pg(request.getfixturevalue("pg_cluster"))
    name = "m_" + uuid.uuid4().hex
    cluster.execute(f"CREATE DATABASE {name}")
    try:
        yield cluster.url_for(name)
    finally:
        cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_migration_indexes_what_was_stored_before(empty_db_url: str) -> None:
    """A database at revision 0006 holding sessions, events and agents: after the upgrade,
    search finds their text and the list knows their models."""
    db_url = empty_db_url
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0006")
            now = dt.datetime(2025, 5, 1, 9, 0)
            conn.execute(
                sa.text("INSERT INTO projects (id, name, created_at) VALUES ('p', 'old', :t)"),
                {"t": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO sessions (id, project_id, init_timestamp, end_state,"
                    " end_state_reason, tags, created_at, updated_at) VALUES"
                    " ('11111111-1111-4111-8111-111111111111', 'p', :t, 'Fail', 'quota exhausted',"
                    " '[\"legacy\"]', :t, :t)"
                ),
                {"t": now},
            )
            data = json.dumps({"prompt": "summarise the quarterly figures", "model": "gpt-4o"})
            conn.execute(
                sa.text(
                    "INSERT INTO events (session_id, id, project_id, event_type, init_timestamp,"
                    " model, data, received_at) VALUES ('11111111-1111-4111-8111-111111111111',"
                    " 'e1', 'p', 'llms', :t, 'gpt-4o', :d, :t)"
                ),
                {"t": now, "d": data},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO agents (session_id, id, name, created_at) VALUES"
                    " ('11111111-1111-4111-8111-111111111111', 'a1', 'Analyst', :t)"
                ),
                {"t": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO traces (project_id, trace_id, session_id, explicit, created_at)"
                    " VALUES ('p', 't1', '11111111-1111-4111-8111-111111111111', false, :t)"
                ),
                {"t": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO span_logs (project_id, trace_id, span_id, id, ordinal, data,"
                    " received_at) VALUES ('p', 't1', 's1', 'l1', 0, :d, :t)"
                ),
                {"t": now, "d": json.dumps({"body": {"content": "gooseberry"}})},
            )
    finally:
        engine.dispose()
    storage = Storage.open(db_url)
    try:

        def search(**fields: Any) -> list[str]:
            page = storage.session_page("p", SessionFilter(**fields), ListOrder(), None, 10)
            return [r.id for r in page.rows]

        for q in ("quarterly figures", "quota", "legacy", "analyst", "11111111", "gooseberry"):
            assert search(text=q) == ["11111111-1111-4111-8111-111111111111"], q
        assert search(models=("gpt-4o",)) == ["11111111-1111-4111-8111-111111111111"]
        assert search(text="nothing") == []
    finally:
        storage.close()


@pytest.mark.parametrize("path", ["/api/sessions"])
def test_the_list_api_needs_a_key(server: TestServer, path: str) -> None:
    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        assert http.get(path, params={"q": "x"}).status_code == 401


def test_a_search_counts_to_a_bound(v2: V2, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_COUNTED matches, a text search's total is "at least" (total_exact false);
    without text every session is counted."""
    from agentwatch.server.storage import sessionlist

    monkeypatch.setattr(sessionlist, "MAX_COUNTED", 2)
    for _ in range(3):
        v2.create_session(tags=["alike"])
    assert v2.get("/api/sessions", q="alike").json() | {"sessions": []} == {
        "sessions": [],
        "total": 2,
        "total_exact": False,
        "sort": "time",
        "order": "desc",
        "next_cursor": None,
    }
    listed = v2.get("/api/sessions").json()
    assert (listed["total"], listed["total_exact"]) == (3, True)
