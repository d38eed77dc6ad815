"""Session ids are the clients' choice: another project's id is neither an oracle nor a way in.

The attack: project B learns (or guesses) the id of project A's session and calls
``create_session`` with it, then writes into it and reads it. B must get exactly the answers a
fresh id gets, and A's session must stay as it was. Both databases.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from agentwatch.server.testing import TestServer
from tests.server.conftest import V2, event


def _claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _replay(client: V2, session_id: str) -> dict[str, Any]:
    """What a client sees creating, writing and reading a session with this id."""
    created = client.post_key("/v2/create_session", {"session": {"session_id": session_id}})
    assert created.status_code == 200, created.text
    jwt = created.json()["jwt"]
    claims = _claims(jwt)
    written = client.events(jwt, [event("llms", model="gpt-4o", prompt_tokens=1)])
    updated = client.post_jwt("/v2/update_session", jwt, {"session": {"end_state": "Success"}})
    agent = client.post_jwt("/v2/create_agent", jwt, {"id": "a1", "name": "agent"})
    again = client.post_key("/v2/create_session", {"session": {"session_id": session_id}})
    export = client.get(f"/v2/sessions/{session_id}/export")
    stats = client.get(f"/v2/sessions/{session_id}/stats")
    detail = client.get(f"/api/sessions/{session_id}")
    reauth = client.post_key("/v2/reauthorize_jwt", {"session_id": session_id})
    return {
        "create": (created.status_code, sorted(created.json()), created.json()["created"]),
        "claims": (claims["session_id"] == session_id, sorted(claims)),
        "events": (written.status_code, written.text),
        "update": (updated.status_code, updated.json()["token_cost"]),
        "agent": (agent.status_code, agent.text),
        "again": (again.status_code, again.json()["created"]),
        "export": (export.status_code, export.json()["session"]["id"] == session_id),
        "export_counts": {k: len(v) for k, v in export.json().items() if isinstance(v, list)},
        "stats": (
            stats.status_code,
            stats.json()["events"],
            stats.json()["session_id"] == session_id,
        ),
        "detail": (
            detail.status_code,
            detail.json()["session"]["id"] == session_id,
            detail.json()["session"]["end_state"],
            [a["id"] for a in detail.json()["agents"]],
        ),
        "reauth": (reauth.status_code, _claims(reauth.json()["jwt"])["session_id"] == session_id),
    }


def test_another_projects_id_answers_as_a_fresh_id_and_leaves_it_untouched(
    v2: V2, other_project: V2, server: TestServer
) -> None:
    victim, victim_jwt = v2.create_session(tags=["victim"])
    assert v2.events(victim_jwt, [event("tools", name="secret")]).status_code == 200
    before = server.session(victim)

    squatted = _replay(other_project, victim)
    fresh = _replay(other_project, "7d7ee0ae-5c3b-4bb0-9d4e-2f0b8c1f3a55")
    assert squatted == fresh
    assert squatted["events"] == (200, '"Success"')

    after = server.session(victim)
    assert after["session"] == before["session"]
    assert after["events"] == before["events"]
    assert after["agents"] == []
    # And the victim still owns and writes its session.
    assert v2.events(victim_jwt, [event("tools", name="more")]).status_code == 200
    assert server.session(victim)["session"]["event_count"] == 2


def test_the_squatters_token_reaches_only_its_own_session(
    v2: V2, other_project: V2, server: TestServer
) -> None:
    victim, _ = v2.create_session()
    created = other_project.post_key("/v2/create_session", {"session": {"session_id": victim}})
    jwt = created.json()["jwt"]
    for path, body in [
        ("/v2/create_events", {"events": [event("errors", error_type="x")]}),
        ("/v2/update_events", {"events": [event("actions")]}),
        ("/v2/update_session", {"session": {"end_state": "Fail", "tags": ["mine"]}}),
        ("/v2/create_thread", {"id": "t1"}),
    ]:
        assert other_project.post_jwt(path, jwt, body).status_code == 200, path
    shown = server.session(victim)["session"]
    assert shown["event_count"] == 0
    assert shown["end_state"] == "Indeterminate"
    assert shown["tags"] == []
    # The victim's key reads its own, untouched session; the squatter's its own.
    assert v2.get(f"/v2/sessions/{victim}/stats").json()["events"] == 0
    assert other_project.get(f"/v2/sessions/{victim}/stats").json()["events"] == 2
