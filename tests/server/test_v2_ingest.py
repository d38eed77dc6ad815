"""v2 ingest through HTTP, on SQLite and PostgreSQL: what is stored and what is answered."""

from __future__ import annotations

import concurrent.futures
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from agentwatch.server.storage.schema import events
from agentwatch.server.testing import TestServer

from .conftest import V2, event

# What agentops 0.3.26 sends (research/agentops.md §1.6): its whole Session.__dict__.
AGENTOPS_SESSION: dict[str, Any] = {
    "end_timestamp": None,
    "end_state": "Indeterminate",
    "init_timestamp": "2025-01-24T15:43:20.101000+00:00",
    "tags": ["production", "crewai"],
    "video": None,
    "end_state_reason": None,
    "host_env": {"SDK": {"AgentOps SDK Version": "0.3.26"}, "OS": {"OS": "Linux"}},
    "config": "",
    "jwt": None,
    "_lock": "",
    "_end_session_lock": "",
    "token_cost": "",
    "_session_url": "",
    "event_counts": {"llms": 0, "tools": 0, "actions": 0, "errors": 0, "apis": 0},
}


def agentops_batch(session_id: str, agent_id: str) -> list[dict[str, Any]]:
    return [
        {
            "id": str(uuid.uuid4()),
            "event_type": "actions",
            "init_timestamp": "2025-01-24T15:43:21.000000+00:00",
            "end_timestamp": "2025-01-24T15:43:21.008000+00:00",
            "params": {"y": 2, "x": 1},
            "returns": [1, 2],
            "agent_id": None,
            "session_id": session_id,
            "action_type": "plan_trip",
            "name": "plan_trip",
            "logs": None,
            "screenshot": None,
        },
        {
            "id": str(uuid.uuid4()),
            "event_type": "tools",
            "init_timestamp": "2025-01-24T15:43:21.010000+00:00",
            "end_timestamp": "2025-01-24T15:43:21.300000+00:00",
            "params": {"q": "flights to Rome"},
            "returns": {"results": 3},
            "agent_id": agent_id,
            "session_id": session_id,
            "name": "web_search",
            "tool_name": "web_search",
            "logs": None,
        },
        {
            "id": str(uuid.uuid4()),
            "event_type": "llms",
            "init_timestamp": "2025-01-24T15:43:21.400000+00:00",
            "end_timestamp": "2025-01-24T15:43:22.900000+00:00",
            "params": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            "returns": "",
            "agent_id": None,
            "session_id": session_id,
            "thread_id": None,
            "prompt": [{"role": "user", "content": "hi"}],
            "prompt_tokens": 3,
            "completion": {"role": "assistant", "content": "Hello!", "tool_calls": None},
            "completion_tokens": 2,
            "cost": None,
            "model": "gpt-4o-mini-2024-07-18",
        },
        {
            "id": str(uuid.uuid4()),
            "event_type": "errors",
            "init_timestamp": "2025-01-24T15:43:23.000000+00:00",
            "end_timestamp": "2025-01-24T15:43:23.000500+00:00",
            "params": None,
            "returns": None,
            "agent_id": None,
            "session_id": session_id,
            "trigger_event": "",
            "exception": None,
            "error_type": "ValueError",
            "code": "E1",
            "details": "boom",
            "logs": "Traceback (most recent call last):\n  ...\nValueError: boom\n",
        },
    ]


def test_agentops_0_3_26_session_lands_whole(v2: V2, server: TestServer) -> None:
    session_id = str(uuid.uuid4())
    _, jwt = v2.create_session(session_id, **AGENTOPS_SESSION)
    agent_id = str(uuid.uuid4())  # never registered through create_agent
    batch = agentops_batch(session_id, agent_id)
    assert v2.events(jwt, batch).json() == "Success"
    end = {
        **AGENTOPS_SESSION,
        "end_state": "Success",
        "end_state_reason": "all tasks done",
        "end_timestamp": "2025-01-24T15:44:02.500000+00:00",
        "jwt": jwt,
        "is_running": False,
    }
    answer = v2.post_jwt("/v2/update_session", jwt, {"session": end})
    assert answer.status_code == 200
    # 3 prompt + 2 completion tokens of gpt-4o-mini at $0.15 / $0.60 per 1M.
    assert Decimal(answer.json()["token_cost"]) == Decimal("0.00000165")
    detail = server.session(session_id)
    session = detail["session"]
    assert session["end_state"] == "Success"
    assert session["running"] is False
    assert session["tags"] == ["production", "crewai"]
    assert session["counts"] == {
        "llms": 1,
        "tools": 1,
        "actions": 1,
        "errors": 1,
        "apis": 0,
        "other": 0,
    }
    assert session["tokens"]["prompt"] == 3
    assert session["tokens"]["completion"] == 2
    assert session["duration_seconds"] == 42.399
    assert [e["data"] for e in detail["events"]] == batch  # every field, as sent
    llm = detail["events"][2]
    assert llm["completion"] == batch[2]["completion"]  # also at the top level
    assert llm["data"]["cost"] is None
    assert llm["cost"] == 1.65e-06  # priced by the server: 3 x $0.15/1M + 2 x $0.60/1M
    assert detail["events"][1]["agent_id"] == agent_id


def test_retried_batch_is_stored_once(v2: V2, server: TestServer) -> None:
    session_id, jwt = v2.create_session()
    batch = [
        event("llms", model="gpt-4o", prompt_tokens=1000, completion_tokens=100) for _ in range(50)
    ]
    batch += [event("tools") for _ in range(50)]
    for _ in range(3):
        assert v2.events(jwt, batch).status_code == 200
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        statuses = list(pool.map(lambda _: v2.events(jwt, batch).status_code, range(5)))
    assert statuses == [200] * 5
    session = server.session(session_id)
    assert len(server.session(session_id)["events"]) == 100
    assert session["session"]["event_count"] == 100
    assert session["session"]["counts"]["llms"] == 50
    assert session["session"]["tokens"]["prompt"] == 50_000
    # gpt-4o: 1000 x $2.50/1M + 100 x $10/1M = $0.0035 per call.
    assert Decimal(session["session"]["cost_usd"]) == Decimal("0.175")


def test_concurrent_batches_keep_exact_aggregates(v2: V2, server: TestServer) -> None:
    session_id, jwt = v2.create_session()
    batches = [
        [
            event("llms", model="gpt-4o-mini", prompt_tokens=7, completion_tokens=3, cost=0.001)
            for _ in range(20)
        ]
        for _ in range(8)
    ]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda b: v2.events(jwt, b + batches[0]).raise_for_status(), batches))
    session = server.session(session_id)["session"]
    assert session["counts"]["llms"] == 160
    assert session["tokens"] == {"prompt": 1120, "completion": 480, "cached": 0, "total": 1600}
    assert Decimal(session["cost_usd"]) == Decimal("0.16")


def test_duplicate_ids_within_one_batch_count_once(v2: V2, server: TestServer) -> None:
    session_id, jwt = v2.create_session()
    one = event("errors", error_type="E")
    assert v2.events(jwt, [one, one, {**one, "details": "second copy"}]).status_code == 200
    session = server.session(session_id)
    assert session["session"]["counts"]["errors"] == 1
    assert session["events"][0]["data"] == one  # first wins


def test_create_session_reattaches_within_the_project(v2: V2, server: TestServer) -> None:
    session_id, first = v2.create_session(tags=["a"])
    v2.events(first, [event()]).raise_for_status()
    again = v2.post_key(
        "/v2/create_session", {"session": {"session_id": session_id, "tags": ["a", "b"]}}
    )
    assert again.status_code == 200
    assert again.json()["created"] is False
    v2.events(again.json()["jwt"], [event()]).raise_for_status()
    session = server.session(session_id)["session"]
    assert session["event_count"] == 2
    assert session["tags"] == ["a", "b"]


def test_error_keeps_its_trigger_link(v2: V2, server: TestServer) -> None:
    session_id, jwt = v2.create_session()
    trigger = event("tools", name="search")
    error = event(
        "errors", error_type="Timeout", trigger_event_id=trigger["id"], trigger_event_type="tools"
    )
    v2.events(jwt, [trigger, error]).raise_for_status()
    stored = {e["id"]: e for e in server.session(session_id)["events"]}
    assert stored[error["id"]]["trigger_event_id"] == trigger["id"]
    assert stored[error["id"]]["trigger_event_type"] == "tools"


def test_old_error_events_without_id_or_init_timestamp(v2: V2, server: TestServer) -> None:
    session_id, jwt = v2.create_session()
    old = {
        "event_type": "errors",
        "timestamp": "2024-11-19T10:00:00+00:00",
        "error_type": "KeyError",
        "trigger_event_id": None,
        "trigger_event_type": None,
    }
    for _ in range(2):  # no id: a content-derived one still dedupes the retry
        v2.events(jwt, [old]).raise_for_status()
    events = server.session(session_id)["events"]
    assert len(events) == 1
    assert events[0]["init_timestamp"] == "2024-11-19T10:00:00+00:00"


def test_unknown_event_types_are_kept_and_counted_as_other(v2: V2, server: TestServer) -> None:
    session_id, jwt = v2.create_session()
    v2.events(jwt, [event("apis"), event("retrieval", name="kb lookup")]).raise_for_status()
    detail = server.session(session_id)
    assert detail["session"]["counts"]["apis"] == 1
    assert detail["session"]["counts"]["other"] == 1
    assert sorted(e["event_type"] for e in detail["events"]) == ["apis", "retrieval"]


def test_llm_cost_given_by_client_is_kept_and_unknown_model_is_unpriced(
    v2: V2, server: TestServer
) -> None:
    session_id, jwt = v2.create_session()
    given = event("llms", model="gpt-4o", prompt_tokens=10, completion_tokens=10, cost="0.5")
    unknown = event("llms", model="my-local-llama", prompt_tokens=10, completion_tokens=10)
    v2.events(jwt, [given, unknown]).raise_for_status()
    detail = server.session(session_id)
    costs = {e["id"]: e["cost"] for e in detail["events"]}
    assert costs == {given["id"]: 0.5, unknown["id"]: None}
    assert detail["session"]["unpriced_llms"] == 1
    assert detail["session"]["cost_usd"] == "0.5"


def test_update_events_merges_and_moves_counters(v2: V2, server: TestServer) -> None:
    session_id, jwt = v2.create_session()
    start = event("llms", model="gpt-4o-mini", prompt_tokens=100, completion=None)
    v2.events(jwt, [start]).raise_for_status()
    update = {
        "id": start["id"],
        "event_type": "llms",
        "completion": "done",
        "completion_tokens": 50,
    }
    assert v2.post_jwt("/v2/update_events", jwt, {"events": [update]}).status_code == 200
    detail = server.session(session_id)
    assert len(detail["events"]) == 1
    stored = detail["events"][0]
    assert stored["data"]["completion"] == "done"
    assert stored["data"]["prompt_tokens"] == 100
    assert detail["session"]["tokens"]["completion"] == 50
    assert detail["session"]["counts"]["llms"] == 1
    # 100 x $0.15/1M + 50 x $0.60/1M
    assert Decimal(detail["session"]["cost_usd"]) == Decimal("0.000045")


def test_agents_and_threads(v2: V2, server: TestServer) -> None:
    session_id, jwt = v2.create_session()
    agent = str(uuid.uuid4())
    assert (
        v2.post_jwt("/v2/create_agent", jwt, {"id": agent, "name": "researcher"}).json()
        == "Success"
    )
    assert v2.post_jwt("/v2/create_agent", jwt, {"id": agent, "name": "writer"}).status_code == 200
    assert (
        v2.post_jwt(
            "/v2/create_thread", jwt, {"id": str(uuid.uuid4()), "agent_id": agent}
        ).status_code
        == 200
    )
    agents = server.session(session_id)["agents"]
    assert [(a["id"], a["name"]) for a in agents] == [(agent, "writer")]


def test_update_session_sets_end_and_tags(v2: V2, server: TestServer) -> None:
    session_id, jwt = v2.create_session(tags=["x"])
    answer = v2.post_jwt(
        "/v2/update_session",
        jwt,
        {"session": {"tags": ["y", "z"], "end_state": "Fail", "end_state_reason": "boom"}},
    )
    assert answer.json()["token_cost"] == "0.00"
    session = server.session(session_id)["session"]
    assert session["tags"] == ["y", "z"]
    assert session["end_state"] == "Fail"
    assert session["end_timestamp"] is not None
    assert not session["running"]


def test_update_session_keeps_the_sdks_latest_drop_counts(v2: V2, server: TestServer) -> None:
    session_id, jwt = v2.create_session()
    assert server.session(session_id)["session"]["dropped_events"] == {}
    v2.post_jwt("/v2/update_session", jwt, {"session": {"dropped_events": {"queue_full": 3}}})
    assert server.session(session_id)["session"]["dropped_events"] == {"queue_full": 3}
    # Running totals: the later update replaces the earlier counts; one without them keeps them.
    v2.post_jwt(
        "/v2/update_session",
        jwt,
        {"session": {"dropped_events": {"queue_full": 5, "http_400": 2}}},
    )
    v2.post_jwt("/v2/update_session", jwt, {"session": {"end_state": "Success"}})
    session = server.session(session_id)["session"]
    assert session["dropped_events"] == {"http_400": 2, "queue_full": 5}
    assert session["end_state"] == "Success"


def test_malformed_drop_counts_are_refused_naming_the_field(v2: V2, server: TestServer) -> None:
    session_id, jwt = v2.create_session()
    for bad in ([1, 2], {"queue_full": -1}, {"queue_full": "3"}, {"x" * 65: 1}, {"a": True}):
        answer = v2.post_jwt("/v2/update_session", jwt, {"session": {"dropped_events": bad}})
        assert answer.status_code == 422, bad
        assert "session.dropped_events: expected an object of reason -> count" in answer.text
    assert server.session(session_id)["session"]["dropped_events"] == {}


def test_reauthorize_jwt_and_stats_and_export(v2: V2) -> None:
    session_id, _ = v2.create_session()
    fresh = v2.post_key("/v2/reauthorize_jwt", {"session_id": session_id})
    assert fresh.status_code == 200
    assert fresh.json()["status"] == "Success"
    jwt = fresh.json()["jwt"]
    v2.events(
        jwt, [event("llms", model="gpt-4o", prompt_tokens=1, completion_tokens=1), event("errors")]
    )
    stats = v2.get(f"/v2/sessions/{session_id}/stats").json()
    assert stats == {
        "session_id": session_id,
        "cost": "0.0000125",
        "events": 2,
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "errors": 1,
    }
    export = v2.get(f"/v2/sessions/{session_id}/export").json()
    assert len(export["llms"]) == 1
    assert len(export["errors"]) == 1
    assert export["tools"] == []
    assert export["session"]["id"] == session_id


def test_developer_errors_answer_204(v2: V2) -> None:
    body = {
        "sdk_version": "0.3.26",
        "type": "KeyError",
        "message": "'messages'",
        "stack_trace": "Traceback ...",
        "host_env": {"OS": {}},
        "session_id": str(uuid.uuid4()),
    }
    answer = v2.post_key("/v2/developer_errors", body)
    assert answer.status_code == 204
    assert answer.content == b""


def test_unknown_session_is_404(v2: V2, server: TestServer) -> None:
    token = server.app.state.context.signer.issue(str(uuid.uuid4()), server.project_id, None)
    answer = v2.events(token, [event()])
    assert answer.status_code == 404
    assert answer.json() == {"path": "/v2/create_events", "message": "unknown session"}
    assert v2.post_key("/v2/reauthorize_jwt", {"session_id": str(uuid.uuid4())}).status_code == 404
    assert v2.get(f"/v2/sessions/{uuid.uuid4()}/stats").status_code == 404


def test_health(v2: V2) -> None:
    assert v2.http.get("/health").status_code == 200


def test_non_finite_numbers_are_kept_readable(v2: V2, server: TestServer) -> None:
    session_id = str(uuid.uuid4())
    # Python SDKs' json.dumps lets NaN and Infinity through; reads must still be valid JSON.
    body = '{"session": {"session_id": "' + session_id + '", "host_env": {"CPU": NaN}}}'
    headers = {**v2.key_headers(), "Content-Type": "application/json"}
    jwt = v2.http.post("/v2/create_session", content=body, headers=headers).json()["jwt"]
    events = '{"events": [{"id": "e1", "event_type": "actions", "params": {"x": Infinity}}]}'
    headers = {"Authorization": f"Bearer {jwt}", "Content-Type": "application/json"}
    assert v2.http.post("/v2/create_events", content=events, headers=headers).status_code == 200
    detail = v2.get(f"/api/sessions/{session_id}").json()
    assert detail["session"]["host_env"] == {"CPU": "nan"}
    assert detail["events"][0]["params"] == {"x": "inf"}


def test_batches_of_every_shape_read_back_whole(
    v2: V2, other_project: V2, server: TestServer
) -> None:
    # On PostgreSQL each batch leaves out the columns NULL in all of its rows, so batches of
    # different shapes run different statements. Into one session: tool calls (no model or
    # tokens), LLM calls whose counts are all zero, linked actions and errors, a retry of the
    # first, a batch with one refused event; and another project's batch naming our ids.
    session_id, jwt = v2.create_session()
    tools = [event("tools", name="search") for _ in range(3)]
    zeros = {"prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0, "cost": 0}
    llms = [event("llms", model="gpt-4o", **zeros) for _ in range(2)]
    linked = [
        event("actions", action_type="plan", agent_id="a1", parent_id=tools[0]["id"]),
        event("errors", trigger_event_id=tools[1]["id"], trigger_event_type="tools"),
    ]
    for batch in (tools, llms, linked, tools):
        assert v2.events(jwt, batch).status_code == 200
    refused = v2.events(jwt, [event("tools", name="kept"), event("llms", prompt_tokens="many")])
    assert refused.status_code == 422
    assert refused.json()["accepted"] == 1
    _, other_jwt = other_project.create_session()
    theirs = [{**tools[0], "name": "theirs", "agent_id": "x"}, {**llms[0], "model": "o1"}]
    assert other_project.events(other_jwt, theirs).status_code == 200

    stored = {e["id"]: e for e in server.session(session_id)["events"]}
    assert len(stored) == 3 + 2 + 2 + 1
    for sent in tools + llms + linked:
        assert {k: stored[sent["id"]][k] for k in sent} == sent  # every field as sent
    summary = server.session(session_id)["session"]
    assert summary["counts"] == {**summary["counts"], "tools": 4, "llms": 2, "errors": 1}
    assert summary["tokens"]["prompt"] == 0
    assert Decimal(summary["cost_usd"]) == 0  # given as 0 by the client: priced, not unknown
    with server.storage.read() as conn:
        rows = conn.execute(
            sa.select(
                events.c.id,
                events.c.model,
                events.c.prompt_tokens,
                events.c.parent_id,
                events.c.trigger_event_id,
                events.c.agent_id,
            ).where(events.c.session_id == session_id)
        ).all()
    columns = {r.id: r for r in rows}
    assert [(columns[e["id"]].model, columns[e["id"]].prompt_tokens) for e in llms] == [
        ("gpt-4o", 0),
        ("gpt-4o", 0),
    ]
    assert columns[tools[0]["id"]].model is None
    assert columns[linked[0]["id"]].parent_id == tools[0]["id"]
    assert columns[linked[0]["id"]].agent_id == "a1"
    assert columns[linked[1]["id"]].trigger_event_id == tools[1]["id"]
    assert columns[tools[0]["id"]].agent_id is None  # the other project's copy changed nothing
