"""DNS rebinding and cross-origin writes, tried against `agentwatch serve` on its defaults."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from agentwatch.server.hosts import HostPolicy, split_host
from agentwatch.server.settings import ServerSettings
from agentwatch.server.storage import Storage
from agentwatch.server.testing import inprocess_server

from .serve_process import ServeProcess, serve


def form_token(html: str) -> str:
    return html.split('name="csrf" value="')[1].split('"')[0]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServeProcess, Storage]]:
    """`agentwatch serve` on loopback (no login), and its database opened beside it."""
    with serve(tmp_path) as running:
        storage = Storage.open(f"sqlite:///{tmp_path / 'agentwatch.db'}")
        try:
            yield running, storage
        finally:
            storage.close()


def _session(http: httpx.Client, key: str) -> str:
    session_id = str(uuid.uuid4())
    created = http.post(
        "/v2/create_session",
        json={"session": {"session_id": session_id, "tags": ["secret-tag"]}},
        headers={"X-Agentops-Api-Key": key},
    )
    assert created.status_code == 200, created.text
    return session_id


def test_a_rebound_name_reads_nothing_and_mints_no_key(
    served: tuple[ServeProcess, Storage],
) -> None:
    running, storage = served
    key = running.api_key()
    assert key is not None
    port = urlsplit(running.url).port
    evil = f"attacker.example:{port}"
    with httpx.Client(base_url=running.url, timeout=10) as http:
        session_id = _session(http, key)

        # What the page on attacker.example does once its name points at 127.0.0.1.
        read = http.get("/sessions?format=json", headers={"Host": evil})
        assert read.status_code == 400
        assert read.json()["path"] == "/sessions"
        assert f"'{evil}'" in read.json()["message"]
        assert "AGENTWATCH_ALLOWED_HOSTS" in read.json()["message"]
        assert session_id not in read.text
        assert http.get("/projects", headers={"Host": evil}).status_code == 400
        assert (
            http.get(f"/sessions/{session_id}?format=json", headers={"Host": evil}).status_code
            == 400
        )

        # Even holding a CSRF token of the page (had it leaked), a foreign Host or Origin mints nothing.
        page = http.get("/projects")
        token = form_token(page.text)
        project_id = http.get("/projects?format=json").json()["projects"][0]["id"]
        keys_before = [k.id for k in storage.list_api_keys()]
        for headers, status in [
            ({"Host": evil}, 400),
            ({"Host": evil, "Origin": f"http://{evil}"}, 400),
            ({"Origin": f"http://{evil}"}, 403),
            ({"Origin": "null"}, 403),
            ({"Origin": f"http://127.0.0.1:{port + 1 if port < 65535 else 1}"}, 403),
        ]:
            minted = http.post(
                f"/projects/{project_id}/keys", data={"csrf": token}, headers=headers
            )
            assert minted.status_code == status, headers
            assert set(minted.json()) == {"path", "message"}
            assert "new-key" not in minted.text
        assert [k.id for k in storage.list_api_keys()] == keys_before

        # The same form from the dashboard's own origin works.
        own = http.post(
            f"/projects/{project_id}/keys",
            data={"csrf": token},
            headers={"Origin": f"http://127.0.0.1:{port}"},
        )
        assert own.status_code == 200
        assert 'id="new-key"' in own.text
        assert len(storage.list_api_keys()) == len(keys_before) + 1


def test_loopback_names_public_url_and_sdks_still_work(tmp_path: Path) -> None:
    env = {"AGENTWATCH_PUBLIC_URL": "https://agentwatch.example.com/"}
    with (
        serve(tmp_path, env=env) as running,
        httpx.Client(base_url=running.url, timeout=10) as http,
    ):
        key = running.api_key()
        assert key is not None
        port = urlsplit(running.url).port
        for host in (
            f"127.0.0.1:{port}",
            f"localhost:{port}",
            f"LOCALHOST.:{port}",
            f"[::1]:{port}",
            "127.0.0.1",
            "agentwatch.example.com",
            "agentwatch.example.com:443",
        ):
            answer = http.get("/sessions?format=json", headers={"Host": host})
            assert answer.status_code == 200, host
        for host in ("127.evil.example", "localhost.evil.example", f"10.0.0.1:{port}", "::1.evil"):
            assert http.get("/health", headers={"Host": host}).status_code == 400, host
        # SDK ingest sends no Origin: it passes, on every write route.
        session_id = _session(http, key)
        jwt = http.post(
            "/v2/reauthorize_jwt",
            json={"session_id": session_id},
            headers={"X-Agentops-Api-Key": key},
        ).json()["jwt"]
        event = {
            "id": str(uuid.uuid4()),
            "event_type": "actions",
            "init_timestamp": "2026-01-01T00:00:00Z",
        }
        sent = http.post(
            "/v2/create_events",
            json={"events": [event]},
            headers={"Authorization": f"Bearer {jwt}"},
        )
        assert sent.status_code == 200
        # A page of public_url's origin may post (the proxy in front sets another Host).
        # Its cookies are Secure (https): httpx keeps them from this http:// hop, so by hand.
        form = http.get("/projects")
        nonce = form.headers["set-cookie"].split("aw_csrf=")[1].split(";")[0]
        named = http.post(
            "/projects",
            data={"csrf": form_token(form.text), "name": "from-proxy"},
            headers={"Origin": "https://agentwatch.example.com", "Cookie": f"aw_csrf={nonce}"},
        )
        assert named.status_code == 200, named.text
        assert "Secure" in form.headers["set-cookie"]
        stats = http.get(f"/api/sessions/{session_id}", headers={"X-Agentops-Api-Key": key})
        assert stats.json()["session"]["event_count"] == 1


def test_allowed_hosts_setting_and_wildcard_bind() -> None:
    with (
        inprocess_server(allowed_hosts=("agentwatch.lan",)) as server,
        httpx.Client(base_url=server.url, transport=server.transport) as http,
    ):
        assert http.get("/health", headers={"Host": "agentwatch.lan:8000"}).status_code == 200
        assert http.get("/health", headers={"Host": "other.lan"}).status_code == 400
    with (
        inprocess_server(allowed_hosts=("*",)) as server,
        httpx.Client(base_url=server.url, transport=server.transport) as http,
    ):
        assert http.get("/health", headers={"Host": "anything.example"}).status_code == 200
        # Any Host, but still no cross-origin writes.
        refused = http.post(
            "/projects", headers={"Host": "a.example", "Origin": "http://b.example"}
        )
        assert refused.status_code == 403
    # A wildcard bind answers any name by default, and its dashboard wants a login there:
    # a rebound name carries no login cookie.
    with (
        inprocess_server(host="0.0.0.0", admin_password="pw") as server,
        httpx.Client(base_url=server.url, transport=server.transport) as http,
    ):
        answer = http.get("/sessions?format=json", headers={"Host": "attacker.example"})
        assert answer.status_code == 401
        assert answer.json()["path"] == "/sessions"


def test_host_policy_rules() -> None:
    loopback = HostPolicy("127.0.0.1", None, None)
    assert loopback.allows("127.0.0.1:8000")
    assert loopback.allows("127.1.2.3")
    assert loopback.allows("[::ffff:127.0.0.1]:80")
    assert not loopback.allows("192.168.1.5:8000")
    assert not loopback.allows("")
    assert not loopback.allows("attacker.example")
    specific = HostPolicy("192.168.1.5", None, None)
    assert specific.allows("192.168.1.5:8000")
    assert specific.allows("localhost")
    assert not specific.allows("192.168.1.6")
    assert not specific.allows("myhost.lan")
    for wildcard in ("0.0.0.0", "::", "[::]", ""):
        assert HostPolicy(wildcard, None, None).allows("attacker.example"), wildcard
    listed = HostPolicy("0.0.0.0", None, ("agentwatch.lan",))
    assert listed.allows("agentwatch.lan")
    assert listed.allows("10.1.2.3")  # an address literal cannot be rebound
    assert not listed.allows("attacker.example")
    assert loopback.origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert loopback.origin_allowed("http://localhost", "localhost")
    assert not loopback.origin_allowed("https://localhost", "localhost:80")
    assert not loopback.origin_allowed("http://127.0.0.1:9000", "127.0.0.1:8000")
    assert not loopback.origin_allowed("http://attacker.example:8000", "attacker.example:8000")
    assert not loopback.origin_allowed("null", "127.0.0.1:8000")
    assert not loopback.origin_allowed("http://127.0.0.1:99999", "127.0.0.1:8000")
    assert split_host("[::1]:8000") == ("::1", 8000)
    assert split_host("Example.COM.:x") == ("example.com", None)


def test_ipv6_bind_has_a_bracketed_base_url(tmp_path: Path) -> None:
    assert ServerSettings.load(environ={}, host="::1", port=8000).base_url == "http://[::1]:8000"
    assert ServerSettings.load(environ={}, host="::", port=1).base_url == "http://[::]:1"
    try:
        socket.socket(socket.AF_INET6).close()
    except OSError as exc:
        pytest.skip(f"no IPv6 on this machine: {exc}")
    with serve(tmp_path, "--host", "::1") as running:
        assert running.url.startswith("http://[::1]:")
        key = running.api_key()
        assert key is not None
        with httpx.Client(base_url=running.url, timeout=10) as http:
            assert http.get("/health").status_code == 200
            session_id = _session(http, key)
            page = http.get(f"/sessions/{session_id}")
            assert page.status_code == 200
