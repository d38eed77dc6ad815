"""The dashboard in headless Chromium against a real server seeded through the SDK."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from agentwatch import ToolEvent
from tests.dashboard.conftest import Seeded, shot

pytestmark = pytest.mark.browser


def row_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "table.sessions tbody tr", "rows => rows.map(r => r.dataset.sessionId)"
    )


def timeline_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all(".tl-row", "rows => rows.map(r => r.dataset.eventId)")


def test_sessions_list_shows_every_session_newest_first(seeded: Seeded, page: Any) -> None:
    page.goto(seeded.server.url + "/")
    assert page.url.endswith("/sessions")
    ids = row_ids(page)
    assert len(ids) == 7
    assert set(seeded.ids.values()) <= set(ids)
    assert ids.index(seeded.ids["failed"]) > ids.index(seeded.ids["running"])  # newest first
    running = page.locator(f'tr[data-session-id="{seeded.ids["running"]}"] .state')
    assert running.inner_text() == "Running"
    failed = page.locator(f'tr[data-session-id="{seeded.ids["failed"]}"]')
    assert "Fail" in failed.inner_text()
    assert "payment step failed" in failed.inner_text()
    shot(page, "sessions")
    assert page.errors == []
    assert page.dialogs == []


def test_filters_by_tag_and_by_end_state(seeded: Seeded, page: Any) -> None:
    """Filters apply as they change: typing (after a pause) and choosing, no submit."""
    page.goto(seeded.server.url + "/sessions")
    page.fill('input[name="tag"]', "billing")
    page.wait_for_url(re.compile(r"tag=billing"))
    assert row_ids(page) == [seeded.ids["failed"]]
    expect(page.locator('input[name="tag"]')).to_be_focused()
    page.fill('input[name="tag"]', "")
    page.wait_for_url(re.compile(r"/sessions\?project=[\w-]+$"))
    page.select_option("#end_state", "Fail")
    page.wait_for_url(re.compile(r"end_state=Fail"))
    assert row_ids(page) == [seeded.ids["failed"]]
    page.select_option("#end_state", "Success")
    page.wait_for_url(re.compile(r"end_state=Success"))
    page.fill('input[name="tag"]', "batch")
    page.wait_for_url(re.compile(r"tag=batch"))
    assert len(row_ids(page)) == 3
    shot(page, "sessions-filtered")


def test_session_timeline_holds_exactly_its_events(seeded: Seeded, page: Any) -> None:
    sid = seeded.ids["demo"]
    expected = [e["id"] for e in seeded.server.session(sid)["events"]]
    page.goto(f"{seeded.server.url}/sessions/{sid}")
    page.wait_for_selector(".tl-row")
    assert sorted(timeline_ids(page)) == sorted(expected)
    # The tree is the layout; lanes by agent are a choice.
    assert page.locator(".tl-lane-name").count() == 0
    page.select_option("#group", "agent")
    lanes = page.locator(".tl-lane-name").all_inner_texts()
    assert any("researcher" in lane for lane in lanes)
    assert any("planner" in lane for lane in lanes)
    assert page.locator(".tl-row.errors").count() == 1
    shot(page, "session")


def test_llm_event_shows_prompt_and_completion(seeded: Seeded, page: Any) -> None:
    page.goto(f"{seeded.server.url}/sessions/{seeded.ids['demo']}")
    page.locator(".tl-row.llms").first.click()
    detail = page.locator("#detail")
    expect(detail.locator(".chat.prompt")).to_be_visible()  # loaded when selected
    prompt = detail.locator(".chat.prompt").inner_text()
    assert "You are a careful travel planner." in prompt
    assert "Summarise the weather in Lisbon" in prompt
    assert "SYSTEM" in prompt.upper()
    assert "USER" in prompt.upper()
    assert "Lisbon will be sunny" in detail.locator(".chat.completion").inner_text()
    facts = detail.locator(".facts").inner_text()
    assert "gpt-4o-mini" in facts
    assert "180" in facts
    assert "24" in facts
    shot(page, "session-llm")


def test_error_links_to_its_trigger(seeded: Seeded, page: Any) -> None:
    sid = seeded.ids["failed"]
    events = seeded.server.session(sid)["events"]
    tool = next(e for e in events if e["event_type"] == "tools")
    page.goto(f"{seeded.server.url}/sessions/{sid}")
    error = next(e for e in events if e["event_type"] == "errors")
    page.locator(".tl-row.errors").click()
    detail = page.locator(f'#detail[data-event-id="{error["id"]}"]')  # loaded when selected
    expect(detail).to_contain_text("CardDeclined")
    assert "Traceback (most recent call last)" in detail.locator(".traceback").inner_text()
    shot(page, "session-error")
    page.click("#trigger-link")
    selected = page.locator(".tl-row.selected")
    assert selected.get_attribute("data-event-id") == tool["id"]
    detail = page.locator(f'#detail[data-event-id="{tool["id"]}"]')
    expect(detail.locator(".detail-head")).to_contain_text("charge_card")
    params = detail.locator("section.params .jt-leaf")
    assert params.locator(".jt-key").all_inner_texts() == ["amount:", "currency:"]
    assert params.locator(".jt-num, .jt-str").all_inner_texts() == ["42", '"EUR"']
    assert page.url.endswith(f"#event-{tool['id']}")


def test_running_session_page_updates_itself(seeded: Seeded, page: Any) -> None:
    sid = seeded.ids["running"]
    page.goto(f"{seeded.server.url}/sessions/{sid}")
    page.wait_for_selector(".tl-row")
    assert page.locator("#state").inner_text() == "Running"
    before = page.locator(".tl-row").count()
    seeded.running.record(ToolEvent(name="late_tool", params={"q": 1}, returns={"ok": True}))
    assert seeded.client.flush(timeout=10)
    expect(page.locator(".tl-row")).to_have_count(before + 1, timeout=15000)
    assert "late_tool" in page.locator("#timeline").inner_text()
    expect(page.locator("#dropped")).to_be_hidden()
    # What an SDK that had to drop events reports with its next update shows up live.
    seeded.client.api.update_session(sid, {"dropped_events": {"queue_full": 1200, "http_400": 3}})
    expect(page.locator("#dropped")).to_have_text(
        "1,203 events never reached the server (counted by the SDK: http_400 3, queue_full 1,200)",
        timeout=15000,
    )
    seeded.running.end_session("Success", "finished late")
    assert seeded.client.flush(timeout=10)
    expect(page.locator("#state")).to_have_text("Success", timeout=15000)
    expect(page.locator("#live")).to_be_hidden()
    expect(page.locator("#reason")).to_have_text("finished late")
    shot(page, "session-running-ended")


def test_agent_text_is_shown_as_text_and_never_runs(seeded: Seeded, page: Any) -> None:
    response = page.goto(f"{seeded.server.url}/sessions/{seeded.ids['xss']}")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    page.locator(".tl-row.llms").click()
    completion = page.locator("#detail .chat.completion").inner_text()
    assert page.locator("#detail .chat.completion .md").count() == 1  # through the markdown
    assert "<script>window.__pwned = 1;" in completion
    assert '<img src=x onerror="window.__pwned=2;alert(1)">' in completion
    assert "<script>" in page.locator("#reason").inner_text()
    page.locator(".tl-row.actions").click()
    assert "<img src=x onerror=alert(3)>" in page.locator("#detail .detail-head").inner_text()
    page.goto(f"{seeded.server.url}/sessions?tag=xss")
    assert "<b>tag</b>" in page.locator("table.sessions").inner_text()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0
    assert page.dialogs == []
    assert not [e for e in page.errors if "pwned" in e or "Content Security Policy" in e]
    shot(page, "xss-list")


def test_overview_draws_its_charts(seeded: Seeded, page: Any) -> None:
    page.goto(f"{seeded.server.url}/overview")
    page.wait_for_selector("#chart-duration svg")
    assert page.locator(".chart-svg").count() == 4
    assert page.locator("#chart-sessions rect.bar").count() >= 2  # Success, Fail, running
    assert "claude-3-5-haiku" in page.locator("table.models").inner_text()
    page.click("nav.range a:text-is('7d')")
    page.wait_for_url(re.compile(r"days=7"))
    page.wait_for_selector("#chart-duration svg")
    shot(page, "overview")
    assert page.errors == []


def test_projects_and_keys_through_the_pages(seeded: Seeded, page: Any) -> None:
    storage = seeded.server.storage
    page.goto(f"{seeded.server.url}/projects")
    page.fill("#project-name", "alpha-team")
    page.click("form.inline-form button[type=submit]")
    key = page.locator("#new-key").inner_text().strip()
    alpha = storage.project_by_name("alpha-team")
    assert alpha is not None
    owner = storage.key_owner(key)
    assert owner is not None
    assert owner.project_id == alpha.id
    shot(page, "projects-new-key")
    section = page.locator('section.project[data-project="alpha-team"]')
    section.locator("button", has_text="New key").click()
    second = page.locator("#new-key").inner_text().strip()
    assert second != key
    assert storage.key_owner(second) is not None
    page.goto(f"{seeded.server.url}/projects")
    assert key not in page.content()  # shown once, never again
    row = page.locator(f'tr[data-key-prefix="{key[:8]}"]')
    row.locator("button", has_text="Revoke").click()
    page.wait_for_url(re.compile(r"/projects$"))
    assert "revoked" in page.locator(f'tr[data-key-prefix="{key[:8]}"]').inner_text()
    assert storage.key_owner(key) is None
    assert storage.key_owner(second) is not None
    assert [t for t, _ in page.dialogs] == ["confirm"]
    shot(page, "projects")
