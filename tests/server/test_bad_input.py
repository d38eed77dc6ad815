"""Bad v2 input, as an attacker (or a buggy SDK) sends it: never a 500, never a lost batch.

Each bad event is refused by a 422 that names it (index, id, field), the good events of the
same batch are stored, and the session stays readable (export and ``/api/sessions/{id}``
answer 200) after every bad batch. Counters saturate instead of overflowing. Both databases.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agentwatch.server.jsonbody import MAX_DEPTH
from agentwatch.server.storage.engine import BIGINT_MAX as COUNTER_MAX
from agentwatch.server.testing import TestServer
from tests.server.conftest import V2, event


def nested(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


def post_raw(v2: V2, path: str, body: str, jwt: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    headers.update({"Authorization": f"Bearer {jwt}"} if jwt else v2.key_headers())
    return v2.http.post(path, content=body.encode("utf-8", "surrogatepass"), headers=headers)


def assert_readable(v2: V2, session_id: str) -> dict[str, Any]:
    """The session's export and detail still answer 200 (nothing stored became unreadable)."""
    export = v2.get(f"/v2/sessions/{session_id}/export")
    assert export.status_code == 200, export.text
    detail = v2.get(f"/api/sessions/{session_id}")
    assert detail.status_code == 200, detail.text
    assert v2.get(f"/v2/sessions/{session_id}/stats").status_code == 200
    shown: dict[str, Any] = detail.json()
    return shown


# (name, the bad event as JSON text given a fresh id, the field its refusal must name)
BAD_EVENTS: list[tuple[str, Callable[[str], str], str]] = [
    (
        "lone surrogate in a value",
        lambda i: json.dumps(event(id=i, params={"x": "\ud800"})),
        "params.x",
    ),
    (
        "lone surrogate in a key",
        lambda i: json.dumps(event(id=i, returns={"\udfff": 1})),
        "returns.",
    ),
    ("lone surrogate in the type", lambda i: json.dumps(event("\ud800", id=i)), "event_type"),
    (
        "lone surrogate in the model",
        lambda i: json.dumps(event("llms", id=i, model="\udc00")),
        "model",
    ),
    ("params 256 deep", lambda i: json.dumps(event(id=i, params=nested(256))), "params.a"),
    ("params 600 deep", lambda i: json.dumps(event(id=i, params=nested(600))), "params.a"),
    ("params 950 deep", lambda i: json.dumps(event(id=i, params=nested(950))), "params.a"),
    (
        "params 50,000 deep",
        lambda i: json.dumps(event(id=i))[:-1] + ', "params": ' + "[" * 50_000 + "]" * 50_000 + "}",
        "params[0]",
    ),
    (
        "init_timestamp 10**400",
        lambda i: json.dumps(event(id=i, init_timestamp=10**400)),
        "init_timestamp",
    ),
    (
        "end_timestamp 1e300",
        lambda i: json.dumps(event(id=i, end_timestamp=1e300)),
        "end_timestamp",
    ),
    (
        "init_timestamp NaN",
        lambda i: json.dumps(event(id=i))[:-1] + ', "init_timestamp": NaN}',
        "init_timestamp",
    ),
    (
        "tokens 10**30",
        lambda i: json.dumps(event("llms", id=i, prompt_tokens=10**30)),
        "prompt_tokens",
    ),
    (
        "tokens 10**4000",
        lambda i: json.dumps(event("llms", id=i, completion_tokens=10**4000)),
        "completion_tokens",
    ),
    (
        "tokens Infinity",
        lambda i: json.dumps(event("llms", id=i))[:-1] + ', "prompt_tokens": Infinity}',
        "prompt_tokens",
    ),
    (
        "tokens negative",
        lambda i: json.dumps(event("llms", id=i, cached_tokens=-1)),
        "cached_tokens",
    ),
    ("cost 1e400", lambda i: json.dumps(event("llms", id=i))[:-1] + ', "cost": 1e400}', "cost"),
    ("cost 10**30", lambda i: json.dumps(event("llms", id=i, cost=10**30)), "cost"),
    ("cost NaN text", lambda i: json.dumps(event("llms", id=i, cost="NaN")), "cost"),
    ("id too long", lambda i: json.dumps(event(id=i, agent_id="x" * 129)), "agent_id"),
    ("parent is self", lambda i: json.dumps(event(id=i, parent_id=i)), "parent_id"),
]


@pytest.mark.parametrize(("name", "bad", "field"), BAD_EVENTS, ids=[b[0] for b in BAD_EVENTS])
def test_a_bad_event_is_refused_by_name_and_its_batch_stored(
    v2: V2, server: TestServer, name: str, bad: Callable[[str], str], field: str
) -> None:
    session_id, jwt = v2.create_session()
    good = [event(name=f"good {n}") for n in range(3)]
    bad_id = str(uuid.uuid4())
    body = (
        '{"events": ['
        + ", ".join([*(json.dumps(g) for g in good[:2]), bad(bad_id), json.dumps(good[2])])
        + "]}"
    )
    for path in ("/v2/create_events", "/v2/update_events"):
        answer = post_raw(v2, path, body, jwt)
        assert answer.status_code == 422, (name, answer.text)
        shown = answer.json()
        assert shown["path"] == path
        assert shown["accepted"] == 3
        [refused] = shown["refused"]
        assert refused["index"] == 2
        assert refused["id"] == bad_id
        assert refused["message"].startswith(f"events[2].{field}"), refused["message"]
        assert "events[2]" in shown["message"]
    detail = assert_readable(v2, session_id)
    assert sorted(e["id"] for e in detail["events"]) == sorted(g["id"] for g in good)
    assert detail["session"]["event_count"] == 3


def test_deep_but_accepted_params_stay_readable(v2: V2, server: TestServer) -> None:
    session_id, jwt = v2.create_session()
    deepest = nested(MAX_DEPTH - 3, "bottom")  # body, events, the event: three levels
    assert v2.events(jwt, [event(params=deepest)]).status_code == 200
    [stored] = assert_readable(v2, session_id)["events"]
    assert stored["params"] == deepest
    export = v2.get(f"/v2/sessions/{session_id}/export").json()
    assert export["actions"][0]["params"] == deepest


def test_every_event_refused_is_still_a_422_naming_each(v2: V2) -> None:
    session_id, jwt = v2.create_session()
    body = json.dumps({"events": [event(params={"x": "\ud800"}), event("llms", prompt_tokens=-5)]})
    answer = post_raw(v2, "/v2/create_events", body, jwt)
    assert answer.status_code == 422
    assert answer.json()["accepted"] == 0
    assert [r["index"] for r in answer.json()["refused"]] == [0, 1]
    assert assert_readable(v2, session_id)["events"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"session_id": None, "tags": ["\ud800"]}, "session.tags[0]"),
        ({"session_id": None, "host_env": {"\udc00": 1}}, "session.host_env."),
        ({"session_id": None, "end_state_reason": "\ud800"}, "session.end_state_reason"),
        ({"session_id": None, "host_env": nested(300)}, "session.host_env.a"),
        ({"session_id": None, "init_timestamp": 10**400}, "session.init_timestamp"),
        ({"session_id": None, "end_timestamp": 1e300}, "session.end_timestamp"),
    ],
)
def test_bad_session_fields_are_a_422_naming_the_field(
    v2: V2, body: dict[str, Any], field: str
) -> None:
    session_id, jwt = v2.create_session()
    update = post_raw(v2, "/v2/update_session", json.dumps({"session": body}), jwt)
    assert update.status_code == 422, update.text
    assert update.json()["message"].startswith(field), update.json()["message"]
    assert_readable(v2, session_id)
    fresh = str(uuid.uuid4())
    create = post_raw(
        v2, "/v2/create_session", json.dumps({"session": {**body, "session_id": fresh}})
    )
    assert create.status_code == 422, create.text
    assert create.json()["message"].startswith(field)
    assert v2.get(f"/v2/sessions/{fresh}/export").status_code == 404  # nothing half-created


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v2/create_agent", {"id": "x" * 129, "name": "a"}, "id"),
        ("/v2/create_agent", {"id": "a1", "name": "\ud800"}, "name"),
        ("/v2/create_agent", {"id": "a1", "logs": nested(200)}, "logs"),
        ("/v2/create_thread", {"id": "t" * 200}, "id"),
        ("/v2/create_thread", {"id": "t1", "agent_id": "\udc00"}, "agent_id"),
        ("/v2/developer_errors", {"message": "\ud800"}, "message"),
    ],
)
def test_bad_agents_threads_and_reports_are_a_422(
    v2: V2, path: str, body: dict[str, Any], field: str
) -> None:
    session_id, jwt = v2.create_session()
    answer = post_raw(v2, path, json.dumps(body), None if "developer" in path else jwt)
    assert answer.status_code == 422, answer.text
    assert answer.json()["message"].startswith(field), answer.json()["message"]
    assert_readable(v2, session_id)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "{",
        '{"events": [1,]}',
        "[" * 100_000,
        '{"events": "' + "x" * 10 + '\\ud800"}',
        "\xff\xfe",
    ],
)
def test_unreadable_bodies_are_400(v2: V2, body: str) -> None:
    _, jwt = v2.create_session()
    answer = post_raw(v2, "/v2/create_events", body, jwt)
    assert answer.status_code in (400, 422), answer.text
    assert answer.json()["path"] == "/v2/create_events"


def test_token_and_cost_sums_past_int64_saturate_in_a_batch_and_across_batches(
    v2: V2, server: TestServer
) -> None:
    session_id, jwt = v2.create_session()
    big = 2**62 - 1  # the largest count one event may carry
    batch = [event("llms", model="gpt-4o", prompt_tokens=big, cost=999_999) for _ in range(10)]
    assert v2.events(jwt, batch).status_code == 200
    shown = assert_readable(v2, session_id)["session"]
    assert shown["tokens"]["prompt"] == COUNTER_MAX
    assert shown["cost"] == COUNTER_MAX / 10**12  # pico-dollars, held at the top
    for _ in range(2):  # across batches: later events are still taken, counters stay put
        more = [
            event("llms", model="gpt-4o", completion_tokens=big, prompt_tokens=big)
            for _ in range(3)
        ]
        assert v2.events(jwt, more).status_code == 200
        shown = assert_readable(v2, session_id)["session"]
    assert (shown["tokens"]["prompt"], shown["tokens"]["completion"]) == (COUNTER_MAX, COUNTER_MAX)
    assert shown["counts"]["llms"] == 16
    # Priced from the table, 2**62 tokens cost more than a BIGINT of pico-dollars holds.
    stats = v2.get(f"/v2/sessions/{session_id}/stats").json()
    assert stats["prompt_tokens"] == COUNTER_MAX
    update = v2.post_jwt("/v2/update_session", jwt, {"session": {"end_state": "Success"}})
    assert update.status_code == 200
    assert v2.get("/api/stats").status_code == 200
    # (/overview sums events, not sessions: its rollups saturate in storage/overview.py.)
    # The merge path (update_events) moves counters down and up without overflowing.
    assert (
        v2.post_jwt(
            "/v2/update_events", jwt, {"events": [{**batch[0], "prompt_tokens": 1}]}
        ).status_code
        == 200
    )
    assert_readable(v2, session_id)


@pytest.mark.parametrize("path", ["/v4/logs/upload/", "/v4/objects/upload/"])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"body": "a\\ud800b"}', "body: holds a lone surrogate"),
        ('{"body": ' + "[" * 3000 + "]" * 3000 + "}", "body[0]"),
    ],
    ids=["lone surrogate", "3000 deep"],
)
def test_agentops_0_4_uploads_refuse_what_cannot_be_stored(
    v2: V2, server: TestServer, path: str, body: str, field: str
) -> None:
    token = v2.http.post("/v3/auth/token", json={"api_key": server.api_key}).json()["token"]
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Trace-Id": "77",
    }
    answer = v2.http.post(path, content=body.encode(), headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["message"].startswith(field)
