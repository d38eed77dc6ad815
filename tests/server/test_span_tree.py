"""Every stored event is a span of its session's tree: v2 events with parents, kinds, names;
databases from before the tree brought along by the migration."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from agentwatch.server import views
from agentwatch.server.storage import Storage
from agentwatch.server.storage.migrate import alembic_config
from tests.conftest import PgCluster, require_pg
from tests.server.conftest import V2, event

T0 = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)


def at(ms: int) -> str:
    return (T0 + dt.timedelta(milliseconds=ms)).isoformat()


def test_v2_events_carry_their_parent_and_arrive_in_any_order(v2: V2) -> None:
    session_id, jwt = v2.create_session()
    agent, action, llm, tool = (str(uuid.uuid4()) for _ in range(4))
    # Children end, and so are sent, before their parents.
    first = [
        event("llms", id=llm, parent_id=action, model="gpt-4o", init_timestamp=at(20)),
        event("tools", id=tool, parent_id=agent, name="search", init_timestamp=at(60)),
    ]
    later = [
        event("actions", id=action, parent_id=agent, action_type="plan", init_timestamp=at(10)),
        event("agents", id=agent, kind="agent", name="planner", init_timestamp=at(0)),
    ]
    assert v2.events(jwt, first).status_code == 200
    assert v2.events(jwt, later).status_code == 200

    stored = v2.get(f"/api/sessions/{session_id}").json()["events"]
    assert [(e["id"], e["parent_id"], e["kind"], e["name"]) for e in stored] == [
        (agent, None, "agent", "planner"),
        (action, agent, "action", "plan"),
        (llm, action, "llm", "gpt-4o"),
        (tool, agent, "tool", "search"),
    ]
    exported = v2.get(f"/v2/sessions/{session_id}/export").json()
    assert exported["llms"][0]["parent_id"] == action
    assert exported["tools"][0]["parent_id"] == agent
    # An agent span is not an action, whatever AgentOps' export calls it.
    assert [a["kind"] for a in exported["actions"]] == ["agent", "action"]
    counts = v2.get(f"/api/sessions/{session_id}").json()["session"]["counts"]
    assert counts["llms"] == counts["tools"] == counts["actions"] == counts["other"] == 1


def test_kinds_names_and_statuses_come_from_the_v2_types(v2: V2) -> None:
    session_id, jwt = v2.create_session()
    sent = [
        event("actions", action_type="plan", init_timestamp=at(0)),
        event("tools", tool_name="search", init_timestamp=at(1)),
        event("errors", error_type="ValueError", init_timestamp=at(2)),
        event("llms", model="claude-3-5-sonnet", init_timestamp=at(3)),
        event("apis", name="weather", init_timestamp=at(4)),
        event("custom", init_timestamp=at(5)),
        event("actions", kind="retrieval", name="docs", status="ok", init_timestamp=at(6)),
    ]
    assert v2.events(jwt, sent).status_code == 200
    stored = v2.get(f"/api/sessions/{session_id}").json()["events"]
    assert [(e["kind"], e["name"], e["status"]) for e in stored] == [
        ("action", "plan", "unset"),
        ("tool", "search", "unset"),
        ("error", "ValueError", "error"),
        ("llm", "claude-3-5-sonnet", "unset"),
        ("other", "weather", "unset"),
        ("other", None, "unset"),
        ("retrieval", "docs", "ok"),
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "banana"}, "events[1].kind: expected one of llm, tool, action, agent"),
        ({"kind": 3}, "events[1].kind: expected one of"),
        ({"status": "fine"}, "events[1].status: expected one of unset, ok, error"),
        ({"parent_id": {"id": 1}}, "events[1].parent_id: expected a string"),
        ({"parent_id": "x" * 129}, "events[1].parent_id: longer than 128 characters"),
    ],
)
def test_a_bad_tree_field_is_refused_by_name(v2: V2, fields: dict[str, Any], message: str) -> None:
    _, jwt = v2.create_session()
    response = v2.events(jwt, [event(), event(**fields)])
    assert response.status_code == 422
    assert response.json()["message"].startswith(message)


def test_an_event_cannot_be_its_own_parent(v2: V2) -> None:
    _, jwt = v2.create_session()
    loop = event()
    loop["parent_id"] = loop["id"]
    response = v2.events(jwt, [loop])
    assert response.status_code == 422
    assert "events[0].parent_id: an event cannot be its own parent" in response.json()["message"]


# -- the two v2 bugs found with agentops 0.3.26 -------------------------------------------


def test_a_reattached_session_keeps_its_earliest_start(v2: V2) -> None:
    session_id, jwt = v2.create_session(init_timestamp=at(0))
    # A second process re-attaches (inherited session id) and sends its own, later start.
    _, jwt2 = v2.create_session(session_id, init_timestamp=at(60_000))
    body = {"session": {"init_timestamp": at(60_000), "tags": ["b"]}}
    assert v2.post_jwt("/v2/update_session", jwt2, body).status_code == 200
    stored = v2.get(f"/api/sessions/{session_id}").json()["session"]
    assert stored["init_timestamp"] == at(0)
    # An earlier start still moves it back.
    body = {"session": {"init_timestamp": at(-1000)}}
    assert v2.post_jwt("/v2/update_session", jwt, body).status_code == 200
    assert v2.get(f"/api/sessions/{session_id}").json()["session"]["init_timestamp"] == at(-1000)


def test_a_new_end_state_without_a_reason_clears_the_old_reason(v2: V2) -> None:
    session_id, jwt = v2.create_session()
    failed = {"session": {"end_state": "Fail", "end_state_reason": "tool crashed"}}
    assert v2.post_jwt("/v2/update_session", jwt, failed).status_code == 200
    assert v2.post_jwt("/v2/update_session", jwt, {"session": {"tags": ["x"]}}).status_code == 200
    stored = v2.get(f"/api/sessions/{session_id}").json()["session"]
    assert stored["end_state_reason"] == "tool crashed"  # no new state: the reason stays
    succeeded = {"session": {"end_state": "Success"}}
    assert v2.post_jwt("/v2/update_session", jwt, succeeded).status_code == 200
    stored = v2.get(f"/api/sessions/{session_id}").json()["session"]
    assert (stored["end_state"], stored["end_state_reason"]) == ("Success", None)


# -- a database from before the tree ------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A database with no tables at all (not the migrated template)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    cluster: PgCluster = require_pg(request.getfixturevalue("pg_cluster"))
    name = "old_" + uuid.uuid4().hex
    cluster.execute(f"CREATE DATABASE {name}")
    try:
        yield cluster.url_for(name)
    finally:
        cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _old_event(session_id: str, event_type: str, ms: int, **data: Any) -> dict[str, Any]:
    event_id = str(uuid.uuid4())
    return {
        "session_id": session_id,
        "id": event_id,
        "project_id": "p",
        "event_type": event_type,
        "init_timestamp": (T0 + dt.timedelta(milliseconds=ms)).replace(tzinfo=None),
        "data": json.dumps({"id": event_id, "event_type": event_type, **data}),
        "received_at": T0.replace(tzinfo=None),
    }


def test_the_migration_brings_sessions_stored_before_the_tree_along(empty_db_url: str) -> None:
    engine = sa.create_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0003")
            now = T0.replace(tzinfo=None)
            conn.execute(
                sa.text("INSERT INTO projects (id, name, created_at) VALUES ('p', 'old', :t)"),
                {"t": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO sessions (id, project_id, init_timestamp, created_at, updated_at)"
                    " VALUES ('s', 'p', :t, :t, :t)"
                ),
                {"t": now},
            )
            rows = [
                _old_event("s", "actions", 0, action_type="plan"),
                _old_event("s", "tools", 1, tool_name="search"),
                _old_event("s", "errors", 2, error_type="KeyError"),
                _old_event("s", "llms", 3),
                _old_event("s", "custom", 4),
            ]
            conn.execute(
                sa.text(
                    "INSERT INTO events (session_id, id, project_id, event_type, init_timestamp,"
                    " data, received_at) VALUES (:session_id, :id, :project_id, :event_type,"
                    " :init_timestamp, :data, :received_at)"
                ),
                rows,
            )
            conn.execute(sa.text("UPDATE events SET model = 'gpt-4o' WHERE event_type = 'llms'"))
    finally:
        engine.dispose()

    storage = Storage.open(empty_db_url)
    try:
        detail = storage.session_detail("p", "s")
        assert detail is not None
        shown = views.session_detail(*detail)["events"]
    finally:
        storage.close()
    assert [(e["kind"], e["name"], e["status"], e["parent_id"]) for e in shown] == [
        ("action", "plan", "unset", None),
        ("tool", "search", "unset", None),
        ("error", "KeyError", "error", None),
        ("llm", "gpt-4o", "unset", None),
        ("other", None, "unset", None),
    ]
    assert [e["id"] for e in shown] == [r["id"] for r in rows]
