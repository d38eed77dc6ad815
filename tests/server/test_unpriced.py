"""An LLM call without a price is "unknown" everywhere, never $0: the session JSON, the
list, the totals, the export, the overview's tokens by model and the pages."""

from __future__ import annotations

from decimal import Decimal

import httpx

from agentwatch.server.testing import TestServer
from tests.server.conftest import V2, event


def _seed(v2: V2) -> tuple[str, str]:
    """(a session of unpriced calls only, a session of one priced and one unpriced call)."""
    unknown_only, jwt = v2.create_session()
    calls = [
        event("llms", model="my-local-llama", prompt_tokens=10, completion_tokens=5)
        for _ in range(2)
    ]
    v2.events(jwt, calls).raise_for_status()
    mixed, jwt = v2.create_session()
    v2.events(
        jwt,
        [
            event("llms", model="gpt-4o", prompt_tokens=1000, completion_tokens=100),
            event("llms", model="my-local-llama", prompt_tokens=10, completion_tokens=5),
        ],
    ).raise_for_status()
    return unknown_only, mixed


def test_unpriced_is_null_in_the_json_never_zero(v2: V2, server: TestServer) -> None:
    unknown_only, mixed = _seed(v2)
    detail = v2.get(f"/api/sessions/{unknown_only}").json()
    assert detail["session"]["cost"] is None
    assert detail["session"]["cost_usd"] is None
    assert detail["session"]["unpriced_llms"] == 2
    assert [e["cost"] for e in detail["events"]] == [None, None]
    both = v2.get(f"/api/sessions/{mixed}").json()["session"]
    # 1000 x $2.50/1M + 100 x $10/1M, the unpriced call counted beside it.
    assert Decimal(both["cost_usd"]) == Decimal("0.0035")
    assert both["unpriced_llms"] == 1
    listed = {s["id"]: s for s in v2.get("/api/sessions").json()["sessions"]}
    assert listed[unknown_only]["cost"] is None
    assert listed[mixed]["cost"] == 0.0035
    stats = v2.get("/api/stats").json()
    assert stats["unpriced_llms"] == 3
    assert Decimal(stats["cost_usd"]) == Decimal("0.0035")
    export = v2.get(f"/v2/sessions/{unknown_only}/export").json()
    assert export["session"]["cost"] is None
    assert [e["cost"] for e in export["llms"]] == [None, None]


def test_stats_of_only_unpriced_calls_are_unknown(v2: V2) -> None:
    _session_id, jwt = v2.create_session()
    v2.events(jwt, [event("llms", model="mystery", prompt_tokens=1)]).raise_for_status()
    stats = v2.get("/api/stats").json()
    assert stats["cost"] is None
    assert stats["cost_usd"] is None
    assert stats["unpriced_llms"] == 1


def test_pages_say_unknown_and_count_unpriced_calls(v2: V2, server: TestServer) -> None:
    unknown_only, mixed = _seed(v2)
    with httpx.Client(base_url=server.url, transport=server.transport) as http:
        page = http.get(f"/sessions/{unknown_only}").text
        assert 'id="stat-cost">unknown (2 unpriced calls)<' in page
        assert 'id="stat-cost">$0.0035 + 1 unpriced call<' in http.get(f"/sessions/{mixed}").text
        listing = http.get("/sessions").text
        assert (
            'title="unknown (2 unpriced calls)">unknown <span class="muted small">+2 unpriced<'
            in listing
        )
        assert (
            'title="$0.0035 + 1 unpriced call">$0.0035 <span class="muted small">+1 unpriced<'
            in listing
        )
        overview = http.get("/overview?format=json").json()
        models = {m["model"]: m for m in overview["models"]}
        assert models["my-local-llama"]["cost"] is None
        assert models["my-local-llama"]["unpriced_calls"] == 3
        assert models["gpt-4o"]["cost"] == 0.0035
        assert models["gpt-4o"]["unpriced_calls"] == 0
        assert "unknown (3 unpriced calls)" in http.get("/overview").text
        compared = http.get(f"/compare?a={unknown_only}&b={mixed}").text
        assert "Cost <b>unknown (2 unpriced calls)</b>" in compared
        assert "Cost <b>$0.0035 + 1 unpriced call</b>" in compared
