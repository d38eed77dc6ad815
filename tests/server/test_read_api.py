"""JSON read API: session list filters and pagination, drilldown, project stats, OpenAPI."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from agentwatch.server.testing import TestServer

from .conftest import V2, event

BASE = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


def _at(minutes: int) -> str:
    return (BASE + dt.timedelta(minutes=minutes)).isoformat()


def _seed(v2: V2) -> dict[str, str]:
    """Five sessions a minute apart with varied tags, states and reasons; returns name -> id."""
    specs: dict[str, dict[str, Any]] = {
        "s0": {"tags": ["prod", "crew"], "end_state": "Success"},
        "s1": {"tags": ["prod"], "end_state": "Fail", "end_state_reason": "Rate limit exceeded"},
        "s2": {"tags": ["dev", "crew"]},
        "s3": {"tags": ["prod", "crew"], "end_state": "Fail", "end_state_reason": "timeout"},
        "s4": {"tags": ["dev_100%"]},
    }
    ids = {}
    for minute, (name, fields) in enumerate(specs.items()):
        session_id, jwt = v2.create_session(init_timestamp=_at(minute), tags=fields["tags"])
        v2.events(
            jwt,
            [event("llms", model="gpt-4o", prompt_tokens=100 * (minute + 1), completion_tokens=10)],
        )
        update = {k: v for k, v in fields.items() if k != "tags"}
        if update:
            update["end_timestamp"] = _at(minute + 1)
            v2.post_jwt("/v2/update_session", jwt, {"session": update}).raise_for_status()
        ids[name] = session_id
    return ids


def _names(ids: dict[str, str], answer: dict[str, object]) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    sessions = answer["sessions"]
    assert isinstance(sessions, list)
    return [by_id[s["id"]] for s in sessions]


def test_list_filters(v2: V2) -> None:
    ids = _seed(v2)

    def names(**params: object) -> list[str]:
        answer = v2.get("/api/sessions", **params)
        assert answer.status_code == 200, answer.text
        return _names(ids, answer.json())

    assert names() == ["s4", "s3", "s2", "s1", "s0"]
    assert names(tag="crew") == ["s3", "s2", "s0"]
    assert names(tag=["crew", "prod"]) == ["s3", "s0"]
    assert names(end_state="Fail") == ["s3", "s1"]
    assert names(end_state="indeterminate") == ["s4", "s2"]
    assert names(since=_at(1), until=_at(3)) == ["s2", "s1"]
    assert names(q="RATE LIMIT") == ["s1"]
    assert names(q="dev") == ["s4", "s2"]
    assert names(q="100%") == ["s4"]  # words: "dev_100%" holds "dev" and "100"
    assert names(q="_") == []  # no word in it: only a tag "_" would match
    assert names(q='"') == []  # nor the quotes of the tags' JSON


def test_list_rows_carry_counts_tokens_cost_duration_running(v2: V2) -> None:
    ids = _seed(v2)
    rows = {s["id"]: s for s in v2.get("/api/sessions").json()["sessions"]}
    s1 = rows[ids["s1"]]
    assert s1["counts"]["llms"] == 1
    assert s1["tokens"] == {"prompt": 200, "completion": 10, "cached": 0, "total": 210}
    assert s1["cost"] == 0.0006  # 200 x $2.50/1M + 10 x $10/1M
    assert s1["duration_seconds"] == 60.0
    assert s1["running"] is False
    assert rows[ids["s2"]]["running"] is True


def test_keyset_pagination_walks_every_session_once(v2: V2) -> None:
    ids = _seed(v2)
    # Two more sessions with the same start time: ties are broken by id.
    for _ in range(2):
        v2.create_session(init_timestamp=_at(2))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = v2.get("/api/sessions", **params).json()
        assert len(page["sessions"]) <= 2
        seen += [s["id"] for s in page["sessions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7
    assert set(ids.values()) <= set(seen)


def test_bad_query_parameters_are_4xx_naming_them(v2: V2) -> None:
    for params, status in (
        ({"cursor": "???"}, 400),
        ({"since": "last week"}, 422),
        ({"limit": 0}, 400),
        ({"limit": 501}, 400),
        ({"end_state": "Done"}, 400),
        ({"sort": "name"}, 400),
        ({"order": "up"}, 400),
        ({"min_cost": "cheap"}, 400),
        ({"min_duration": "5", "max_duration": "1"}, 400),
        ({"has_errors": "maybe"}, 400),
        ({"metadata": "novalue"}, 400),
    ):
        answer = v2.get("/api/sessions", **params)
        assert answer.status_code == status, (params, answer.text)
        assert set(answer.json()) == {"path", "message"}
        assert answer.json()["message"].startswith(next(iter(params)).replace("max_", "min_"))


def test_drilldown_has_events_in_time_order_with_every_field(v2: V2, server: TestServer) -> None:
    session_id, jwt = v2.create_session(host_env={"OS": {"OS": "Linux"}})
    later = event("tools", init_timestamp=_at(5), name="search", custom={"nested": [1, 2]})
    earlier = event("actions", init_timestamp=_at(1), action_type="plan", screenshot=None)
    v2.events(jwt, [later, earlier]).raise_for_status()
    agent = str(uuid.uuid4())
    v2.post_jwt("/v2/create_agent", jwt, {"id": agent, "name": "planner"}).raise_for_status()
    detail = v2.get(f"/api/sessions/{session_id}").json()
    assert [e["id"] for e in detail["events"]] == [earlier["id"], later["id"]]
    assert detail["events"][1]["data"] == later
    assert detail["session"]["host_env"] == {"OS": {"OS": "Linux"}}
    assert detail["agents"][0]["name"] == "planner"
    assert detail == server.session(session_id)
    assert v2.get(f"/api/sessions/{session_id.upper()}").status_code == 200
    assert v2.get("/api/sessions/not-a-uuid").status_code == 404


def test_project_stats_over_a_time_range(v2: V2, other_project: V2) -> None:
    _seed(v2)
    other_project.create_session()
    everything = v2.get("/api/stats").json()
    assert everything["sessions"] == 5
    assert everything["events"] == 5
    assert everything["llms"] == 5
    assert everything["prompt_tokens"] == 1500
    assert everything["completion_tokens"] == 50
    window = v2.get("/api/stats", since=_at(1), until=_at(3)).json()
    assert window["sessions"] == 2
    assert window["prompt_tokens"] == 500
    assert window["cost_usd"] == "0.00145"  # 500 x $2.50/1M + 20 x $10/1M
    assert v2.get("/api/stats", since="nope").status_code == 422


def test_read_api_requires_a_key(v2: V2) -> None:
    assert v2.http.get("/api/sessions").status_code == 401
    assert (
        v2.http.get("/api/stats", headers={"X-Agentops-Api-Key": str(uuid.uuid4())}).status_code
        == 401
    )


def test_openapi_documents_the_read_api(v2: V2) -> None:
    spec = v2.http.get("/openapi.json").json()
    for path in ("/api/sessions", "/api/sessions/{session_id}", "/api/stats", "/v2/create_events"):
        assert path in spec["paths"]
    assert v2.http.get("/docs").status_code == 200


def test_drilldown_events_can_be_paged(v2: V2) -> None:
    session_id, jwt = v2.create_session()
    sent = [event("actions", init_timestamp=_at(i % 3)) for i in range(7)]  # ties on time
    v2.events(jwt, sent).raise_for_status()
    everything = v2.get(f"/api/sessions/{session_id}").json()
    assert everything["next_event_cursor"] is None
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"event_limit": 3}
        if cursor:
            params["event_cursor"] = cursor
        page = v2.get(f"/api/sessions/{session_id}", **params).json()
        seen += [e["id"] for e in page["events"]]
        cursor = page["next_event_cursor"]
        if cursor is None:
            break
    assert seen == [e["id"] for e in everything["events"]]
    assert len(seen) == 7
    bad = v2.get(f"/api/sessions/{session_id}", event_cursor="nope")
    assert bad.status_code == 400
    assert bad.json()["message"].startswith("event_cursor")
