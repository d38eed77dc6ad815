"""The ``agentwatch`` command, run as a real subprocess."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import httpx

from .serve_process import run_cli, serve


def _create_session(url: str, key: str) -> httpx.Response:
    body = {"session": {"session_id": str(uuid.uuid4())}}
    return httpx.post(
        f"{url}/v2/create_session", json=body, headers={"X-Agentops-Api-Key": key}, timeout=10
    )


def test_first_start_creates_database_project_and_prints_key_once(tmp_path: Path) -> None:
    with serve(tmp_path) as first:
        key = first.api_key()
        assert key is not None
        uuid.UUID(key)
        assert f"export AGENTWATCH_API_KEY={key}\n" in first.lines
        assert f"export OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20{key}\n" in first.lines
        assert f"export OTEL_EXPORTER_OTLP_ENDPOINT={first.url}\n" in first.lines
        assert _create_session(first.url, key).status_code == 200
        assert httpx.get(f"{first.url}/health", timeout=10).status_code == 200
    assert (tmp_path / "agentwatch.db").exists()
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o777 == 0o600
    with serve(tmp_path) as second:
        assert second.api_key() is None
        assert key not in second.output
        assert f"export OTEL_EXPORTER_OTLP_ENDPOINT={second.url}\n" in second.lines
        assert any(line.startswith("export OTEL_EXPORTER_OTLP_HEADERS=") for line in second.lines)
        assert _create_session(second.url, key).status_code == 200  # same secret, same keys


def test_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    for url, expected in [
        ("nonsense", "bad database URL"),
        ("mysql://u@localhost/x", "unsupported database"),
        ("postgresql+psycopg://u@127.0.0.1:1/x", "cannot open database"),
    ]:
        result = run_cli(["serve", "--port", "0", "--db", url], tmp_path)
        assert result.returncode != 0, url
        assert expected in result.stderr, result.stderr
        assert "Traceback" not in result.stderr + result.stdout


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(["serve", "--port", str(port)], tmp_path)
    assert result.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_home_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_cli(["serve", "--port", "0"], blocker / "home")
    assert result.returncode != 0
    assert "cannot write to AGENTWATCH_HOME" in result.stderr
    assert "Traceback" not in result.stderr


def test_projects_and_keys(tmp_path: Path) -> None:
    created = run_cli(["projects", "create", "research"], tmp_path)
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    key = lines[lines.index("API key (shown once; store it now):") + 1]
    uuid.UUID(key)
    assert run_cli(["projects", "create", "research"], tmp_path).returncode != 0
    second = run_cli(["keys", "create", "--project", "research"], tmp_path)
    assert second.returncode == 0
    assert run_cli(["keys", "create", "--project", "nope"], tmp_path).returncode != 0
    listing = run_cli(["keys", "list"], tmp_path).stdout
    assert key[:8] + "..." in listing
    assert key not in listing
    assert "research" in run_cli(["projects", "list"], tmp_path).stdout
    revoked = run_cli(["keys", "revoke", key], tmp_path)
    assert revoked.returncode == 0
    assert key[:8] in revoked.stdout
    assert run_cli(["keys", "revoke", key], tmp_path).returncode != 0  # already revoked
    with serve(tmp_path) as running:
        assert running.api_key() is None  # projects exist: no default project is made
        assert _create_session(running.url, key).status_code == 401
        fresh = second.stdout.splitlines()[-1].split("=", 1)[1]
        assert _create_session(running.url, fresh).status_code == 200
