"""The sessions list in headless Chromium: sortable headers, filters that apply at once,
1024 px, rows of one height, running rows that refresh, agent text that stays text; and
session URLs by short id or unknown id."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from agentwatch.server.testing import TestServer, uvicorn_server
from tests.dashboard.conftest import XSS, shot
from tests.server.conftest import V2, event

pytestmark = pytest.mark.browser

AMBIGUOUS = ("abcdef12-0000-4000-8000-000000000001", "abcdef12-0000-4000-8000-000000000002")


class Seeded:
    def __init__(self, server: TestServer, v2: V2) -> None:
        self.server = server
        self.v2 = v2
        self.ids: dict[str, str] = {}
        self.running_jwt = ""


def _seed(server: TestServer, v2: V2) -> Seeded:
    seeded = Seeded(server, v2)
    for n in range(4):
        session_id, jwt = v2.create_session(tags=["batch", f"n{n}"])
        v2.events(
            jwt,
            [
                event("llms", model="gpt-4o", prompt_tokens=1000 * (n + 1), completion_tokens=10)
                for _ in range(n + 1)
            ],
        ).raise_for_status()
        v2.post_jwt("/v2/update_session", jwt, {"session": {"end_state": "Success"}})
        seeded.ids[f"n{n}"] = session_id
    hostile, jwt = v2.create_session(
        tags=["xss", XSS, "a-very-long-tag-" + "z" * 150] + [f"t{i}" for i in range(30)]
    )
    v2.events(
        jwt,
        [event("tools", name="translate", params={"text": "marmalade " + XSS})],
    ).raise_for_status()
    v2.post_jwt("/v2/create_agent", jwt, {"id": str(uuid.uuid4()), "name": XSS}).raise_for_status()
    v2.post_jwt(
        "/v2/update_session", jwt, {"session": {"end_state": "Fail", "end_state_reason": XSS * 50}}
    ).raise_for_status()
    seeded.ids["xss"] = hostile
    ended, jwt = v2.create_session(tags=["quiet"])
    v2.post_jwt(
        "/v2/update_session",
        jwt,
        {"session": {"end_state": "Indeterminate", "end_timestamp": "2030-01-01T00:00:00+00:00"}},
    ).raise_for_status()
    seeded.ids["ended"] = ended
    running, jwt = v2.create_session(tags=["live"])
    v2.events(jwt, [event("actions")]).raise_for_status()
    seeded.ids["running"] = running
    seeded.running_jwt = jwt
    for session_id in AMBIGUOUS:
        _, jwt = v2.create_session(session_id, tags=["twin"])
        v2.post_jwt("/v2/update_session", jwt, {"session": {"end_state": "Success"}})
    return seeded


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    with uvicorn_server() as server:
        v2 = V2(server)
        try:
            yield _seed(server, v2)
        finally:
            v2.close()


def row_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "table.sessions tbody tr", "rows => rows.map(r => r.dataset.sessionId)"
    )


def api_ids(seeded: Seeded, **params: Any) -> list[str]:
    return [s["id"] for s in seeded.v2.get("/api/sessions", **params).json()["sessions"]]


def test_headers_sort_and_a_second_click_reverses(seeded: Seeded, page: Any) -> None:
    page.goto(seeded.server.url + "/sessions")
    expect(page.locator("#total")).to_have_text("9 sessions")
    page.click('th a.sort[data-sort="cost"]')
    page.wait_for_url(re.compile(r"sort=cost&order=desc"))
    assert row_ids(page) == api_ids(seeded, sort="cost")
    assert page.locator('th[aria-sort="descending"]').inner_text().startswith("Cost")
    page.click('th a.sort[data-sort="cost"]')
    page.wait_for_url(re.compile(r"sort=cost&order=asc"))
    assert row_ids(page) == api_ids(seeded, sort="cost", order="asc")
    page.click('th a.sort[data-sort="tokens"]')
    page.wait_for_url(re.compile(r"sort=tokens&order=desc"))
    assert row_ids(page)[:4] == [seeded.ids[f"n{n}"] for n in (3, 2, 1, 0)]
    shot(page, "list-sorted")


def test_search_applies_while_typing_and_keeps_the_focus(seeded: Seeded, page: Any) -> None:
    page.goto(seeded.server.url + "/sessions?sort=errors")
    page.locator("#q").press_sequentially("marmal", delay=30)
    page.wait_for_url(re.compile(r"q=marmal"))
    assert row_ids(page) == [seeded.ids["xss"]]
    assert "sort=errors" in page.url  # the sort stays
    expect(page.locator("#q")).to_be_focused()
    expect(page.locator("#total")).to_have_text("1 session match")
    page.select_option("#has_errors", "true")
    page.wait_for_url(re.compile(r"has_errors=true"))
    expect(page.locator(".empty")).to_contain_text("No sessions match")
    page.fill("#q", seeded.ids["n2"][:8])
    page.select_option("#has_errors", "")
    page.wait_for_url(re.compile(r"q=" + seeded.ids["n2"][:8] + "$"))
    assert row_ids(page) == [seeded.ids["n2"]]


def test_list_fits_1024px_with_rows_of_one_height(seeded: Seeded, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1024, "height": 800})
    try:
        page = context.new_page()
        page.goto(seeded.server.url + "/sessions")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1024, width
        heights = page.eval_on_selector_all(
            "table.sessions tbody tr", "rows => rows.map(r => r.getBoundingClientRect().height)"
        )
        assert len(heights) == 9
        assert max(heights) - min(heights) < 1, heights
        table = page.eval_on_selector("table.sessions", "t => t.getBoundingClientRect().right")
        assert table <= 1024
        # One format: every cost with four decimals, every duration in one of the units.
        costs = page.locator('td[data-field="cost"]').all_inner_texts()
        assert all(re.fullmatch(r"\$\d[\d,]*\.\d{4}|<\$0\.0001|\u2013", c) for c in costs), costs
        durations = page.locator('td[data-field="duration"]').all_inner_texts()
        assert all(
            re.fullmatch(r"\d+ ms|\d+\.\d s|\d+m \d\ds|\d+h \d\dm|[\d,]+d \d\dh|\u2013", d)
            for d in durations
        ), durations
        shot(page, "list-1024")
    finally:
        context.close()


def test_running_and_ended_indeterminate_are_told_apart(seeded: Seeded, page: Any) -> None:
    page.goto(seeded.server.url + "/sessions?tag=quiet")
    expect(page.locator("tbody .state")).to_have_text("Ended · ?")
    page.goto(seeded.server.url + "/sessions?tag=live")
    expect(page.locator("tbody .state")).to_have_text("Running")


def test_agent_text_in_the_list_stays_text(seeded: Seeded, page: Any) -> None:
    page.goto(seeded.server.url + "/sessions?q=marmalade")
    row = page.locator(f'tr[data-session-id="{seeded.ids["xss"]}"]')
    text = row.inner_text()
    assert "<script>window.__pwned = 1;" in text  # the agent name, a tag, the reason
    assert row.locator(".tag").count() == 6  # the first six of 33, on one line
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0
    assert page.dialogs == []
    shot(page, "list-xss")


def test_running_rows_refresh_without_a_reload(seeded: Seeded, page: Any) -> None:
    page.goto(seeded.server.url + "/sessions")
    running = page.locator(f'tr[data-session-id="{seeded.ids["running"]}"]')
    expect(running.locator(".state")).to_have_text("Running")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "format=json" in r.url else None)
    page.evaluate("window.__same_page = 1")
    jwt = seeded.running_jwt
    seeded.v2.events(
        jwt, [event("llms", model="gpt-4o", prompt_tokens=10, completion_tokens=1)]
    ).raise_for_status()
    expect(running.locator('[data-field="llms"]')).to_have_text("1", timeout=15000)
    seeded.v2.post_jwt(
        "/v2/update_session", jwt, {"session": {"end_state": "Success"}}
    ).raise_for_status()
    expect(running.locator(".state")).to_have_text("Success", timeout=15000)
    assert page.evaluate("window.__same_page") == 1
    # Only the running row was asked for, and asking stops once none runs.
    assert requests
    assert all(f"id={seeded.ids['running']}" in url for url in requests)
    assert all(url.count("id=") == 1 for url in requests)
    asked = len(requests)
    page.wait_for_timeout(6000)
    assert len(requests) == asked


def _http(seeded: Seeded) -> httpx.Client:
    return httpx.Client(base_url=seeded.server.url, follow_redirects=False)


def test_a_unique_short_id_redirects_to_its_session(seeded: Seeded) -> None:
    with _http(seeded) as http:
        target = seeded.ids["n1"]
        answer = http.get(f"/sessions/{target[:8].upper()}")
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/sessions/{target}"


def test_an_ambiguous_prefix_lists_the_candidates(seeded: Seeded, page: Any) -> None:
    with _http(seeded) as http:
        answer = http.get("/sessions/abcdef12")
        assert answer.status_code == 300
        assert all(session_id in answer.text for session_id in AMBIGUOUS)
    page.goto(seeded.server.url + "/sessions/abcdef12")
    assert page.locator("#candidates tbody tr").count() == 2
    page.locator("#candidates a").first.click()
    page.wait_for_url(re.compile(r"/sessions/abcdef12-0000-"))


def test_an_unknown_id_gets_a_page_that_helps(seeded: Seeded, page: Any) -> None:
    for given in ("deadbeef", "00000000-0000-4000-8000-000000000000", "not an id <b>"):
        response = page.goto(f"{seeded.server.url}/sessions/{given}")
        assert response.status == 404
        assert response.headers["content-type"].startswith("text/html")
        expect(page.locator("h1")).to_have_text("No such session")
        assert "UUID" in page.locator("#missing").inner_text()
        assert page.locator("#missing b").count() == 0
    page.click("#search-link")
    page.wait_for_url(re.compile(r"/sessions\?q=not\+an\+id"))
    with _http(seeded) as http:
        answer = http.get("/sessions/deadbeef?format=json")
        assert answer.status_code == 404
        assert answer.json()["message"] == "no session has the id 'deadbeef'"


def test_pages_and_scripts_write_costs_and_durations_alike(seeded: Seeded, page: Any) -> None:
    """render.py's filters and static/format.js: one format (the list refreshes its rows
    with the script, the page came with the filters)."""
    from agentwatch.server.dashboard.render import _duration, _money

    seconds = [None, 0, 0.0004, 0.85, 1, 2.44, 59.96, 60, 185.7, 3599, 3600, 7325, 172800, 9e7]
    costs = [None, 0, 0.00001, 0.00005, 0.0006, 0.01234567, 1, 1234.5]
    page.goto(seeded.server.url + "/sessions?tag=quiet")
    shown = page.evaluate(
        """async ([seconds, costs]) => {
            const fmt = await import("/static/format.js");
            return [seconds.map(fmt.duration), costs.map(fmt.cost)];
        }""",
        [seconds, costs],
    )
    assert shown == [[_duration(s) for s in seconds], [_money(c) for c in costs]]
