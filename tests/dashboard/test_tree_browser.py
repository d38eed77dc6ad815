"""The session page's span tree in Chromium, on sessions sent over v2 and over OTLP: tree
order, folding, virtualized rows, next error, j/k in time order, filters, zoom and pan,
details loaded per event, the live view by cursor, and the compare page."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from agentwatch.server import compare, drilldown
from agentwatch.server.otlp.sessions import trace_session
from agentwatch.server.synthetic import SyntheticRun, send_run, synthetic_run
from agentwatch.server.testing import TestServer, uvicorn_server
from tests.dashboard.conftest import XSS, shot
from tests.server.otlp_requests import (
    JSON,
    SECOND,
    agent_with_llm_call,
    logs_json,
    new_span_id,
    new_trace_id,
    now_ns,
    post,
    span,
    traces_json,
)

pytestmark = pytest.mark.browser


@dataclass
class Trees:
    server: TestServer
    http: httpx.Client
    ids: dict[str, str]
    jwt: dict[str, str]
    runs: dict[str, SyntheticRun]
    otlp_spans: tuple[str, str]  # (root span id, child span id)

    def tree(self, name: str) -> list[dict[str, Any]]:
        answer = self.http.get(
            f"/api/sessions/{self.ids[name]}/tree",
            headers={"X-Agentops-Api-Key": self.server.api_key},
        ).json()
        return [dict(zip(answer["columns"], row, strict=True)) for row in answer["rows"]]

    def url(self, name: str) -> str:
        return f"{self.server.url}/sessions/{self.ids[name]}"


def _otlp_session(server: TestServer, http: httpx.Client) -> tuple[str, str, str]:
    session_id = str(uuid.uuid4())
    start = int(dt.datetime.now(dt.timezone.utc).timestamp()) * SECOND - 60 * SECOND
    spans, root, llm = agent_with_llm_call(session_id, start)
    sent = post(http, "/v1/traces", traces_json(spans), JSON, server.api_key)
    assert sent.status_code == 200, sent.text
    return session_id, root, llm


def _diverged(run: SyntheticRun) -> SyntheticRun:
    """The same run where one tool call is another tool, one answer differs and a step is added."""
    events = [dict(e) for e in run.events]
    tools = [e for e in events if e["event_type"] == "tools"]
    llms = [e for e in events if e["event_type"] == "llms"]
    tools[3]["name"] = "an_extra_tool"
    llms[5]["completion"] = "something else"
    return SyntheticRun(events, dict(run.agents))


@pytest.fixture(scope="module")
def trees() -> Iterator[Trees]:
    with uvicorn_server() as server, httpx.Client(base_url=server.url, timeout=60) as http:
        runs = {
            "tree": synthetic_run(400, seed=2, error_every=40),
            "big": synthetic_run(3_000, seed=3, error_every=700),
            "xss": synthetic_run(30, seed=4, error_every=10, label=XSS),
            "live": synthetic_run(20, seed=5),
            "good": synthetic_run(60, seed=6),
        }
        runs["bad"] = _diverged(runs["good"])
        ids, jwts = {}, {}
        for name, run in runs.items():
            state = None if name == "live" else "Fail" if name == "bad" else "Success"
            ids[name], jwts[name] = send_run(http, server.api_key, run, end_state=state)
        ids["otlp"], root, child = _otlp_session(server, http)
        yield Trees(server, http, ids, jwts, runs, (root, child))


def dom_rows(page: Any) -> list[dict[str, Any]]:
    """The rows in the DOM, top to bottom: id, kind, indent (px), classes."""
    return page.eval_on_selector_all(
        ".tl-row",
        """rows => rows.map(r => ({id: r.dataset.eventId, kind: r.dataset.kind, top: parseFloat(r.style.top),
             indent: parseFloat(r.querySelector('.tl-label').style.paddingLeft), cls: r.className}))
             .sort((a, b) => a.top - b.top)""",
    )


def open_session(page: Any, trees: Trees, name: str, suffix: str = "") -> None:
    page.goto(trees.url(name) + suffix)
    page.wait_for_selector("#timeline[data-ready=true]")


def selected_id(page: Any) -> str:
    return page.locator(".tl-row.selected").get_attribute("data-event-id")


def in_view(page: Any, selector: str) -> bool:
    return page.eval_on_selector(
        selector,
        """n => { const r = n.getBoundingClientRect(), b = document.getElementById('timeline').getBoundingClientRect();
                 return r.top >= b.top - 1 && r.bottom <= b.bottom + 1 && r.top >= 0 && r.bottom <= innerHeight; }""",
    )


def test_the_tree_is_drawn_in_the_servers_tree_order(trees: Trees, page: Any) -> None:
    expected = trees.tree("tree")
    open_session(page, trees, "tree")
    shown = dom_rows(page)
    assert 10 < len(shown) < 80  # a window of rows, not 400
    assert [r["id"] for r in shown] == [r["id"] for r in expected[: len(shown)]]
    assert [r["indent"] for r in shown] == [14 * r["depth"] for r in expected[: len(shown)]]
    assert expected[0]["kind"] == "agent"
    assert expected[1]["depth"] == 1
    assert page.locator("#row-count").inner_text() == "400 events"
    shot(page, "tree")
    assert page.errors == []


def test_an_otlp_session_has_its_tree(trees: Trees, page: Any) -> None:
    root, child = trees.otlp_spans
    open_session(page, trees, "otlp")
    shown = dom_rows(page)
    assert [(r["id"], r["indent"]) for r in shown] == [(root, 0), (child, 14)]
    assert shown[1]["kind"] == "llm"
    page.locator(f"#event-{child}").click()
    expect(page.locator(f'#detail[data-event-id="{child}"]')).to_be_visible()
    assert "gpt-4o" in page.locator("#detail .facts").inner_text()


def test_folding_hides_a_subtree_and_unfolding_shows_it(trees: Trees, page: Any) -> None:
    expected = trees.tree("tree")
    roots = [r["id"] for r in expected if r["depth"] == 0]
    open_session(page, trees, "tree")
    page.locator(f"#event-{roots[0]} .tl-toggle").click()
    shown = dom_rows(page)
    assert [r["id"] for r in shown[:2]] == roots[:2]  # the next root comes right after it
    assert page.locator(f"#event-{roots[0]} .tl-toggle").get_attribute("aria-expanded") == "false"
    page.click("#fold-all")
    assert [r["id"] for r in dom_rows(page)] == roots
    page.click("#unfold-all")
    assert [r["id"] for r in dom_rows(page)][:5] == [r["id"] for r in expected[:5]]


def test_rows_are_virtualized_and_scroll_to_the_end(trees: Trees, page: Any) -> None:
    expected = trees.tree("big")
    open_session(page, trees, "big")
    assert page.locator("#row-count").inner_text() == "3,000 events"
    assert page.locator(".tl-row").count() < 80
    page.eval_on_selector("#timeline", "b => { b.scrollTop = b.scrollHeight; }")
    expect(page.locator(f"#event-{expected[-1]['id']}")).to_be_attached()
    assert page.locator(".tl-row").count() < 80
    assert page.locator(f"#event-{expected[0]['id']}").count() == 0


def test_next_error_jumps_to_errors_far_down_in_time_order(trees: Trees, page: Any) -> None:
    expected = trees.tree("big")
    errors = sorted((r for r in expected if r["error"]), key=lambda r: (r["start"], r["id"]))
    assert len(errors) >= 2
    open_session(page, trees, "big")
    page.keyboard.press("e")
    expect(page.locator(".tl-row.selected")).to_have_attribute("data-event-id", errors[0]["id"])
    assert in_view(page, ".tl-row.selected")
    expect(page.locator(f'#detail[data-event-id="{errors[0]["id"]}"]')).to_contain_text(
        "ToolFailed"
    )
    page.click("#next-error")
    expect(page.locator(".tl-row.selected")).to_have_attribute("data-event-id", errors[1]["id"])
    assert in_view(page, ".tl-row.selected")
    page.keyboard.press("Shift+E")
    expect(page.locator(".tl-row.selected")).to_have_attribute("data-event-id", errors[0]["id"])
    shot(page, "tree-next-error", full_page=False)


def test_j_and_k_walk_in_time_order(trees: Trees, page: Any) -> None:
    expected = trees.tree("tree")
    by_time = [r["id"] for r in sorted(expected, key=lambda r: (r["start"], r["id"]))]
    assert by_time[:8] != [r["id"] for r in expected[:8]]  # tree order is not time order here
    open_session(page, trees, "tree")
    page.locator(f"#event-{by_time[0]}").click()
    walked = [selected_id(page)]
    for _ in range(7):
        page.keyboard.press("j")
        walked.append(selected_id(page))
    assert walked == by_time[:8]
    page.keyboard.press("k")
    assert selected_id(page) == by_time[6]


def test_filters_by_kind_agent_and_status_keep_the_path(trees: Trees, page: Any) -> None:
    open_session(page, trees, "tree")
    page.select_option("#f-kind", "tool")
    rows = dom_rows(page)
    assert {r["kind"] for r in rows if "context" not in r["cls"]} == {"tool"}
    assert {r["kind"] for r in rows if "context" in r["cls"]} <= {"agent", "action"}
    count = page.locator("#row-count").inner_text()
    tools = sum(1 for r in trees.tree("tree") if r["kind"] == "tool")
    assert count == f"{tools} of 400 events"
    page.select_option("#f-kind", "")
    page.select_option("#f-status", "error")
    rows = [r for r in dom_rows(page) if "context" not in r["cls"]]
    assert rows
    assert all("errors" in r["cls"] or "has-error" in r["cls"] for r in rows)
    page.select_option("#f-status", "")
    agent_id, name = next(iter(trees.runs["tree"].agents.items()))
    page.select_option("#f-agent", agent_id)
    agents = page.eval_on_selector_all(
        ".tl-row:not(.context)", "rows => rows.map(r => r.dataset.agent)"
    )
    assert agents
    assert set(agents) == {agent_id}
    assert page.locator(f"#f-agent option[value='{agent_id}']").inner_text() == name


def test_the_time_axis_zooms_and_pans(trees: Trees, page: Any) -> None:
    open_session(page, trees, "tree")

    def ticks() -> list[str]:
        return page.locator("#tl-axis .tick").all_inner_texts()

    def llm_bar() -> float:
        script = "b => b.getBoundingClientRect().width"
        return page.eval_on_selector(".tl-row[data-kind=llm] .tl-bar", script)

    whole, width = ticks(), llm_bar()
    assert whole[0] == "0 ms"
    # The wheel on the axis zooms around the pointer: at the left edge, the start stays.
    box = page.locator("#tl-axis .tl-track").bounding_box()
    page.mouse.move(box["x"], box["y"] + box["height"] / 2)
    for _ in range(12):
        page.mouse.wheel(0, -200)
    expect(page.locator("#tl-axis .tick").last).not_to_have_text(whole[-1])
    assert ticks()[0] == "0 ms"
    assert llm_bar() > width * 1.5
    page.keyboard.press("0")
    assert ticks() == whole
    page.click("#zoom-in")
    page.click("#zoom-in")
    zoomed = ticks()
    assert zoomed != whole
    page.click("#pan-right")
    assert ticks()[0] != zoomed[0]
    page.click("#zoom-reset")
    assert ticks() == whole


def test_details_load_per_event_and_the_session_is_never_downloaded_whole(
    trees: Trees, page: Any
) -> None:
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    expected = trees.tree("tree")
    open_session(page, trees, "tree")
    llm = next(r for r in expected[:20] if r["kind"] == "llm")
    page.locator(f"#event-{llm['id']}").click()
    detail = page.locator(f'#detail[data-event-id="{llm["id"]}"]')
    expect(detail.locator(".chat.prompt")).to_contain_text("what next?")
    paths = [u.split(trees.server.url, 1)[-1] for u in requested if u.startswith(trees.server.url)]
    data = [p for p in paths if not p.startswith("/static/") and "favicon" not in p]
    sid = trees.ids["tree"]
    assert data == [
        f"/sessions/{sid}",
        f"/sessions/{sid}/tree",
        f"/sessions/{sid}/events/{llm['id']}",
    ]
    assert page.url.endswith(f"#event-{llm['id']}")


def test_the_live_view_asks_only_for_changes_and_follows_new_events(
    trees: Trees, page: Any
) -> None:
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    open_session(page, trees, "live")
    expect(page.locator("#follow-box")).to_be_visible()
    assert page.locator("#follow").is_checked()
    before = page.locator("#row-count").inner_text()
    assert before == "20 events"
    agent = next(iter(trees.runs["live"].agents))
    late = synthetic_run(80, seed=9).events[3:43]  # 40 more, later in time
    for e in late:
        e["agent_id"] = agent
    auth = {"Authorization": f"Bearer {trees.jwt['live']}"}
    trees.http.post("/v2/create_events", json={"events": late}, headers=auth).raise_for_status()
    expect(page.locator("#row-count")).to_have_text("60 events", timeout=15000)
    expect(page.locator("#new-count")).to_have_text("40 new")
    newest = max(late, key=lambda e: e["init_timestamp"])
    expect(page.locator(f"#event-{newest['id']}.is-new")).to_be_attached()  # followed
    end = {"session": {"end_state": "Fail", "end_state_reason": "stopped " + XSS}}
    trees.http.post("/v2/update_session", json=end, headers=auth).raise_for_status()
    expect(page.locator("#state")).to_have_text("Fail", timeout=15000)
    expect(page.locator("#reason")).to_have_text("stopped " + XSS)
    expect(page.locator("#follow-box")).to_be_hidden()
    sid = trees.ids["live"]
    paths = [u.split(trees.server.url, 1)[-1] for u in requested]
    data = [p for p in paths if p.startswith(f"/sessions/{sid}/")]
    assert data[0] == f"/sessions/{sid}/tree"
    assert len(data) > 2
    assert all(p.startswith(f"/sessions/{sid}/changes?cursor=") for p in data[1:])
    assert page.evaluate("window.__pwned") is None
    assert page.errors == []


def test_log_records_after_their_span_show_in_its_open_detail(
    trees: Trees, page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An instrumentation sends a chat span, then its messages as log records: the open
    # detail shows them at the next poll, though the span's row in the tree did not change.
    monkeypatch.setattr(drilldown, "GRACE", dt.timedelta(0))  # only what was written since
    trace, llm = new_trace_id(), new_span_id()
    start = now_ns() - 30 * SECOND
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}
    root = new_span_id()  # the agent's span, still open: not sent yet
    chat = span(
        trace, llm, root, name="chat gpt-4o", start=start, end=start + SECOND, attributes=attributes
    )
    key = trees.server.api_key
    assert post(trees.http, "/v1/traces", traces_json([chat]), JSON, key).status_code == 200
    session_id = trace_session(trees.server.project_id, trace)  # no root span yet: running
    page.goto(f"{trees.server.url}/sessions/{session_id}")
    page.wait_for_selector("#timeline[data-ready=true]")
    expect(page.locator("#follow-box")).to_be_visible()
    page.locator(f"#event-{llm}").click()
    detail = page.locator(f'#detail[data-event-id="{llm}"]')
    expect(detail).to_be_visible()
    assert "Which gate for AZ 611?" not in detail.inner_text()
    record = {"trace_id": trace, "span_id": llm, "event_name": "gen_ai.user.message"}
    record["body"] = {"content": "Which gate for AZ 611?"}
    assert post(trees.http, "/v1/logs", logs_json([record]), JSON, key).status_code == 200
    expect(detail).to_contain_text("Which gate for AZ 611?", timeout=15000)
    assert page.locator("#row-count").inner_text() == "1 event"
    assert page.locator("#new-count").inner_text() == ""  # a change, not a new event
    assert page.errors == []


def test_agent_names_and_labels_stay_text(trees: Trees, page: Any) -> None:
    open_session(page, trees, "xss")
    names = page.locator(".tl-row .tl-name").all_inner_texts()
    assert any("<script>" in n for n in names)
    assert any(XSS in a for a in page.locator(".tl-row .tl-agent").all_inner_texts())
    options = page.locator("#f-agent option").all_inner_texts()
    assert any(XSS in o for o in options)
    page.keyboard.press("e")
    expect(page.locator("#detail .detail-head")).to_contain_text("<img src=x")
    page.select_option("#group", "agent")
    assert any(XSS in lane for lane in page.locator(".tl-lane-name").all_inner_texts())
    assert page.locator("#timeline img, #detail img, #timeline script").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []
    assert page.errors == []


def test_compare_from_the_session_page_highlights_the_first_divergence(
    trees: Trees, page: Any
) -> None:
    good, bad = trees.ids["good"], trees.ids["bad"]
    open_session(page, trees, "good")
    page.fill("#compare-b", bad)
    page.click(".compare-form button[type=submit]")
    page.wait_for_url(re.compile(r"/compare\?a=.*&b="))
    assert f"a={good}" in page.url
    first = page.locator("#first-divergence")
    expect(first).to_have_class(re.compile("first-divergence"))
    assert page.eval_on_selector(
        "#first-divergence",
        "n => { const r = n.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }",
    )
    statuses = page.eval_on_selector_all(
        "#cmp-table tbody tr", "rows => rows.map(r => r.dataset.status)"
    )
    assert statuses.count("only_a") == statuses.count("only_b") == 1  # the tool that changed
    assert statuses.count("differs") == 1  # the answer that changed
    assert (
        statuses.index("only_a") == statuses.index("only_b") - 1
        or statuses.index("only_b") == statuses.index("only_a") - 1
    )
    first_index = min(statuses.index(s) for s in ("only_a", "only_b", "differs"))
    assert first.get_attribute("data-status") == statuses[first_index]
    assert "differs: outputs" in page.locator("tr.differs .cmp-status").inner_text()
    expect(page.locator("#delta-outcome")).to_have_text("Success → Fail")
    expect(page.locator("#cmp-cap")).to_have_count(0)
    shot(page, "compare", full_page=False)
    assert page.errors == []


def test_compare_says_when_steps_were_capped(
    trees: Trees, page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compare, "STEP_LIMIT", 10)
    page.goto(f"{trees.server.url}/compare?a={trees.ids['good']}&b={trees.ids['bad']}")
    expect(page.locator("#cmp-cap")).to_contain_text("Only the first 10 LLM and tool calls")
    assert page.locator("#cmp-table tbody tr").count() <= 20


def test_compare_names_stay_text(trees: Trees, page: Any) -> None:
    page.goto(f"{trees.server.url}/compare?a={trees.ids['xss']}&b={trees.ids['good']}")
    expect(page.locator("#cmp-table")).to_contain_text("<script>")
    assert page.locator("#cmp-table img, #cmp-table script").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []


def test_compare_with_another_projects_session_is_404(trees: Trees, page: Any) -> None:
    storage = trees.server.storage
    project = storage.create_project(f"other-{uuid.uuid4()}")
    key, _ = storage.create_api_key(project.id)
    theirs, _ = send_run(trees.http, key, synthetic_run(12, seed=11))
    unknown = str(uuid.uuid4())
    for b in (theirs, unknown):
        answer = page.goto(f"{trees.server.url}/compare?a={trees.ids['good']}&b={b}")
        assert answer.status == 404
    answer = trees.http.get(f"/compare?a={trees.ids['good']}&b={theirs}&format=json")
    assert answer.status_code == 404
    assert answer.json()["message"] == f"unknown session: {theirs}"


def test_compare_two_sessions_picked_in_the_list(trees: Trees, page: Any) -> None:
    good, bad = trees.ids["good"], trees.ids["bad"]
    page.goto(f"{trees.server.url}/sessions?limit=100")
    expect(page.locator("#compare-go")).to_be_hidden()
    page.check(f'tr[data-session-id="{good}"] input.pick')
    expect(page.locator("#compare-bar")).to_contain_text("one more")
    page.check(f'tr[data-session-id="{trees.ids["tree"]}"] input.pick')
    page.check(f'tr[data-session-id="{bad}"] input.pick')  # a third: the first picked goes
    assert not page.locator(f'tr[data-session-id="{good}"] input.pick').is_checked()
    page.uncheck(f'tr[data-session-id="{trees.ids["tree"]}"] input.pick')
    page.check(f'tr[data-session-id="{good}"] input.pick')
    page.click("#compare-go")
    page.wait_for_url(re.compile(r"/compare\?"))
    assert page.url.endswith(f"/compare?a={bad}&b={good}")
    expect(page.locator("#delta-outcome")).to_have_text("Fail → Success")
    assert page.errors == []


def test_the_pages_tree_order_is_the_servers_on_random_graphs(trees: Trees, page: Any) -> None:
    """tree.js places rows that arrive live by the rules of spantree.py: both agree on
    random forests with orphans, self-parents and cycles (ties in time included)."""
    import random

    from agentwatch.server.spantree import tree_order

    @dataclass(frozen=True)
    class Link:
        id: str
        parent_id: str | None
        order: tuple[int]

    rng = random.Random(12)
    graphs = []
    for _ in range(300):
        n = rng.randint(0, 30)
        names = [f"s{i}" for i in range(n)]
        choices = [None, "ghost", *names]
        graphs.append([(names[i], rng.choice(choices), rng.randint(0, 4)) for i in range(n)])
    page.goto(f"{trees.server.url}/sessions")
    placed_js = page.evaluate(
        """async (graphs) => {
            const tree = await import("/static/tree.js");
            return graphs.map((g) => {
                const rows = new Map(g.map(([id, parent, start]) => [id, { id, parent, start }]));
                return tree.treeOrder(rows).map((item) => [item.row.id, item.depth]);
            });
        }""",
        graphs,
    )
    for graph, from_js in zip(graphs, placed_js, strict=True):
        spans = [Link(i, p, (s,)) for i, p, s in graph]
        expected = [[spans[p.index].id, p.depth] for p in tree_order(spans)]
        assert from_js == expected, graph


def test_a_tree_over_the_limit_says_so(
    trees: Trees, page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentwatch.server import drilldown

    monkeypatch.setattr(drilldown, "TREE_LIMIT", 50)
    open_session(page, trees, "tree")
    assert page.locator("#row-count").inner_text() == "50 events"
    expect(page.locator(".tl-status")).to_contain_text("(only the first 50 of 400 events)")


def test_a_stored_parent_cycle_is_drawn_once_per_span(trees: Trees, page: Any) -> None:
    """Links that loop across events (stored as sent: README "The v2 protocol") are drawn
    in the server's order, each span once, and selecting a span inside a cycle ends."""
    from tests.server.conftest import V2
    from tests.server.test_parent_cycles import seed_cycles, tree

    with V2(trees.server) as v2:
        session_id, ids = seed_cycles(v2)
        expected = [(r["id"], r["depth"]) for r in tree(v2, session_id)]
    page.goto(f"{trees.server.url}/sessions/{session_id}")
    page.wait_for_selector("#timeline[data-ready=true]")
    shown = dom_rows(page)
    assert [(r["id"], r["indent"] // 14) for r in shown] == expected
    assert len(shown) == len(ids)
    page.locator(f"#event-{ids['e']}").click()  # deepest in the 3-cycle: its path expands
    expect(page.locator(f'#detail[data-event-id="{ids["e"]}"]')).to_be_visible()
    assert page.errors == []
