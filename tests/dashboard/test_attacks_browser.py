"""Page-side attacks on a loopback dashboard (no login), in Chromium.

* DNS rebinding: Chromium resolves ``attacker.example`` to 127.0.0.1 (``--host-resolver-rules``,
  as the rebound DNS answer would), so the attacker's script runs as ``attacker.example``'s
  origin against our server.
* A page on another local port plants an ``aw_csrf`` cookie (cookies do not isolate ports)
  and submits a form with the same value, as plain double-submit CSRF allowed.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from agentwatch.server.testing import TestServer, uvicorn_server
from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser
EVIL = "attacker.example"


@pytest.fixture(scope="module")
def server() -> Iterator[TestServer]:
    with uvicorn_server() as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium that resolves the attacker's name to loopback (one Playwright per thread)."""
    from playwright.sync_api import sync_playwright

    rules = f"--host-resolver-rules=MAP {EVIL} 127.0.0.1"
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, rules]
        )
        try:
            yield launched
        finally:
            launched.close()


def _port(server: TestServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def test_a_rebound_page_reads_nothing_and_mints_nothing(server: TestServer, browser: Any) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        port = _port(server)
        session = server.storage.create_project("victim-project")
        keys_before = len(server.storage.list_api_keys())
        answer = page.goto(f"http://{EVIL}:{port}/sessions?format=json")
        assert answer is not None
        assert answer.status == 400
        assert "victim-project" not in page.content()
        # The attacker's script, same-origin with the rebound name.
        found = page.evaluate(
            """async (projectId) => {
                const read = await fetch('/projects?format=json');
                const mint = await fetch('/projects/' + projectId + '/keys', {
                    method: 'POST',
                    headers: {'Content-Type': 'application/x-www-form-urlencoded'},
                    body: 'csrf=anything',
                });
                return [read.status, await read.text(), mint.status];
            }""",
            session.id,
        )
        assert found[0] == 400
        assert found[2] == 400
        assert "victim-project" not in found[1]
        assert "AGENTWATCH_ALLOWED_HOSTS" in found[1]
        assert len(server.storage.list_api_keys()) == keys_before
    finally:
        context.close()


class _AttackerPage(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        body = f"""<!doctype html><html><body>
<script>document.cookie = "aw_csrf=planted; path=/";</script>
<form id="f" method="post" action="{self.target}"><input name="csrf" value="planted"></form>
<script>document.getElementById("f").submit();</script>
</body></html>""".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def attacker_site(server: TestServer) -> Iterator[tuple[str, str]]:
    """A page on another 127.0.0.1 port that posts a key-minting form to the dashboard."""
    project = server.storage.create_project("planted-cookie-target")
    target = f"{server.url}/projects/{project.id}/keys"
    handler = type("Handler", (_AttackerPage,), {"target": target})
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}/", target
    finally:
        site.shutdown()
        site.server_close()
        thread.join(timeout=5)


def test_a_cookie_planted_from_another_port_mints_no_key(
    server: TestServer, browser: Any, attacker_site: tuple[str, str]
) -> None:
    attacker, target = attacker_site
    context = browser.new_context()
    try:
        page = context.new_page()
        keys_before = len(server.storage.list_api_keys())
        with page.expect_response(target) as posted:
            page.goto(attacker)
        assert posted.value.status == 403
        # The attack was real: the browser did hold the planted cookie for our host.
        planted = [c for c in context.cookies(server.url) if c["name"] == "aw_csrf"]
        assert [c["value"] for c in planted] == ["planted"]
        page.wait_for_load_state()
        assert "new-key" not in page.content()
        assert len(server.storage.list_api_keys()) == keys_before
    finally:
        context.close()
