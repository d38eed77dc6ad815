"""Off loopback the dashboard asks for the admin password (tested in Chromium)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentwatch.server.testing import TestServer, uvicorn_server
from tests.dashboard.conftest import shot

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def public_server() -> Iterator[TestServer]:
    # Settings say 0.0.0.0 (so a login is required); the test server still binds loopback.
    with uvicorn_server(host="0.0.0.0", admin_password=PASSWORD) as server:
        yield server


def test_login_required_off_loopback(public_server: TestServer, page: Any) -> None:
    page.goto(public_server.url + "/sessions?tag=a")
    assert "/login" in page.url
    shot(page, "login")
    page.fill("input[name=password]", "wrong")
    page.click("form.login button")
    assert "Wrong password" in page.locator(".error-msg").inner_text()
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button")
    page.wait_for_url(re.compile(r"/sessions\?tag=a$"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "aw_login")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    page.click("form.logout button")
    page.wait_for_url(re.compile(r"/login$"))
    page.goto(public_server.url + "/projects")
    assert "/login" in page.url


def test_json_and_read_api_off_loopback(public_server: TestServer) -> None:
    with httpx.Client(base_url=public_server.url, cookies={"aw_csrf": "t"}) as http:
        assert http.get("/sessions?format=json").status_code == 401
        assert http.get("/overview?format=json").status_code == 401
        created = http.post("/projects", data={"name": "x", "csrf": "t"})
        assert created.status_code == 303
        assert created.headers["location"].startswith("/login")
        assert public_server.storage.project_by_name("x") is None
        api = http.get("/api/sessions", headers={"X-Agentops-Api-Key": public_server.api_key})
        assert api.status_code == 200
