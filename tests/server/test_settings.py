"""Server settings table and the testing helpers' contract."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from agentwatch.server.settings import SETTINGS, ServerSettings, SettingsError
from agentwatch.server.testing import inprocess_server, uvicorn_server


def test_defaults_env_and_overrides(tmp_path: Path) -> None:
    defaults = ServerSettings.load(environ={})
    assert defaults.port == 8000
    assert defaults.database_url.endswith("/.agentwatch/agentwatch.db")
    env = {
        "AGENTWATCH_HOME": str(tmp_path),
        "AGENTWATCH_PORT": "9000",
        "AGENTWATCH_JWT_LIFETIME": "60",
    }
    loaded = ServerSettings.load(environ=env, port=9100)
    assert loaded.port == 9100
    assert loaded.jwt_lifetime == 60
    assert loaded.database_url == f"sqlite:///{tmp_path / 'agentwatch.db'}"
    with pytest.raises(SettingsError, match="AGENTWATCH_PORT"):
        ServerSettings.load(environ={"AGENTWATCH_PORT": "eighty"})
    with pytest.raises(TypeError):
        ServerSettings.load(environ={}, colour="blue")


def test_every_setting_has_an_env_var_and_a_doc() -> None:
    assert {s.name for s in SETTINGS} == set(ServerSettings.__dataclass_fields__)
    for setting in SETTINGS:
        assert setting.env == "AGENTWATCH_" + setting.name.upper()
        assert setting.doc.endswith(".")


def test_short_jwt_secret_is_refused(tmp_path: Path) -> None:
    from agentwatch.server.app import create_app

    with pytest.raises(ValueError, match="32 bytes"):
        create_app(ServerSettings.load(environ={}, home=tmp_path, jwt_secret="short"))


def test_cli_module_does_not_import_the_server_stack() -> None:
    code = "import sys, agentwatch.cli; print(sorted(m for m in ('fastapi', 'sqlalchemy', 'uvicorn') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_inprocess_transport_is_thread_safe_and_survives_client_close() -> None:
    with inprocess_server() as server:
        assert server.transport is not None
        with httpx.Client(base_url=server.url, transport=server.transport) as first:
            assert first.get("/health").status_code == 200
        headers = {"X-Agentops-Api-Key": server.api_key}
        with httpx.Client(
            base_url=server.url, transport=server.transport, headers=headers
        ) as client:

            def create(_: int) -> int:
                body = {"session": {"session_id": str(uuid.uuid4())}}
                return client.post("/v2/create_session", json=body).status_code

            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                assert set(pool.map(create, range(40))) == {200}
            assert len(client.get("/api/sessions", params={"limit": 100}).json()["sessions"]) == 40
    with pytest.raises(RuntimeError, match="shut down"):
        server.transport.handle_request(httpx.Request("GET", f"{server.url}/health"))


def test_uvicorn_server_serves_on_loopback() -> None:
    with uvicorn_server(jwt_lifetime=5) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.transport is None
        body = {"session": {"session_id": str(uuid.uuid4())}}
        answer = httpx.post(
            f"{server.url}/v2/create_session",
            json=body,
            headers={"X-Agentops-Api-Key": server.api_key},
            timeout=10,
        )
        assert answer.status_code == 200
        # The link handed out points at the port it listens on, not the default 8000.
        session_id = body["session"]["session_id"]
        assert answer.json()["session_url"] == f"{server.url}/sessions/{session_id}"
        assert server.session(body["session"]["session_id"])["session"]["event_count"] == 0
        with pytest.raises(KeyError):
            server.session(str(uuid.uuid4()))
