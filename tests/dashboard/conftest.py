"""Fixtures for dashboard tests: a real server on a free loopback port, seeded through
the SDK with sessions of every kind, and headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentwatch import ActionEvent, Client, ErrorEvent, LLMEvent, ToolEvent
from agentwatch.demo import run_demo_session
from agentwatch.instrumentation import uninstrument
from agentwatch.server.testing import TestServer, uvicorn_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--disable-component-update",
    "--no-first-run",
]
XSS = '<script>window.__pwned = 1; alert("xss")</script><img src=x onerror="window.__pwned=2;alert(1)">'
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "dashboard"


@pytest.fixture(scope="package", autouse=True)
def _leave_the_process_as_found() -> Iterator[None]:
    """Clients made here patch the LLM libraries; later tests must find them unpatched."""
    yield
    uninstrument()


@dataclass
class Seeded:
    server: TestServer
    ids: dict[str, str]  # what the session is for -> session id
    running: Any  # the still-running SDK session, to record into during a test
    client: Client


def make_client(server: TestServer) -> Client:
    return Client(
        api_key=server.api_key, endpoint=server.url, handle_signals=False, flush_interval=0.05
    )


def seed(server: TestServer, client: Client) -> tuple[dict[str, str], Any]:
    """Sessions of every kind; returns their ids by purpose and the running session."""
    ids = {"demo": run_demo_session(client).session_id}

    failed = client.start_session(tags=["billing", "nightly"])
    tool = ToolEvent(name="charge_card", params={"amount": 42, "currency": "EUR"})
    failed.record(tool)
    failed.record(
        ErrorEvent(
            trigger_event=tool,
            error_type="CardDeclined",
            details="card declined by issuer",
            logs='Traceback (most recent call last):\n  File "agent.py", line 3\nCardDeclined',
        )
    )
    failed.end_session("Fail", "payment step failed")
    ids["failed"] = failed.session_id

    xss = client.start_session(tags=["xss", "<b>tag</b>"])
    xss.record(
        LLMEvent(
            model="gpt-4o-mini",
            prompt=[{"role": "user", "content": "Say " + XSS}],
            completion={"role": "assistant", "content": "Sure: " + XSS},
            prompt_tokens=12,
            completion_tokens=30,
        )
    )
    xss.record(ActionEvent(action_type="<img src=x onerror=alert(3)>", params={"h": XSS}))
    xss.end_session("Success", XSS)
    ids["xss"] = xss.session_id

    running = client.start_session(tags=["live"])
    running.record(ActionEvent(action_type="warm_up", params={"step": 1}))
    ids["running"] = running.session_id
    for n in range(3):
        s = client.start_session(tags=["batch", f"n{n}"])
        s.record(
            LLMEvent(
                model="claude-3-5-haiku",
                prompt="hi",
                completion="hello",
                prompt_tokens=5 + n,
                completion_tokens=2,
            )
        )
        s.end_session("Success")
    assert client.flush(timeout=10)
    return ids, running


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    with uvicorn_server() as server:
        client = make_client(server)
        try:
            ids, running = seed(server, client)
            yield Seeded(server, ids, running, client)
        finally:
            client.shutdown(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: the dashboard tests need Debian's chromium "
            "(apt-get install -y chromium); .ci/run installs it",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that records dialogs, page errors and console errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.errors = []  # type: ignore[attr-defined]
    # Recorded, then accepted: the revoke button asks to confirm; any other dialog is a bug.
    pg.on("dialog", lambda d: (pg.dialogs.append((d.type, d.message)), d.accept()))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    try:
        yield pg
    finally:
        context.close()


def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
