"""The drilldown API on SQLite and PostgreSQL: the span tree as compact rows, one event in
full, changes since a signed cursor, and two sessions compared; another project's ids are
404 exactly like unknown ones."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from agentwatch.server.testing import TestServer

from .conftest import V2, event
from .otlp_requests import JSON, SECOND, agent_with_llm_call, post, traces_json

T0 = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)


def at(ms: int) -> str:
    return (T0 + dt.timedelta(milliseconds=ms)).isoformat()


def rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(zip(answer["columns"], row, strict=True)) for row in answer["rows"]]


def seed_tree(v2: V2) -> tuple[str, str, dict[str, str]]:
    """A v2 session whose tree is agent -> action -> llm, agent -> tool, an orphan, an
    error; sent children first. Returns (session id, jwt, name -> event id)."""
    session_id, jwt = v2.create_session(init_timestamp=at(0))
    ids = {
        name: str(uuid.uuid4()) for name in ("agent", "action", "llm", "tool", "orphan", "error")
    }

    def ev(key: str, v2_type: str, parent: str | None, span: tuple[int, int], **f: Any) -> Any:
        parent_id = ids.get(parent or "", parent)
        start, end = span
        return event(
            v2_type,
            id=ids[key],
            parent_id=parent_id,
            init_timestamp=at(start),
            end_timestamp=at(end),
            **f,
        )

    llm = {
        "model": "gpt-4o",
        "prompt": "hi",
        "completion": "hello",
        "prompt_tokens": 10,
        "completion_tokens": 5,
    }
    first = [
        ev("llm", "llms", "action", (20, 40), **llm),
        ev("tool", "tools", "agent", (60, 70), name="search", params={"q": "x"}),
        ev("orphan", "actions", "never-sent", (5, 6), action_type="lost"),
    ]
    later = [
        ev("action", "actions", "agent", (10, 50), action_type="plan"),
        ev("agent", "agents", None, (0, 90), kind="agent", name="planner"),
        ev(
            "error",
            "errors",
            "tool",
            (65, 65),
            error_type="Boom",
            trigger_event_id=ids["tool"],
            trigger_event_type="tools",
        ),
    ]
    assert v2.events(jwt, first).status_code == 200
    assert v2.events(jwt, later).status_code == 200
    return session_id, jwt, ids


def test_tree_rows_are_in_tree_order_without_payloads(v2: V2) -> None:
    session_id, _, ids = seed_tree(v2)
    answer = v2.get(f"/api/sessions/{session_id}/tree")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    by_id = {v: k for k, v in ids.items()}
    shown = [(by_id[r["id"]], r["depth"]) for r in rows(body)]
    assert shown == [
        ("agent", 0),
        ("action", 1),
        ("llm", 2),
        ("tool", 1),
        ("error", 2),
        ("orphan", 0),
    ]
    llm = next(r for r in rows(body) if r["id"] == ids["llm"])
    assert llm == {
        "id": ids["llm"],
        "parent": ids["action"],
        "depth": 2,
        "kind": "llm",
        "type": "llms",
        "label": "gpt-4o",
        "status": "unset",
        "start": 20.0,
        "end": 40.0,
        "agent": None,
        "model": "gpt-4o",
        "tokens": 15,
        "cost": llm["cost"],
        "error": 0,
    }
    assert llm["cost"] > 0
    assert [r["error"] for r in rows(body) if r["id"] == ids["error"]] == [1]
    assert "hello" not in answer.text
    assert '"q"' not in answer.text
    assert body["session"]["id"] == session_id
    assert body["truncated"] is False
    assert body["t0"] == T0.timestamp() * 1000


def test_one_event_in_full(v2: V2) -> None:
    session_id, _, ids = seed_tree(v2)
    answer = v2.get(f"/api/sessions/{session_id}/events/{ids['llm']}")
    assert answer.status_code == 200, answer.text
    ev = answer.json()["event"]
    assert (ev["id"], ev["completion"], ev["prompt_tokens"]) == (ids["llm"], "hello", 10)
    assert v2.get(f"/api/sessions/{session_id}/events/nope").status_code == 404


def test_changes_since_the_cursor(v2: V2) -> None:
    session_id, jwt, ids = seed_tree(v2)
    cursor = v2.get(f"/api/sessions/{session_id}/tree").json()["cursor"]
    first = v2.get(f"/api/sessions/{session_id}/changes", cursor=cursor).json()
    # The cursor looks back a grace period: what was just written may come again.
    assert {r["id"] for r in rows(first)} <= set(ids.values())
    late = event("tools", name="late", init_timestamp=at(95), end_timestamp=at(99))
    assert v2.events(jwt, [late]).status_code == 200
    updated = {
        "id": ids["tool"],
        "event_type": "tools",
        "returns": {"n": 3},
        "end_timestamp": at(80),
    }
    assert v2.post_jwt("/v2/update_events", jwt, {"events": [updated]}).status_code == 200
    ended = v2.post_jwt("/v2/update_session", jwt, {"session": {"end_state": "Success"}})
    assert ended.status_code == 200
    answer = v2.get(f"/api/sessions/{session_id}/changes", cursor=first["cursor"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    changed = {r["id"]: r for r in rows(body)}
    assert {late["id"], ids["tool"]} <= set(changed)
    assert changed[ids["tool"]]["end"] == 80.0
    assert changed[late["id"]]["depth"] is None
    assert body["session"]["end_state"] == "Success"
    assert body["more"] is False


def test_changes_pages_through_a_burst(v2: V2, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentwatch.server import drilldown

    monkeypatch.setattr(drilldown, "CHANGES_LIMIT", 3)
    session_id, jwt = v2.create_session()
    cursor = v2.get(f"/api/sessions/{session_id}/tree").json()["cursor"]
    sent = [event("actions", action_type=f"a{i}") for i in range(7)]
    assert v2.events(jwt, sent).status_code == 200
    seen: set[str] = set()
    for _ in range(5):
        body = v2.get(f"/api/sessions/{session_id}/changes", cursor=cursor).json()
        seen |= {r["id"] for r in rows(body)}
        cursor = body["cursor"]
        if not body["more"]:
            break
    assert seen == {e["id"] for e in sent}


def _moved(cursor: str) -> str:
    """The cursor with its time moved back a day and its signature kept."""
    import base64

    body, mac = cursor.split(".")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    written, rest = raw.split("|", 1)
    earlier = dt.datetime.fromisoformat(written) - dt.timedelta(days=1)
    forged = base64.urlsafe_b64encode(f"{earlier.isoformat()}|{rest}".encode()).decode()
    return forged.rstrip("=") + "." + mac


@pytest.mark.parametrize(
    "forge",
    [
        lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),  # the MAC changed
        _moved,  # the position moved, the MAC kept
        lambda c: c.split(".")[0],  # no MAC
        lambda c: "garbage",
        lambda c: "",
        lambda c: "...",
        lambda c: "%%%." + c.split(".")[1],
    ],
)
def test_a_forged_cursor_is_400(v2: V2, forge: Any) -> None:
    session_id, _, _ = seed_tree(v2)
    cursor = v2.get(f"/api/sessions/{session_id}/tree").json()["cursor"]
    answer = v2.get(f"/api/sessions/{session_id}/changes", cursor=forge(cursor))
    assert answer.status_code == 400, answer.text
    assert "cursor" in answer.json()["message"]


def test_a_cursor_of_another_session_is_400(v2: V2) -> None:
    one, _, _ = seed_tree(v2)
    two, _, _ = seed_tree(v2)
    cursor = v2.get(f"/api/sessions/{one}/tree").json()["cursor"]
    assert v2.get(f"/api/sessions/{two}/changes", cursor=cursor).status_code == 400


def test_another_projects_session_and_events_are_404_like_unknown_ones(
    v2: V2, other_project: V2
) -> None:
    session_id, _, ids = seed_tree(v2)
    theirs_cursor = v2.get(f"/api/sessions/{session_id}/tree").json()["cursor"]
    mine, _, _ = seed_tree(other_project)
    unknown = str(uuid.uuid4())
    for path in (
        f"/api/sessions/{session_id}/tree",
        f"/api/sessions/{session_id}/events/{ids['llm']}",
        f"/api/compare?a={mine}&b={session_id}",
        f"/api/compare?a={session_id}&b={mine}",
    ):
        stolen = other_project.http.get(path, headers=other_project.key_headers())
        missing = other_project.http.get(
            path.replace(session_id, unknown), headers=other_project.key_headers()
        )
        assert stolen.status_code == missing.status_code == 404, path
        assert stolen.json()["message"] == missing.json()["message"].replace(unknown, session_id)
    stolen = other_project.get(f"/api/sessions/{session_id}/changes", cursor=theirs_cursor)
    assert stolen.status_code == 404
    # Their own session with an event id of ours: no such event in it.
    assert other_project.get(f"/api/sessions/{mine}/events/{ids['llm']}").status_code == 404
    assert v2.get("/api/sessions/not-a-uuid/tree").status_code == 404
    assert v2.http.get(f"/api/sessions/{session_id}/tree").status_code == 401


def test_otlp_sessions_have_trees(server: TestServer, v2: V2) -> None:
    session_id = str(uuid.uuid4())
    spans, root, llm = agent_with_llm_call(session_id, int(T0.timestamp()) * SECOND)
    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        sent = post(http, "/v1/traces", traces_json(spans), JSON, server.api_key)
        assert sent.status_code == 200, sent.text
    body = v2.get(f"/api/sessions/{session_id}/tree").json()
    shown = [(r["id"], r["depth"], r["kind"]) for r in rows(body)]
    assert shown == [(root, 0, shown[0][2]), (llm, 1, "llm")]
    assert rows(body)[1]["tokens"] == 10
    full = v2.get(f"/api/sessions/{session_id}/events/{llm}").json()["event"]
    assert full["model"] == "gpt-4o"


def test_compare_aligns_two_sessions(v2: V2) -> None:
    def run(steps: list[dict[str, Any]], state: str) -> str:
        session_id, jwt = v2.create_session(init_timestamp=at(0))
        timed = [
            {**s, "init_timestamp": at(10 * i), "end_timestamp": at(10 * i + 5)}
            for i, s in enumerate(steps)
        ]
        assert v2.events(jwt, [event(**s) for s in timed]).status_code == 200
        v2.post_jwt("/v2/update_session", jwt, {"session": {"end_state": state}})
        return session_id

    plan = {
        "event_type": "llms",
        "model": "gpt-4o",
        "prompt": "plan",
        "completion": "ok",
        "prompt_tokens": 10,
        "completion_tokens": 2,
    }
    search = {"event_type": "tools", "name": "search", "params": {"q": "x"}, "returns": [1]}
    a = run([plan, search, {**plan, "completion": "done"}], "Success")
    b = run(
        [
            plan,
            {"event_type": "tools", "name": "fetch", "params": {}},
            {**search, "returns": [2]},
            {**plan, "model": "gpt-4o-mini", "completion": "gave up"},
        ],
        "Fail",
    )
    answer = v2.get("/api/compare", a=a, b=b)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    statuses = [(p["status"], p["differs"]) for p in body["pairs"]]
    assert statuses == [
        ("match", []),
        ("only_b", []),
        ("differs", ["outputs"]),
        ("differs", ["model", "outputs"]),
    ]
    assert body["first_divergence"] == 1
    assert body["counts"] == {"match": 1, "differs": 2, "only_a": 0, "only_b": 1}
    assert body["delta"]["outcome"] == ["Success", "Fail"]
    assert body["a"]["capped"] is False
    assert body["step_limit"] == 2000
    assert body["pairs"][0]["delta"]["tokens"] == 0
    assert v2.get("/api/compare", a=a).status_code == 422
