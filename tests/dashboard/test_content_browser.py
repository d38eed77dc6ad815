"""Readable content on the session page, in Chromium: markdown, JSON trees, LLM call
details, agent names, dark mode. LLM calls are recorded through the real ``openai``
library against the fake provider of the instrumentation tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest
from playwright.sync_api import expect

from agentwatch import LLMEvent, ToolEvent, record_action, track_agent
from agentwatch.session.session import Session
from tests.dashboard.conftest import XSS, Seeded, shot
from tests.instrumentation.fake_provider import ARGUMENTS, FakeProvider, serve
from tests.server.conftest import V2
from tests.server.conftest import event as wire_event

pytestmark = pytest.mark.browser

ANSWER = """## Two days in Rome

Here is **the plan**, with `inline code` and a [map](https://maps.example.org/rome?q=1).

1. Day one
   - Colosseum
   - Forum
2. Day two

```python
def total(prices):
    return sum(prices)
```

| Stop | Hours |
|------|------:|
| Vatican | 3 |

> Book tickets early."""

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a **city**.\nUse it before planning outdoor stops.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}
LEGS = [{"leg": n, "from": "FCO", "to": "LIS"} for n in range(30)]
REQUEST = {"city": "Rome", "days": 2, "interests": ["food", "history"]}
NOTE = "line one\nline two\nline three"


@dataclass
class Recorded:
    server_url: str
    session: Callable[[str], dict[str, Any]]
    llm: str  # session: two openai calls and a markdown answer, by the agent "writer"
    tool: str  # session: a tool whose params hold JSON text, a multi-line string, 30 legs
    xss: str  # session: hostile markdown and JSON
    spans: str  # session: an LLM event that tells its call only by span attributes


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    with serve() as running:
        yield running


def record_llm_session(seeded: Seeded, provider: FakeProvider) -> str:
    session = seeded.client.start_session(tags=["content"])
    oai = openai.OpenAI(api_key="sk-test", base_url=provider.openai_url, max_retries=0)

    @track_agent("writer")
    class Writer:
        @record_action("draft")
        def draft(self) -> None:
            stream = oai.chat.completions.create(
                model="gpt-4o-mini",
                messages=[
                    {"role": "system", "content": "You plan trips. Answer in **markdown**."},
                    {"role": "user", "content": "Plan:\n- Rome\n- two days"},
                ],
                temperature=0.3,
                max_tokens=200,
                stream=True,
                stream_options={"include_usage": True},
                extra_headers={"x-fake-chunk-delay": "0.02"},
            )
            for _ in stream:
                pass
            oai.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "What is the weather in Rome?"}],
                tools=[WEATHER_TOOL],
                tool_choice="auto",
                seed=7,
            )
            session.record(
                LLMEvent(
                    model="gpt-4o-mini",
                    prompt=[{"role": "user", "content": "Write the plan."}],
                    completion={"role": "assistant", "content": ANSWER},
                    prompt_tokens=40,
                    completion_tokens=120,
                )
            )

    try:
        Writer().draft()
    finally:
        oai.close()
    session.end_session("Success")
    return session.session_id


def record_tool_session(seeded: Seeded) -> str:
    session = seeded.client.start_session(tags=["content"])
    session.record(
        ToolEvent(
            name="search_flights",
            params={"request": json.dumps(REQUEST), "note": NOTE, "legs": LEGS},
            returns={"raw": json.dumps([{"flight": "AW123", "price_eur": 142}]), "count": 1},
        )
    )
    session.end_session("Success")
    return session.session_id


def record_xss_session(seeded: Seeded, beacon: str) -> str:
    session: Session = seeded.client.start_session(tags=["content-xss"])
    hostile = "\n\n".join(
        [
            "[click me](javascript:window.__pwned=3)",
            "[data link](data:text/html,<script>window.__pwned=4</script>)",
            '<a href="javascript:window.__pwned=5">raw html link</a>',
            f"![tracker]({beacon})",
            "```html\n</code></pre><script>window.__pwned=6</script>\n```",
            '**<img src=x onerror="window.__pwned=7">**',
            "[https://good.example](javascript:alert(2))",
            XSS,
        ]
    )
    session.record(
        LLMEvent(
            model="gpt-4o-mini",
            prompt=[{"role": "user", "content": hostile}],
            completion={"role": "assistant", "content": hostile},
        )
    )
    session.record(
        ToolEvent(
            name="<b>tool</b>",
            params={
                "<img src=x onerror=window.__pwned=8>": "<script>window.__pwned=9</script>",
                "args": json.dumps({"<b>k</b>": "javascript:alert(1)", "x": XSS}),
            },
        )
    )
    session.end_session("Success")
    return session.session_id


# What OpenTelemetry clients put on an LLM span (research/otel-clients.md): AgentOps'
# streaming names, Logfire's finish reasons as JSON text, OpenInference's parameters and
# tools as JSON text, its input as JSON text.
SPAN_ATTRIBUTES = {
    "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.request.temperature": 0.7,
    "gen_ai.request.max_tokens": 512,
    "gen_ai.request.streaming": True,
    "gen_ai.streaming.time_to_first_token": 0.42,
    "gen_ai.response.finish_reasons": '["length"]',
    "llm.invocation_parameters": '{"top_p": 0.9, "temperature": 0.7}',
    "llm.tools.0.tool.json_schema": json.dumps(
        {"type": "function", "function": {"name": "lookup", "description": "Find a thing"}}
    ),
    "input.value": json.dumps({"messages": [{"role": "user", "content": "hi"}]}),
}


def record_span_session(seeded: Seeded) -> str:
    with V2(seeded.server) as v2:
        session_id, jwt = v2.create_session(tags=["spans"])
        llm = wire_event("llms", model="gpt-4o", prompt="hi", completion="hello")
        response = v2.events(jwt, [{**llm, "attributes": SPAN_ATTRIBUTES}])
        assert response.status_code == 200, response.text
    return session_id


@pytest.fixture(scope="module")
def recorded(seeded: Seeded, provider: FakeProvider) -> Recorded:
    ids = (
        record_llm_session(seeded, provider),
        record_tool_session(seeded),
        record_xss_session(seeded, seeded.server.url + "/beacon.png?leak=1"),
        record_span_session(seeded),
    )
    assert seeded.client.flush(timeout=10)
    return Recorded(seeded.server.url, seeded.server.session, *ids)


def events(recorded: Recorded, session_id: str, event_type: str) -> list[dict[str, Any]]:
    return [e for e in recorded.session(session_id)["events"] if e["event_type"] == event_type]


def open_event(page: Any, recorded: Recorded, session_id: str, event: dict[str, Any]) -> Any:
    page.goto(f"{recorded.server_url}/sessions/{session_id}#event-{event['id']}")
    page.wait_for_selector(f"#event-{event['id']}.selected")
    return shown_detail(page, event["id"])


def shown_detail(page: Any, event_id: str) -> Any:
    """The detail panel once it shows ``event_id`` (details load when an event is selected)."""
    page.wait_for_selector(f'#detail[data-event-id="{event_id}"]')
    return page.locator("#detail")


def facts(detail: Any) -> dict[str, str]:
    names = detail.locator(".facts dt").all_inner_texts()
    values = detail.locator(".facts dd").all_inner_texts()
    return dict(zip(names, values, strict=True))


# -- LLM events ----------------------------------------------------------------------------


def test_streamed_openai_call_shows_streaming_ttft_and_parameters(
    recorded: Recorded, page: Any
) -> None:
    streamed = events(recorded, recorded.llm, "llms")[0]
    assert streamed["params"]["stream"] is True  # as the SDK recorded it
    assert streamed["time_to_first_token"] > 0
    detail = open_event(page, recorded, recorded.llm, streamed)
    shown = facts(detail)
    assert shown["Streaming"] == "yes"
    assert shown["Time to first token"].endswith("ms")
    ttft_ms = float(shown["Time to first token"].removesuffix(" ms"))
    assert ttft_ms == pytest.approx(streamed["time_to_first_token"] * 1000, abs=1)
    assert shown["Model"] == streamed["model"] == "gpt-4o-mini-2024-07-18"
    assert shown["Requested model"] == "gpt-4o-mini"
    assert shown["Provider"] == "openai"
    assert shown["Stop reason"] == "stop"
    assert shown["Agent"] == "writer"
    params = detail.locator(".llm-params .kv-table")
    assert params.locator("dt").all_inner_texts() == ["temperature", "max_tokens", "stream_options"]
    assert params.locator("dd").nth(0).inner_text() == "0.3"
    assert params.locator("dd").nth(1).inner_text() == "200"
    assert "include_usage" in params.locator("dd").nth(2).inner_text()
    prompt = detail.locator(".chat.prompt")
    assert prompt.locator(".msg.role-user .md li").all_inner_texts() == ["Rome", "two days"]
    assert prompt.locator(".msg.role-system .md strong").inner_text() == "markdown"
    assert "Hello from the fake provider." in detail.locator(".chat.completion").inner_text()
    assert detail.locator(".llm-tools").count() == 0
    shot(page, "content-llm-streamed")
    assert page.errors == []


def test_tool_calling_openai_call_shows_tools_and_parsed_arguments(
    recorded: Recorded, page: Any
) -> None:
    call = events(recorded, recorded.llm, "llms")[1]
    arguments = call["completion"]["tool_calls"][0]["function"]["arguments"]
    assert arguments == ARGUMENTS  # stored as the JSON text the API sent
    detail = open_event(page, recorded, recorded.llm, call)
    shown = facts(detail)
    assert shown["Streaming"] == "no"
    assert "Time to first token" not in shown
    assert shown["Stop reason"] == "tool_calls"
    params = detail.locator(".llm-params .kv-table")
    assert params.locator("dt").all_inner_texts() == ["tool_choice", "seed"]
    tools = detail.locator(".llm-tools")
    assert tools.locator("h3").inner_text().lower() == "tools offered (1)"
    tool = tools.locator("details.tool-def")
    assert tool.locator(":scope > summary .tool-name").inner_text() == "get_weather"
    assert tool.locator(":scope > summary .tool-desc").inner_text() == "Current weather for a city."
    tool.locator(":scope > summary").click()
    assert tool.locator(".md strong").inner_text() == "city"
    assert "City name" in tool.locator(".jt").inner_text()
    tool_call = detail.locator(".chat.completion .tool-call")
    assert tool_call.locator(".tool-name").inner_text() == "get_weather"
    parsed = tool_call.locator(".jt-from-text")
    assert parsed.locator(".jt-badge").inner_text() == "JSON text"
    assert parsed.locator(".jt-leaf .jt-key").all_inner_texts() == ["city:"]
    assert parsed.locator(".jt-leaf .jt-str").all_inner_texts() == ['"Rome"']
    assert "\\" not in tool_call.inner_text()  # no escaped JSON string anywhere
    shot(page, "content-llm-tools")


def test_llm_event_told_by_span_attributes(recorded: Recorded, page: Any) -> None:
    llm = events(recorded, recorded.spans, "llms")[0]
    assert llm["attributes"] == SPAN_ATTRIBUTES
    detail = open_event(page, recorded, recorded.spans, llm)
    shown = facts(detail)
    assert shown["Streaming"] == "yes"
    assert shown["Time to first token"] == "420 ms"
    assert shown["Stop reason"] == "length"
    assert shown["Provider"] == "openai"
    params = detail.locator(".llm-params .kv-table")
    assert params.locator("dt").all_inner_texts() == ["top_p", "temperature", "max_tokens"]
    assert params.locator("dd").all_inner_texts() == ["0.9", "0.7", "512"]
    assert detail.locator(".llm-tools .tool-name").all_inner_texts() == ["lookup"]
    attributes = detail.locator("section.kv", has=page.locator("h3", has_text="Attributes"))
    parsed = attributes.locator(
        ".jt-from-text", has=page.locator(".jt-key", has_text="input.value")
    )
    assert "messages:" in parsed.first.inner_text()
    assert page.errors == []


def test_markdown_answer_is_rendered(recorded: Recorded, page: Any) -> None:
    answer = events(recorded, recorded.llm, "llms")[2]
    detail = open_event(page, recorded, recorded.llm, answer)
    md = detail.locator(".chat.completion .md")
    assert md.locator("h2").inner_text() == "Two days in Rome"
    assert md.locator("strong").first.inner_text() == "the plan"
    assert md.locator("code.md-inline-code").inner_text() == "inline code"
    link = md.locator("a.md-link")
    assert link.get_attribute("href") == "https://maps.example.org/rome?q=1"
    assert link.get_attribute("rel") == "noopener noreferrer nofollow"
    assert md.locator("ol > li").count() == 2
    assert md.locator("ol > li").first.locator("ul > li").all_inner_texts() == [
        "Colosseum",
        "Forum",
    ]
    code = md.locator(".md-code")
    assert code.locator(".md-lang").inner_text() == "python"
    assert code.locator("pre code").inner_text() == "def total(prices):\n    return sum(prices)"
    font = code.locator("pre code").evaluate("n => getComputedStyle(n).fontFamily")
    assert "monospace" in font
    assert md.locator("td.align-right").inner_text() == "3"
    assert md.locator("blockquote").inner_text() == "Book tickets early."
    # The source is one click away, and back.
    completion = detail.locator(".chat.completion")
    completion.locator(".rich-toggle").click()
    assert completion.locator(".plain-text.source").inner_text() == ANSWER
    assert completion.locator(".md").count() == 0
    completion.locator(".rich-toggle").click()
    assert completion.locator(".md h2").count() == 1
    shot(page, "content-markdown")
    assert page.errors == []


# -- JSON ----------------------------------------------------------------------------------


def test_json_text_and_multiline_strings_are_shown_structured(
    recorded: Recorded, page: Any
) -> None:
    tool = events(recorded, recorded.tool, "tools")[0]
    assert isinstance(tool["params"]["request"], str)
    detail = open_event(page, recorded, recorded.tool, tool)
    params = detail.locator("section.params .jt")
    parsed = params.locator(".jt-from-text")
    assert parsed.locator(":scope > summary .jt-key").inner_text() == "request:"
    keys = parsed.locator(":scope > .jt-children > .jt-leaf > .jt-key").all_inner_texts()
    assert keys == ["city:", "days:"]
    assert parsed.locator(".jt-children details .jt-str").all_inner_texts() == [
        '"food"',
        '"history"',
    ]
    note = params.locator(".jt-multiline")
    assert note.inner_text() == NOTE  # real line breaks, no quotes, no \n
    assert note.evaluate("n => n.getBoundingClientRect().height") > 40
    returns = detail.locator("section.returns .jt")
    assert "AW123" in returns.locator(".jt-from-text").inner_text()
    assert "\\n" not in detail.locator("section.params").inner_text()
    assert '\\"' not in detail.inner_text()
    shot(page, "content-tool")


def test_json_tree_folds_expands_and_copies(recorded: Recorded, page: Any) -> None:
    page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=recorded.server_url
    )
    tool = events(recorded, recorded.tool, "tools")[0]
    detail = open_event(page, recorded, recorded.tool, tool)
    tree = detail.locator("section.params .jt")
    legs = tree.locator("details", has=page.locator(":scope > summary .jt-key", has_text="legs"))
    # 30 entries: folded, with a preview, children not even built yet.
    assert legs.get_attribute("open") is None
    assert legs.locator(":scope > summary .jt-count").inner_text() == "30 items"
    assert (
        legs.locator(":scope > summary .jt-preview")
        .inner_text()
        .startswith('[{leg: 0, from: "FCO", to: "LIS"}, {…}, {…}')
    )
    assert legs.locator(".jt-children").count() == 0
    legs.locator(":scope > summary").click()
    assert legs.get_attribute("open") == ""
    assert legs.locator(":scope > .jt-children > details").count() == 30
    legs.locator(":scope > summary").click()
    assert legs.get_attribute("open") is None
    tree.locator(".jt-expand").click()
    assert tree.locator("details:not([open])").count() == 0
    assert tree.locator(".jt-leaf", has_text='"LIS"').count() == 30
    tree.locator(".jt-fold").click()
    assert tree.locator("details[open]").count() == 0
    # A node's copy: the object it shows.
    tree.locator(".jt-fold").click()
    tree.locator(".jt-expand").click()
    first_leg = legs.locator(":scope > .jt-children > details").first
    first_leg.locator(":scope > summary").hover()
    copy = first_leg.locator(":scope > summary .copy-btn")
    copy.click()
    expect(copy).to_have_text("Copied ✓")
    assert json.loads(page.evaluate("navigator.clipboard.readText()")) == LEGS[0]
    assert first_leg.get_attribute("open") == ""  # copying did not fold it
    # The whole value: exactly as recorded (JSON text stays text).
    whole = tree.locator(".jt-tools .copy-btn")
    whole.click()
    expect(whole).to_have_text("Copied ✓")
    assert json.loads(page.evaluate("navigator.clipboard.readText()")) == tool["params"]
    expect(whole).to_have_text("Copy JSON")  # the confirmation goes away
    # A string leaf's copy: the text itself, line breaks and all.
    note = tree.locator(".jt-leaf", has=page.locator(".jt-multiline"))
    note.hover()
    note.locator(".copy-btn").click()
    expect(note.locator(".copy-btn")).to_have_text("Copied ✓")
    assert page.evaluate("navigator.clipboard.readText()") == NOTE
    assert page.errors == []


# -- agents, XSS, dark mode ----------------------------------------------------------------


def test_agent_names_are_shown_instead_of_ids(seeded: Seeded, page: Any) -> None:
    sid = seeded.ids["demo"]
    data = seeded.server.session(sid)
    names = {a["id"]: a["name"] for a in data["agents"]}
    assert set(names.values()) == {"researcher", "planner"}
    page.goto(f"{seeded.server.url}/sessions/{sid}")
    page.wait_for_selector(".tl-row")
    # In the tree each event names its agent; grouped by agent, each lane does.
    assert set(page.locator(".tl-row .tl-agent").all_inner_texts()) == {"researcher", "planner"}
    page.select_option("#group", "agent")
    lanes = page.locator(".tl-lane-name").all_inner_texts()
    assert [lane.split(" · ")[0] for lane in lanes] == ["researcher", "planner"]
    page.select_option("#group", "tree")
    for event in data["events"]:
        page.locator(f"#event-{event['id']}").click()
        detail = shown_detail(page, event["id"])
        shown = facts(detail)
        assert shown["Agent"] == names[event["agent_id"]]
        if event["event_type"] == "llms":  # hand-made: its params do not say how it was sent
            assert "Streaming" not in shown
        assert detail.locator(".agent-name").get_attribute("title") == f"agent {event['agent_id']}"
        visible = detail.locator(":scope > :not(details.raw)").all_inner_texts()
        assert not [t for t in visible if event["agent_id"] in t]


def test_hostile_markdown_and_json_stay_text(recorded: Recorded, page: Any) -> None:
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    llm = events(recorded, recorded.xss, "llms")[0]
    detail = open_event(page, recorded, recorded.xss, llm)
    completion = detail.locator(".chat.completion")
    text = completion.inner_text()
    assert "click me (javascript:window.__pwned=3)" in text
    assert "data link (data:text/html,<script>window.__pwned=4</script>)" in text
    assert '<a href="javascript:window.__pwned=5">raw html link</a>' in text
    assert "</code></pre><script>window.__pwned=6</script>" in text
    assert '<img src=x onerror="window.__pwned=7">' in text
    assert "https://good.example (javascript:alert(2))" in text
    assert "<script>window.__pwned = 1;" in text
    assert completion.locator("strong").inner_text() == '<img src=x onerror="window.__pwned=7">'
    # The tracker image is a link to follow, never loaded.
    image = completion.locator("a.md-image")
    assert image.get_attribute("href") == recorded.server_url + "/beacon.png?leak=1"
    assert image.inner_text() == "image: tracker"
    tool = events(recorded, recorded.xss, "tools")[0]
    page.locator(f"#event-{tool['id']}").click()
    params = page.locator("#detail section.params")
    assert "<img src=x onerror=window.__pwned=8>:" in params.inner_text()
    assert '"<script>window.__pwned=9</script>"' in params.inner_text()
    assert '"javascript:alert(1)"' in params.locator(".jt-from-text").inner_text()
    assert "<b>tool</b>" in page.locator("#detail .detail-head").inner_text()
    page.wait_for_timeout(300)
    hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
    assert not [h for h in hrefs if not (h.startswith(("/", "#", "http://127.0.0.1")))]
    assert page.locator("main img, main script, main iframe, main object").count() == 0
    assert not [u for u in requested if "beacon" in u]
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []
    assert not [e for e in page.errors if "pwned" in e or "Content Security Policy" in e]
    shot(page, "content-xss")


def background(page: Any, selector: str) -> str:
    return page.locator(selector).first.evaluate("n => getComputedStyle(n).backgroundColor")


def test_dark_mode_follows_the_system_setting(
    recorded: Recorded, seeded: Seeded, page: Any
) -> None:
    answer = events(recorded, recorded.llm, "llms")[2]
    tool = events(recorded, recorded.tool, "tools")[0]
    open_event(page, recorded, recorded.llm, answer)
    light = {s: background(page, s) for s in ("html", ".detail", ".md-code", ".msg.role-assistant")}
    light_ink = page.locator("body").evaluate("n => getComputedStyle(n).color")
    page.emulate_media(color_scheme="dark")
    dark = {s: background(page, s) for s in light}
    assert light["html"] == "rgb(246, 247, 249)"
    assert dark["html"] == "rgb(13, 17, 23)"
    assert all(dark[s] != light[s] for s in light), (light, dark)
    assert page.locator("body").evaluate("n => getComputedStyle(n).color") != light_ink
    shot(page, "dark-llm")
    open_event(page, recorded, recorded.tool, tool)
    shot(page, "dark-tool")
    page.goto(f"{seeded.server.url}/overview")
    page.wait_for_selector("#chart-duration svg")
    grid = page.locator(".chart-svg .grid").first.evaluate("n => getComputedStyle(n).stroke")
    label = page.locator(".chart-svg text").first.evaluate("n => getComputedStyle(n).fill")
    assert grid == "rgb(38, 46, 57)"
    assert label == "rgb(154, 165, 180)"  # --muted of the dark scheme: readable on its panel
    shot(page, "dark-overview")
    page.goto(f"{seeded.server.url}/sessions")
    shot(page, "dark-sessions")
    page.emulate_media(color_scheme="light")
    open_event(page, recorded, recorded.tool, tool)
    assert background(page, "html") == light["html"]
    shot(page, "light-tool")
    assert page.errors == []
