"""Credentials: API keys, session tokens, revocation and project isolation (both directions)."""

from __future__ import annotations

import time
import uuid

import jwt as pyjwt
import pytest

from agentwatch.server import auth
from agentwatch.server.testing import TestServer, inprocess_server

from .conftest import V2, event


def _secret(server: TestServer) -> str:
    secret: str = server.app.state.context.signer._secret
    return secret


def _forge(server: TestServer, session_id: str, **claims: object) -> str:
    body = {"session_id": session_id, "project_id": server.project_id, "exp": int(time.time()) + 60}
    body.update(claims)
    return pyjwt.encode({k: v for k, v in body.items() if v is not None}, _secret(server), "HS256")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Token abc",
        "eyJhbGciOiJIUzI1NiJ9",
        "Bearer not.a.jwt",
        "Bearer a.b.c",
    ],
)
def test_missing_or_malformed_tokens_are_401(v2: V2, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = v2.http.post("/v2/create_events", json={"events": []}, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["path"] == "/v2/create_events"


def test_token_validation_matrix(v2: V2, server: TestServer) -> None:
    session_id, _ = v2.create_session()
    now = int(time.time())
    claims = {"session_id": session_id, "project_id": server.project_id, "exp": now + 60}
    rejected = {
        "wrong key": pyjwt.encode(
            claims, "another-secret-that-is-long-enough-for-hs256-000", "HS256"
        ),
        "HS512": pyjwt.encode(claims, _secret(server), "HS512"),
        "alg none": pyjwt.encode(claims, "", "none"),
        "no exp": _forge(server, session_id, exp=None),
        "no project": _forge(server, session_id, project_id=None),
        # PyJWT calls int() on exp: a string far in the future would pass its own check.
        "string exp": _forge(server, session_id, exp=str(now + 10**9)),
        "bool exp": _forge(server, session_id, exp=True),
        "string iat": _forge(server, session_id, iat=str(now)),
        "tampered": _forge(server, session_id)[:-4] + "AAAA",
    }
    for name, token in rejected.items():
        answer = v2.events(token, [event()])
        assert answer.status_code == 401, name
        assert answer.json()["path"] == "/v2/create_events", name
    assert v2.events(_forge(server, session_id), [event()]).status_code == 200


def test_expired_token_says_expired_token(v2: V2, server: TestServer) -> None:
    session_id, _ = v2.create_session()
    expired = _forge(server, session_id, exp=int(time.time()) - 3600)
    answer = v2.post_jwt("/v2/update_session", expired, {"session": {}})
    assert answer.status_code == 401
    assert answer.json() == {"path": "/v2/update_session", "message": "Expired Token"}


def test_short_lived_token_expires_then_reauthorize_works() -> None:
    with inprocess_server(jwt_lifetime=1, jwt_leeway=0) as server, V2(server) as v2:
        session_id, token = v2.create_session()
        assert v2.events(token, [event()]).status_code == 200
        time.sleep(2.1)
        assert v2.events(token, [event()]).json()["message"] == "Expired Token"
        fresh = v2.post_key("/v2/reauthorize_jwt", {"session_id": session_id}).json()["jwt"]
        assert v2.events(fresh, [event()]).status_code == 200
        assert server.session(session_id)["session"]["event_count"] == 2


def test_api_key_checks(v2: V2) -> None:
    body = {"session": {"session_id": str(uuid.uuid4())}}
    missing = v2.http.post("/v2/create_session", json=body)
    assert missing.status_code == 401
    malformed = v2.http.post(
        "/v2/create_session", json=body, headers={"X-Agentops-Api-Key": "sk-123"}
    )
    assert malformed.status_code == 400
    assert "Invalid API key format" in malformed.json()["message"]
    unknown = v2.http.post(
        "/v2/create_session", json=body, headers={"X-Agentops-Api-Key": str(uuid.uuid4())}
    )
    assert unknown.status_code == 401
    upper = v2.http.post(
        "/v2/create_session", json=body, headers={"x-agentops-api-key": v2.api_key.upper()}
    )
    assert upper.status_code == 200


def test_revoked_key_and_its_tokens_stop_working(v2: V2, server: TestServer) -> None:
    key, info = server.storage.create_api_key(server.project_id)
    client = V2(server, key)
    session_id, token = client.create_session()
    assert client.events(token, [event()]).status_code == 200
    revoked = server.storage.revoke_api_keys(info.prefix)
    assert [k.id for k in revoked] == [info.id]
    assert (
        client.post_key(
            "/v2/create_session", {"session": {"session_id": str(uuid.uuid4())}}
        ).status_code
        == 401
    )
    assert client.events(token, [event()]).status_code == 401
    assert client.get(f"/api/sessions/{session_id}").status_code == 401
    assert (
        v2.get(f"/api/sessions/{session_id}").status_code == 200
    )  # the project's other key still works


def test_keys_are_stored_only_as_hashes(server: TestServer) -> None:
    import sqlalchemy as sa

    with server.storage.engine.connect() as conn:
        dump = " ".join(str(row) for row in conn.execute(sa.text("SELECT * FROM api_keys")))
    assert server.api_key not in dump
    assert auth.hash_api_key(server.api_key) in dump


@pytest.mark.parametrize("direction", ["a_to_b", "b_to_a"])
def test_projects_cannot_touch_each_other(
    v2: V2, other_project: V2, server: TestServer, direction: str
) -> None:
    owner, intruder = (v2, other_project) if direction == "a_to_b" else (other_project, v2)
    session_id, token = owner.create_session()
    owner.events(token, [event("llms", model="gpt-4o", prompt_tokens=1)]).raise_for_status()
    intruder_token = intruder.create_session()[1]
    # Reads: the other project's session does not exist for the intruder.
    for path in (
        f"/api/sessions/{session_id}",
        f"/v2/sessions/{session_id}/stats",
        f"/v2/sessions/{session_id}/export",
    ):
        answer = intruder.get(path)
        assert answer.status_code == 404, path
        unknown = intruder.get(path.replace(session_id, str(uuid.uuid4())))
        assert answer.json()["message"] == unknown.json()["message"]  # no existence oracle
    assert intruder.get("/api/sessions").json()["sessions"][0]["id"] != session_id
    assert intruder.post_key("/v2/reauthorize_jwt", {"session_id": session_id}).status_code == 404
    # Writes: the owner's token with the intruder's key, and the intruder's token naming the session.
    mixed = intruder.http.post(
        "/v2/create_events",
        json={"events": [event()]},
        headers={"Authorization": f"Bearer {token}", **intruder.key_headers()},
    )
    assert mixed.status_code == 403
    body_claims = event(session_id=session_id, project_id="whatever")
    intruder.events(
        intruder_token, [body_claims]
    ).raise_for_status()  # lands in the intruder's session
    owner_view = owner.get(f"/api/sessions/{session_id}").json()
    assert owner_view["session"]["event_count"] == 1


def test_parent_project_reads_but_cannot_write(v2: V2, other_project: V2) -> None:
    parent, child = v2, other_project
    session_id = str(uuid.uuid4())
    headers = {**child.key_headers(), "X-Agentops-Parent-Key": parent.api_key}
    created = child.http.post(
        "/v2/create_session", json={"session": {"session_id": session_id}}, headers=headers
    )
    assert created.status_code == 200
    child.events(
        created.json()["jwt"], [event("llms", model="gpt-4o", prompt_tokens=5)]
    ).raise_for_status()
    assert parent.get(f"/api/sessions/{session_id}").json()["session"]["event_count"] == 1
    assert parent.get(f"/v2/sessions/{session_id}/stats").status_code == 200
    assert [s["id"] for s in parent.get("/api/sessions").json()["sessions"]] == [session_id]
    assert parent.get("/api/stats").json()["prompt_tokens"] == 5
    assert parent.post_key("/v2/reauthorize_jwt", {"session_id": session_id}).status_code == 404
    own_id, _ = parent.create_session()
    assert child.get(f"/api/sessions/{own_id}").status_code == 404  # not the other way round
    bad_parent = {**child.key_headers(), "X-Agentops-Parent-Key": str(uuid.uuid4())}
    refused = child.http.post(
        "/v2/create_session",
        json={"session": {"session_id": str(uuid.uuid4())}},
        headers=bad_parent,
    )
    assert refused.status_code == 401
