"""agentops 0.4's routes: /v3/auth/token, /v4/logs/upload/, /v4/objects/upload/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from agentwatch.server.otlp.sessions import trace_session
from agentwatch.server.testing import TestServer
from tests.server.otlp_requests import PROTOBUF, new_trace_id, post, rejected, span, traces_request


@pytest.fixture
def http(server: TestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, transport=server.transport) as client:
        yield client


def token_for(http: httpx.Client, key: str) -> str:
    response = http.post("/v3/auth/token", json={"api_key": key})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["project_prem_status"] == "pro"
    return str(answer["token"])


def test_token_is_project_scoped_long_lived_and_revoked_with_its_key(
    server: TestServer, http: httpx.Client
) -> None:
    token = token_for(http, server.api_key)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["project_id"] == server.project_id
    assert claims["exp"] - time.time() > 300 * 24 * 3600
    assert (
        http.post("/v3/auth/token", json={"api_key": server.api_key}).json()["project_id"]
        == server.project_id
    )
    trace = new_trace_id()
    body = traces_request(
        [span(trace, name="root", attributes={"agentops.span.kind": "session"})], PROTOBUF
    )
    assert rejected(post(http, "/v1/traces", body, PROTOBUF, token)) == (0, "")
    assert server.session(trace_session(server.project_id, trace))["session"]["event_count"] == 1
    server.storage.revoke_api_keys(server.api_key)
    assert post(http, "/v1/traces", body, PROTOBUF, token).status_code == 401


def test_token_and_session_jwt_are_not_interchangeable(
    server: TestServer, http: httpx.Client, v2: Any
) -> None:
    token = token_for(http, server.api_key)
    assert v2.events(token, []).status_code == 401  # a project token is no session token
    _, session_jwt = v2.create_session()
    body = traces_request([span(new_trace_id())], PROTOBUF)
    assert post(http, "/v1/traces", body, PROTOBUF, session_jwt).status_code == 401


def test_forged_token_is_refused(server: TestServer, http: httpx.Client) -> None:
    claims = {
        "scope": "project",
        "project_id": server.project_id,
        "api_key_id": "x",
        "exp": time.time() + 60,
    }
    forged = jwt.encode(claims, "another secret of at least thirty-two bytes", algorithm="HS256")
    body = traces_request([span(new_trace_id())], PROTOBUF)
    assert post(http, "/v1/traces", body, PROTOBUF, forged).status_code == 401


def test_a_project_token_with_a_string_exp_is_refused(
    server: TestServer, http: httpx.Client
) -> None:
    """PyJWT calls int() on ``exp``: a string far in the future would never expire."""
    secret = server.app.state.context.signer._secret
    [key] = server.storage.list_api_keys()
    claims = {
        "scope": "project",
        "project_id": server.project_id,
        "api_key_id": key.id,
        "exp": str(int(time.time()) + 10**9),
    }
    token = jwt.encode(claims, secret, algorithm="HS256")
    body = traces_request([span(new_trace_id())], PROTOBUF)
    refused = post(http, "/v1/traces", body, PROTOBUF, token)
    assert refused.status_code == 401
    claims["exp"] = int(time.time()) + 60  # the same token with a number is accepted
    accepted = post(http, "/v1/traces", body, PROTOBUF, jwt.encode(claims, secret, "HS256"))
    assert accepted.status_code == 200


@pytest.mark.parametrize(
    ("key", "status"), [("0" * 8 + "-0000-4000-8000-" + "0" * 12, 401), ("nope", 400)]
)
def test_bad_api_key_gets_no_token(http: httpx.Client, key: str, status: int) -> None:
    assert http.post("/v3/auth/token", json={"api_key": key}).status_code == status


def test_captured_output_lands_on_the_trace_session_in_any_order(
    server: TestServer, http: httpx.Client
) -> None:
    token = token_for(http, server.api_key)
    trace = new_trace_id()
    headers = {"Authorization": f"Bearer {token}", "Trace-Id": str(int(trace, 16))}
    uploaded = http.post("/v4/logs/upload/", json={"body": "step 1\nstep 2\n"}, headers=headers)
    assert uploaded.status_code == 200, uploaded.text
    session_id = trace_session(server.project_id, trace)
    assert uploaded.json()["session_id"] == session_id
    body = traces_request(
        [span(trace, name="root", attributes={"agentops.span.kind": "session"})], PROTOBUF
    )
    post(http, "/v1/traces", body, PROTOBUF, token)
    row = server.storage.session(server.project_id, session_id)
    assert row is not None
    assert row.logs == "step 1\nstep 2\n"
    assert row.event_count == 1
    later = new_trace_id()
    post(http, "/v1/traces", traces_request([span(later)], PROTOBUF), PROTOBUF, token)
    http.post(
        "/v4/logs/upload/",
        json={"body": "after"},
        headers={**headers, "Trace-Id": str(int(later, 16))},
    )
    row = server.storage.session(server.project_id, trace_session(server.project_id, later))
    assert row is not None
    assert row.logs == "after"


@pytest.mark.parametrize("trace_id", ["", "abc", "-5", "0", str(2**128)])
def test_bad_trace_id_header_is_422(server: TestServer, http: httpx.Client, trace_id: str) -> None:
    response = http.post(
        "/v4/logs/upload/",
        json={"body": "x"},
        headers={"Authorization": f"Bearer {server.api_key}", "Trace-Id": trace_id},
    )
    assert response.status_code == 422
    assert "Trace-Id" in response.json()["message"]


def test_object_upload_answers_url_and_size(server: TestServer, http: httpx.Client) -> None:
    response = http.post(
        "/v4/objects/upload/",
        json={"body": "héllo"},
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    assert response.status_code == 200
    assert response.json()["size"] == len("héllo".encode())
    assert response.json()["url"].startswith("agentwatch:object/sha256/")
    assert http.post("/v4/objects/upload/", json={"body": "x"}).status_code == 401
