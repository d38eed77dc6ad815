"""/docs and /redoc: served from the package with the strict CSP, and drawn offline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentwatch.server.dashboard.apidocs import vendor_dir
from agentwatch.server.testing import TestServer, inprocess_server
from tests.dashboard.conftest import Seeded, shot

VENDOR = "/static/vendor/"


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with (
        inprocess_server() as server,
        httpx.Client(base_url=server.url, transport=server.transport) as client,
    ):
        yield client


def csp_of(response: httpx.Response) -> str:
    values = response.headers.get_list("content-security-policy")
    assert len(values) == 1, values  # the page's own CSP replaces the default, not added to it
    return values[0]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_load_only_this_servers_files(http: httpx.Client, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 200
    html = response.text
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources, html
    assert all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert "<style" not in html
    assert "style=" not in html
    csp = csp_of(response)
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    for asset in re.findall(r'"/static/vendor/([^"]+)"', html):
        got = http.get(VENDOR + asset)
        assert got.status_code == 200
        assert got.content == (vendor_dir() / asset).read_bytes()  # the release file, unmodified


def test_only_redoc_gets_a_style_nonce_and_blob_workers(http: httpx.Client) -> None:
    swagger = csp_of(http.get("/docs"))
    assert "style-src 'self';" in swagger
    assert "nonce" not in swagger
    assert "worker-src" not in swagger
    first, second = http.get("/redoc"), http.get("/redoc")
    nonce = re.search(r"'nonce-([^']+)'", csp_of(first))
    assert nonce is not None
    assert f'data-style-nonce="{nonce.group(1)}"' in first.text
    assert nonce.group(1) not in csp_of(second)  # fresh for every page
    assert "worker-src blob:" in csp_of(first)
    for path in ("/sessions", "/openapi.json", VENDOR + "redoc.standalone.js"):
        csp = csp_of(http.get(path))
        assert "nonce" not in csp
        assert "worker-src" not in csp


def test_vendor_route_serves_named_files_only(http: httpx.Client) -> None:
    script = http.get(VENDOR + "swagger-ui-bundle.js")
    assert "javascript" in script.headers["content-type"]
    assert "no-store" not in script.headers.get("cache-control", "")
    assert http.get(VENDOR + "swagger-ui.css").headers["content-type"].startswith("text/css")
    for bad in ("favicon.png", "..%2F..%2Fapidocs.py", "LICENSE", "swagger-ui.css.map", ""):
        response = http.get(VENDOR + bad)
        assert response.status_code == 404, bad
        assert "<" not in response.text
    assert http.get("/static/app.css").status_code == 200  # the dashboard's own files still served


def test_openapi_schema_is_still_at_its_url(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    assert spec["info"]["title"] == "agentwatch"
    assert "/v2/create_session" in spec["paths"]
    assert not [p for p in spec["paths"] if p in ("/docs", "/redoc", "/openapi.json")]


# -- in Chromium, with every request off this machine refused ------------------------------


def offline(page: Any, server: TestServer) -> list[str]:
    """Refuse (and record) every request not to ``server``; returns the record."""
    attempted: list[str] = []

    def route(route: Any) -> None:
        if route.request.url.startswith(server.url + "/"):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    # Violations of the CSP, which the browser blocks before any request is made.
    page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation', e =>"
        " window.__csp.push([e.effectiveDirective, e.blockedURI]));"
    )
    return attempted


@pytest.mark.browser
def test_swagger_ui_renders_offline(seeded: Seeded, page: Any) -> None:
    attempted = offline(page, seeded.server)
    page.goto(seeded.server.url + "/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/v2/create_session" in [p.strip() for p in paths]
    assert "Session observability for AI agents" in page.locator(".info").inner_text()
    page.locator(".opblock-summary-path", has_text="/health").first.click()
    page.wait_for_selector(".opblock.is-open")
    shot(page, "api-docs-swagger")
    assert attempted == []
    assert page.evaluate("window.__csp") == []
    assert page.errors == []


@pytest.mark.browser
def test_redoc_renders_offline(seeded: Seeded, page: Any) -> None:
    attempted = offline(page, seeded.server)
    page.goto(seeded.server.url + "/redoc")
    page.wait_for_selector("h2:has-text('Create Session')")
    assert "Session observability for AI agents" in page.locator(".api-content").inner_text()
    # Search runs in ReDoc's blob: worker, which its page's CSP allows.
    page.fill("input[placeholder='Search...']", "reauthorize")
    page.wait_for_selector("[data-role='search:results'] li")
    assert "eauthorize" in page.locator("[data-role='search:results']").inner_text()
    shot(page, "api-docs-redoc", full_page=False)  # ReDoc's page is one 11,000 px column
    assert attempted == []
    blocked = page.evaluate("window.__csp")
    # What stays blocked, as apidocs.redoc_csp says: the scrollbar sheet inserted before
    # the nonce is known, and the vendor's logo from its CDN (never requested: see above).
    assert {tuple(v) for v in blocked} <= {
        ("style-src-elem", "inline"),
        ("img-src", "https://cdn.redoc.ly/redoc/logo-mini.svg"),
    }, blocked
    assert not [e for e in page.errors if "Content Security Policy" not in e]


@pytest.mark.browser
def test_nav_links_to_the_api_docs(seeded: Seeded, page: Any) -> None:
    page.goto(seeded.server.url + "/sessions")
    page.click("header.topbar nav a:has-text('API docs')")
    page.wait_for_url(re.compile(r"/docs$"))
    page.wait_for_selector(".opblock-summary-path")
    page.click(".docs-bar a:has-text('ReDoc')")
    page.wait_for_url(re.compile(r"/redoc$"))
    page.click(".docs-bar a.brand")
    page.wait_for_url(re.compile(r"/sessions$"))
