"""OpenTelemetry's own clients against a real agentwatch server; the stored tree is checked.

Each test runs a real client from PyPI (``client_venvs.OTEL_CLIENTS``) in a subprocess
(``*_script.py``) against ``uvicorn_server`` on 127.0.0.1, with the fake LLM provider
answering ``openai``. Every script writes the same agent run: an agent, a chat that asks
for ``get_weather``, the tool, a second chat. The assertions read the session back
through the JSON read API: the session it landed in, each LLM span's model, tokens,
messages and cost, each tool's arguments and result, who is whose parent, and that the
client logged no failed export.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.otel_harness import (
    QUESTION,
    Tree,
    assert_no_problems,
    check_agent_run,
    client_env,
    cost_of,
    gpt_4o_mini_cost,
    receiver_stats,
    run_script,
    session_of_trace,
    text_of,
)
from tests.instrumentation.fake_provider import (
    CACHED_TOKENS,
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    TEXT,
)

from agentwatch.server.testing import uvicorn_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # a cold venv build comes first

# -- the plain SDK + OTLP/HTTP exporter ------------------------------------------------------


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_otel_sdk_exporter_protobuf(
    db_url: str, compression: str, otel_clients_python: Path, tmp_path: Path
) -> None:
    session_key = str(uuid.uuid4())
    with uvicorn_server(db_url) as server:
        env = client_env(
            server,
            ["env-otel"],
            SESSION_ID=session_key,
            OTEL_EXPORTER_OTLP_COMPRESSION=compression,
        )
        run = run_script(otel_clients_python, "otel_sdk_script.py", env, tmp_path)
        assert_no_problems(run)
        detail = session_of_trace(server, run.result["trace_id"])
    tree = Tree(detail)
    spans = run.result["spans"]
    assert tree.session["id"] == session_key  # gen_ai.conversation.id names the session
    assert len(tree.events) == 4
    agent = tree.by_id[spans["agent"]]
    assert (agent["kind"], agent["name"], agent["parent_id"]) == ("agent", "planner", None)
    chat1, tool, chat2 = (tree.by_id[spans[k]] for k in ("chat1", "tool", "chat2"))
    check_agent_run(tree, agent, [chat1, chat2])

    assert (chat1["model"], chat1["prompt_tokens"], chat1["completion_tokens"]) == (
        "gpt-4o-mini",
        20,
        7,
    )
    assert chat1["cached_tokens"] == 8
    assert cost_of(chat1) == gpt_4o_mini_cost(20, 7, cached=8)
    assert chat1["data"]["stop_reason"] == "tool_calls"
    assert chat2["model"] == "house-model-1"
    assert chat2["cost"] is None, "a model without a price has an unknown cost, not 0"
    assert text_of(chat2["data"]["completion"]) == "It is 21 °C and clear in Rome."
    assert tool["data"]["params"] == {"city": "Rome"}
    assert tool["data"]["returns"] == {"temperature_c": 21, "sky": "clear"}

    session = tree.session
    assert session["tokens"] == {"prompt": 40, "completion": 14, "cached": 16, "total": 54}
    assert session["counts"]["llms"] == 2
    assert session["counts"]["tools"] == 1
    assert session["unpriced_llms"] == 1
    # The root span's status is unset: the run did not say how it ended.
    assert session["end_state"] == "Indeterminate"


def test_otel_sdk_exporter_with_a_revoked_key_is_refused_and_says_so(
    otel_clients_python: Path, tmp_path: Path
) -> None:
    """The harness sees a client's failed exports: a revoked key gets 401, the exporter
    logs it, and nothing is stored."""
    with uvicorn_server() as server:
        assert server.storage.revoke_api_keys(server.api_key)
        env = client_env(server, ["env-otel"], SESSION_ID=str(uuid.uuid4()))
        run = run_script(otel_clients_python, "otel_sdk_script.py", env, tmp_path)
        stored = server.storage.project_totals(server.project_id, None, None)
    assert any("401" in problem for problem in run.result["problems"]), run.result
    assert (stored["sessions"], stored["events"]) == (0, 0)


# -- a hand-built OTLP JSON request ----------------------------------------------------------


def any_value(value: Any) -> dict[str, Any]:
    """An OTLP JSON AnyValue (int64 as a string, as the JSON encoding asks)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def json_span(
    trace_id: str, span_id: str, parent: str | None, name: str, start: int, **attributes: Any
) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 5_000_000),
        "attributes": [{"key": k, "value": any_value(v)} for k, v in attributes.items()],
        "status": {"code": 1},
    }
    if parent:
        span["parentSpanId"] = parent
    return span


def openinference_json_request(trace_id: str, session_key: str, start: int) -> dict[str, Any]:
    """An OpenInference agent with an LLM child and a tool child, as OTel JS would send it."""
    agent, llm, tool = "a1" * 8, "b2" * 8, "c3" * 8
    spans = [
        json_span(
            trace_id,
            tool,
            agent,
            "get_weather",
            start + 20_000_000,
            **{
                "openinference.span.kind": "TOOL",
                "tool.name": "get_weather",
                "input.value": '{"city": "Rome"}',
                "input.mime_type": "application/json",
                "output.value": "21 °C",
                "output.mime_type": "text/plain",
            },
        ),
        json_span(
            trace_id,
            llm,
            agent,
            "ChatCompletion",
            start + 10_000_000,
            **{
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o-mini",
                "llm.token_count.prompt": 120,
                "llm.token_count.completion": 30,
                "llm.input_messages.0.message.role": "user",
                "llm.input_messages.0.message.content": QUESTION,
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "Let me check.",
            },
        ),
        json_span(
            trace_id,
            agent,
            None,
            "planner",
            start,
            **{
                "openinference.span.kind": "AGENT",
                "session.id": session_key,
                "tag.tags": ["json", "hand-built"],
            },
        ),
    ]
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "js-agent"}}]}
    scope = {"scope": {"name": "hand-built"}, "spans": spans}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [scope]}]}


def test_hand_built_otlp_json(db_url: str) -> None:
    trace_id, session_key = uuid.uuid4().hex, str(uuid.uuid4())
    body = openinference_json_request(trace_id, session_key, 1_796_000_000_000_000_000)
    with uvicorn_server(db_url) as server:
        answer = httpx.post(
            f"{server.url}/v1/traces",
            json=body,
            headers={"Authorization": f"Bearer {server.api_key}"},
            timeout=30,
        )
        detail = session_of_trace(server, trace_id)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json().get("partialSuccess", {}).get("rejectedSpans", "0") in ("0", 0)
    tree = Tree(detail)
    assert tree.session["id"] == session_key
    assert set(tree.session["tags"]) == {"json", "hand-built"}
    agent = tree.one("agent")
    llm, tool = tree.by_id["b2" * 8], tree.by_id["c3" * 8]
    assert tree.roots() == [agent]
    assert [e["id"] for e in tree.children(agent)] == [llm["id"], tool["id"]]
    assert (llm["kind"], llm["model"], llm["prompt_tokens"], llm["completion_tokens"]) == (
        "llm",
        "gpt-4o-mini",
        120,
        30,
    )
    assert cost_of(llm) == gpt_4o_mini_cost(120, 30)
    assert text_of(llm["data"]["prompt"][0]) == QUESTION
    assert text_of(llm["data"]["completion"]) == "Let me check."
    assert (tool["kind"], tool["name"]) == ("tool", "get_weather")
    assert tool["data"]["params"] == {"city": "Rome"}
    assert tool["data"]["returns"] == "21 °C"


# -- OpenInference's OpenAI instrumentor through phoenix.otel ------------------------------


def test_openinference_openai(otel_clients_python: Path, fake_openai: str, tmp_path: Path) -> None:
    session_key = str(uuid.uuid4())
    with uvicorn_server() as server:
        env = client_env(server, openai_url=fake_openai, SESSION_ID=session_key)
        run = run_script(otel_clients_python, "openinference_script.py", env, tmp_path)
        assert_no_problems(run)
        detail = session_of_trace(server, run.result["trace_id"])
    tree = Tree(detail)
    assert tree.session["id"] == session_key  # using_session() -> session.id
    agent = tree.one("agent", "planner")
    assert tree.roots() == [agent]
    llms = tree.of_kind("llm")
    assert len(llms) == 2
    check_agent_run(tree, agent, llms)
    for llm in llms:
        assert llm["model"] == "gpt-4o-mini-2024-07-18"  # the model that answered
        assert (llm["prompt_tokens"], llm["completion_tokens"]) == (
            PROMPT_TOKENS,
            COMPLETION_TOKENS,
        )
        assert llm["cached_tokens"] == CACHED_TOKENS
        assert cost_of(llm) == gpt_4o_mini_cost(PROMPT_TOKENS, COMPLETION_TOKENS, CACHED_TOKENS)
    assert text_of(llms[1]["data"]["completion"]) == TEXT
    tool = tree.one("tool", "get_weather")
    assert tool["data"]["params"] == {"city": "Rome"}
    assert tool["data"]["returns"] == {"city": "Rome", "temperature_c": 21}
    assert tree.session["tokens"]["prompt"] == 2 * PROMPT_TOKENS


# -- OpenTelemetry's openai-v2: spans, log events, metrics ---------------------------------


@pytest.mark.parametrize("capture", ["SPAN_ONLY", "EVENT_ONLY"])
def test_openai_v2(
    capture: str, otel_clients_python: Path, fake_openai: str, tmp_path: Path
) -> None:
    session_key = str(uuid.uuid4())
    with uvicorn_server() as server:
        env = client_env(
            server,
            ["env-otel", "env-openai-v2"],
            openai_url=fake_openai,
            SESSION_ID=session_key,
            OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=capture,
        )
        run = run_script(otel_clients_python, "openai_v2_script.py", env, tmp_path)
        assert_no_problems(run)  # /v1/logs and /v1/metrics answered too
        detail = session_of_trace(server, run.result["trace_id"])
        stats = receiver_stats(server)
    # The duration and token histograms of both calls, counted (metrics are not stored).
    assert stats["metrics"]["data_points"] >= 2, stats
    assert stats["metrics"]["refused"] == 0
    if capture == "EVENT_ONLY":  # one inference details event per call, on /v1/logs
        assert (stats["logs"]["accepted"], stats["logs"]["refused"]) == (2, 0), stats
    tree = Tree(detail)
    assert tree.session["id"] == session_key  # gen_ai.conversation.id of the agent
    agent = tree.one("agent", "planner")
    assert tree.roots() == [agent]
    llms = tree.of_kind("llm")
    assert [llm["model"] for llm in llms] == ["gpt-4o-mini-2024-07-18", "house-model-1"]
    for llm in llms:
        assert (llm["prompt_tokens"], llm["completion_tokens"]) == (
            PROMPT_TOKENS,
            COMPLETION_TOKENS,
        )
    # openai-v2 does not report cached tokens: the whole prompt is priced as input.
    assert cost_of(llms[0]) == gpt_4o_mini_cost(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert llms[1]["cost"] is None
    # With EVENT_ONLY the messages come as log events and reach their span on reading.
    check_agent_run(tree, agent, llms)
    assert text_of(llms[1]["data"]["completion"]) == TEXT
    tool = tree.one("tool", "get_weather")
    if capture == "SPAN_ONLY":  # tool arguments and results are captured on spans only
        assert tool["data"]["params"] == {"city": "Rome"}
        assert tool["data"]["returns"] == {"city": "Rome", "temperature_c": 21}
