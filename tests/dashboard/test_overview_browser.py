"""The overview in headless Chromium, in the viewer's time zone (sent by name): hourly buckets for a day,
model versions under their model, unpriced costs as unknown, whole numbers on count axes."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentwatch.server.testing import TestServer, uvicorn_server
from tests.dashboard.conftest import shot

pytestmark = pytest.mark.browser


def llm(model: str, start: dt.datetime, latency_ms: int, tokens: int = 100) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "event_type": "llms",
        "model": model,
        "prompt_tokens": tokens,
        "completion_tokens": 10,
        "init_timestamp": start.isoformat(),
        "end_timestamp": (start + dt.timedelta(milliseconds=latency_ms)).isoformat(),
    }


@pytest.fixture(scope="module")
def server() -> Iterator[TestServer]:
    with (
        uvicorn_server() as srv,
        httpx.Client(base_url=srv.url, headers={"X-Agentops-Api-Key": srv.api_key}) as http,
    ):
        now = dt.datetime.now(dt.timezone.utc)
        plan = [
            ("Success", [("gpt-4o", 800), ("gpt-4o-2024-07-18", 1500)]),
            ("Fail", [("gpt-4o", 1200), ("my-local-llama", 300)]),
            ("Success", [("my-local-llama", 250)]),
        ]
        for n, (state, calls) in enumerate(plan):
            start = now - dt.timedelta(hours=2 * n, minutes=5)
            sid = str(uuid.uuid4())
            body = {"session": {"session_id": sid, "init_timestamp": start.isoformat()}}
            jwt = http.post("/v2/create_session", json=body).json()["jwt"]
            auth = {"Authorization": f"Bearer {jwt}"}
            batch = [llm(m, start + dt.timedelta(seconds=i), ms) for i, (m, ms) in enumerate(calls)]
            http.post("/v2/create_events", json={"events": batch}, headers=auth).raise_for_status()
            end = {
                "end_state": state,
                "end_timestamp": (start + dt.timedelta(seconds=30)).isoformat(),
            }
            http.post("/v2/update_session", json={"session": end}, headers=auth).raise_for_status()
        yield srv


@pytest.fixture
def kolkata(browser: Any) -> Iterator[Any]:
    """A page whose browser runs in UTC+05:30."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, timezone_id="Asia/Kolkata"
    )
    pg = context.new_page()
    pg.errors = []  # type: ignore[attr-defined]
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    try:
        yield pg
    finally:
        context.close()


def test_a_day_is_drawn_by_the_hour_in_the_viewers_zone(server: TestServer, kolkata: Any) -> None:
    kolkata.goto(f"{server.url}/overview?hours=24")
    # The browser's zone by name (its days then follow any daylight saving time); Chromium
    # names Kolkata by its older alias.
    kolkata.wait_for_url(re.compile(r"tz=Asia(%2F|/)(Kolkata|Calcutta)"))
    kolkata.wait_for_selector("#charts[data-drawn='true']")
    labels = kolkata.locator("#chart-sessions .xlab").all_text_contents()
    assert labels
    assert all(re.fullmatch(r"\d\d:00", t) for t in labels), labels
    data = kolkata.evaluate(
        "fetch(document.getElementById('charts').dataset.json).then(r => r.json())"
    )
    assert data["step"] == "hour"
    zone = data["tz"]
    assert zone in ("Asia/Kolkata", "Asia/Calcutta")
    assert len(data["buckets"]) == 24
    assert all(b["start"].endswith(":00:00+05:30") for b in data["buckets"])
    assert sum(b["sessions"] for b in data["buckets"]) == 3
    assert f"by the hour in {zone}" in kolkata.locator("#range-note").inner_text()
    shot(kolkata, "overview-hourly-kolkata")
    assert kolkata.errors == []


def test_versions_sit_under_their_model_and_unpriced_is_unknown(
    server: TestServer, kolkata: Any
) -> None:
    kolkata.goto(f"{server.url}/overview?days=7")
    kolkata.wait_for_selector("#charts[data-drawn='true']")
    rows = kolkata.locator("#models tbody tr")
    texts = [" ".join(t.split()) for t in rows.all_inner_texts()]
    classes = [rows.nth(i).get_attribute("class") for i in range(rows.count())]
    families = [t.split()[0] for t, c in zip(texts, classes, strict=True) if c == "family"]
    assert sorted(families) == ["gpt-4o", "my-local-llama"]
    at = next(i for i, t in enumerate(texts) if t.startswith("gpt-4o ") and classes[i] == "family")
    assert texts[at].startswith("gpt-4o 3 ")  # 3 calls, both versions
    assert classes[at + 1 : at + 3] == ["version", "version"]
    assert texts[at + 1].startswith("↳ gpt-4o 2 ")
    assert texts[at + 2].startswith("↳ gpt-4o-2024-07-18 1 ")
    llama = next(t for t, c in zip(texts, classes, strict=True) if t.startswith("my-local-llama"))
    assert "unknown (2 unpriced calls)" in llama
    assert "$0 " not in llama
    total = kolkata.locator("#total-cost").inner_text()
    assert total.endswith("+ 2 unpriced calls"), total
    assert kolkata.errors == []


def test_count_axes_have_whole_numbers_only(server: TestServer, kolkata: Any) -> None:
    kolkata.goto(f"{server.url}/overview?days=7")
    kolkata.wait_for_selector("#charts[data-drawn='true']")
    ticks = kolkata.locator("#chart-sessions .ylab").all_text_contents()
    assert all(re.fullmatch(r"\d+", t) for t in ticks), ticks  # no "2.5 sessions"
    assert int(ticks[-1]) >= 3  # the three sessions fit
    kolkata.goto(f"{server.url}/overview?hours=24")
    kolkata.wait_for_selector("#charts[data-drawn='true']")
    ticks = kolkata.locator("#chart-sessions .ylab").all_text_contents()
    assert ticks == ["0", "1"], ticks  # one session an hour at most: no 0.25, 0.5, 0.75
    kolkata.goto(f"{server.url}/overview?days=7")
    kolkata.wait_for_selector("#charts[data-drawn='true']")
    durations = kolkata.locator("#chart-duration .ylab").all_text_contents()
    assert durations
    assert kolkata.locator("#chart-duration .dot.p99").count() >= 1
    legend = kolkata.locator("#chart-cost .legend").inner_text()
    assert "gpt-4o" in legend
    shot(kolkata, "overview-7d")
    assert kolkata.errors == []
