"""The credential gate in front of every body: what it refuses, and whom it recognises."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Iterator

import jwt as pyjwt
import pytest

from agentwatch.server.dashboard import apidocs
from agentwatch.server.dashboard.logins import LoginStore
from agentwatch.server.dashboard.security import AdminAuth, hash_password
from agentwatch.server.errors import BadRequest, ServerError, Unauthorized
from agentwatch.server.limits import AdmissionMiddleware
from agentwatch.server.precheck import CredentialPrecheck
from agentwatch.server.routes import agentops4, api, dashboard, login, otlp, v2
from agentwatch.server.testing import TestServer, inprocess_server

ROUTES = [
    r
    for module in (v2, otlp, agentops4, api, dashboard, login, apidocs)
    for r in module.router.routes
]


@pytest.fixture
def server() -> Iterator[TestServer]:
    with inprocess_server() as running:
        yield running


def _precheck(server: TestServer, admin: AdminAuth | None = None) -> CredentialPrecheck:
    ctx = server.app.state.context
    return CredentialPrecheck(
        ROUTES, ctx.signer, server.storage, admin or server.app.state.admin_auth
    )


def _check(
    precheck: CredentialPrecheck, path: str, method: str = "POST", **headers: str
) -> str | None:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()],
    }
    return asyncio.run(precheck(scope))


def _refusal(
    precheck: CredentialPrecheck, path: str, method: str = "POST", **headers: str
) -> ServerError:
    with pytest.raises(ServerError) as refused:
        _check(precheck, path, method, **headers)
    return refused.value


def test_routes_that_need_a_session_token(server: TestServer) -> None:
    gate = _precheck(server)
    token = server.app.state.context.signer.issue(str(uuid.uuid4()), server.project_id, None)
    assert _check(gate, "/v2/create_events", authorization=f"Bearer {token}") == server.project_id
    missing = _refusal(gate, "/v2/create_events")
    assert isinstance(missing, Unauthorized)
    assert missing.message == "missing session token: send Authorization: Bearer <jwt>"
    secret = server.app.state.context.signer._secret
    expired = pyjwt.encode(
        {"session_id": "s", "project_id": "p", "exp": int(time.time()) - 3600}, secret, "HS256"
    )
    assert _refusal(gate, "/v2/update_session", authorization=f"Bearer {expired}").message == (
        "Expired Token"  # what SDKs match on to refresh the token
    )
    forged = _refusal(gate, "/v2/create_agent", authorization="Bearer a.b.c")
    assert forged.status_code == 401


def test_routes_that_need_an_api_key(server: TestServer) -> None:
    gate = _precheck(server)
    assert (
        _check(gate, "/v2/create_session", x_agentops_api_key=server.api_key) == server.project_id
    )
    assert (
        _check(gate, "/api/sessions", "GET", x_agentops_api_key=server.api_key) == server.project_id
    )
    unknown = _refusal(gate, "/v2/create_session", x_agentops_api_key=str(uuid.uuid4()))
    assert (unknown.status_code, unknown.message) == (401, "Invalid API Key")
    malformed = _refusal(gate, "/v2/reauthorize_jwt", x_agentops_api_key="sk-123")
    assert isinstance(malformed, BadRequest)
    assert _refusal(gate, "/v2/developer_errors").status_code == 401
    assert _refusal(gate, f"/v2/sessions/{uuid.uuid4()}/stats", "GET").status_code == 401


def test_opentelemetry_routes_take_every_credential_form_before_the_body(
    server: TestServer,
) -> None:
    gate = _precheck(server)
    key = server.api_key
    basic_user = base64.b64encode(f"{key}:".encode()).decode()
    basic_password = base64.b64encode(f"pk-lf-x:{key}".encode()).decode()
    project_token = server.app.state.context.signer.issue_project_token(
        server.project_id, str(uuid.uuid4())
    )
    for headers in (
        {"authorization": f"Bearer {key}"},
        {"authorization": key},
        {"authorization": f"Basic {basic_user}"},
        {"authorization": f"Basic {basic_password}"},
        {"authorization": f"Bearer {project_token}"},
        {"x_agentops_api_key": key},
    ):
        for path in ("/v1/traces", "/v1/logs", "/api/public/otel/v1/traces", "/v4/logs/upload/"):
            assert _check(gate, path, **headers) == server.project_id, (path, headers)
    for headers in (
        {},
        {"authorization": f"Bearer {uuid.uuid4()}"},
        {"authorization": "Basic !!!"},
        {"authorization": "Bearer a.b.c"},
        {"x_agentops_api_key": "nonsense"},
    ):
        refused = _refusal(gate, "/v1/traces", **headers)
        assert refused.status_code == 401, headers
        assert "X-Agentops-Api-Key" in refused.message


def test_other_routes_are_never_refused_but_credentials_are_recognised(server: TestServer) -> None:
    gate = _precheck(server)
    key = server.api_key
    for headers in ({"authorization": f"Bearer {key}"}, {"x_agentops_api_key": key}):
        assert _check(gate, "/login", **headers) == server.project_id, headers
    assert _check(gate, "/login", authorization=f"Bearer {uuid.uuid4()}") is None
    assert _check(gate, "/login") is None
    assert _check(gate, "/sessions", "GET") is None
    assert _check(gate, "/v2/create_events", "GET") is None  # wrong method: the router's 405


def test_a_page_loading_its_scripts_at_once_is_never_refused() -> None:
    """A loopback dashboard has no credential: its dozen scripts must not count against
    the small pool of requests without one (8 in flight per client here)."""

    async def scenario() -> list[int]:
        release = asyncio.Event()

        async def app(scope: dict[str, object], receive: object, send: object) -> None:
            await release.wait()

        async def no_credential(scope: object) -> None:
            return None

        admission = AdmissionMiddleware(app, no_credential, max_inflight=256)  # type: ignore[arg-type]
        statuses: list[int] = []

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(int(message["status"]))  # type: ignore[call-overload]

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b""}

        def request(path: str) -> dict[str, object]:
            return {"type": "http", "method": "GET", "path": path, "client": ("127.0.0.1", 1)}

        scripts = [
            asyncio.create_task(admission(request(f"/static/m{i}.js"), receive, send))
            for i in range(24)
        ]
        pages = [
            asyncio.create_task(admission(request("/sessions"), receive, send)) for _ in range(9)
        ]
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(*scripts, *pages)
        return statuses

    statuses = asyncio.run(scenario())
    assert statuses == [429]  # only the ninth page of one client, none of the scripts


def test_a_signed_login_cookie_counts_as_a_credential(server: TestServer) -> None:
    admin = AdminAuth(True, hash_password("pw"), "s" * 40, LoginStore(server.storage))
    gate = _precheck(server, admin)
    cookie = admin.start_login()
    assert _check(gate, "/projects", cookie=f"aw_csrf=x; aw_login={cookie}") == "dashboard"
    assert _check(gate, "/projects", cookie="aw_login=1.2.3") is None
