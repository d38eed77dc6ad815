"""agentops 0.4.21, Langfuse 5 and Logfire, unchanged, against a real agentwatch server.

Like test_otel_clients.py (same harness, same fake LLM provider), for the clients that
speak to their vendor's own routes as well: agentops' ``/v3/auth/token`` and
``/v4/logs/upload/``, Langfuse's ``/api/public/projects`` and
``/api/public/otel/v1/traces``, Logfire's ``/v1/info``.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from tests.e2e.otel_harness import (
    QUESTION,
    Tree,
    assert_no_problems,
    check_agent_run,
    client_env,
    cost_of,
    gpt_4o_mini_cost,
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

# agentops 0.4.21 cannot wrap openai 3's streaming API (openai.resources.beta.chat is gone);
# plain calls, the ones the script makes, are instrumented.
AGENTOPS_HARMLESS = [r"OPENAI INSTRUMENTOR\] Error setting up OpenAI streaming wrappers"]


def test_agentops_04(
    db_url: str, agentops04_python: Path, fake_openai: str, tmp_path: Path
) -> None:
    with uvicorn_server(db_url) as server:
        env = client_env(server, openai_url=fake_openai)
        run = run_script(agentops04_python, "agentops04_script.py", env, tmp_path)
        assert_no_problems(run, AGENTOPS_HARMLESS)
        detail = session_of_trace(server, run.result["trace_id"])
    assert run.result["token"], "agentops got no token from /v3/auth/token"
    tree = Tree(detail)
    session = tree.session
    assert session["end_state"] == "Success"
    assert set(session["tags"]) == {"e2e", "agentops-04"}
    assert "planning a day in Rome" in (session.get("logs") or ""), "/v4/logs/upload/ lost"

    (root,) = tree.roots()  # the agentops session span: trip.session
    assert root["name"] == "trip"
    agent = tree.one("agent")
    assert agent["name"] == "planner"
    assert tree.parent(agent) == root
    (operation,) = tree.children(agent)
    assert operation["name"] == "plan_day"
    tool, llm = tree.one("tool"), tree.one("llm")
    assert [e["id"] for e in tree.children(operation)] == [tool["id"], llm["id"]]
    assert tool["name"] == "get_weather"
    assert tool["data"]["params"] == {"args": ["Rome"], "kwargs": {}}  # as agentops records it
    assert tool["data"]["returns"] == {"city": "Rome", "temperature_c": 21}
    assert operation["data"]["returns"] == TEXT

    assert llm["model"] == "gpt-4o-mini-2024-07-18"
    # agentops' older gen_ai.usage.prompt_tokens / completion_tokens names.
    assert (llm["prompt_tokens"], llm["completion_tokens"]) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert cost_of(llm) == gpt_4o_mini_cost(
        PROMPT_TOKENS, COMPLETION_TOKENS, llm["cached_tokens"] or 0
    )
    prompt = llm["data"]["prompt"]
    assert [m["role"] for m in prompt] == ["system", "user"]
    assert text_of(prompt[0]) == "You plan short trips."
    assert text_of(llm["data"]["completion"]) == TEXT


def test_langfuse_5(otel_clients_python: Path, tmp_path: Path) -> None:
    session_key = str(uuid.uuid4())
    with uvicorn_server() as server:
        env = client_env(server, ["env-langfuse"], SESSION_ID=session_key)
        run = run_script(otel_clients_python, "langfuse_script.py", env, tmp_path)
        assert_no_problems(run)  # auth_check() passed, the gzipped export was taken
        detail = session_of_trace(server, run.result["trace_id"])
    tree = Tree(detail)
    assert tree.session["id"] == session_key
    assert set(tree.session["tags"]) == {"e2e", "langfuse"}
    agent = tree.one("agent", "planner")
    assert tree.roots() == [agent]
    tool, llm = tree.one("tool", "get_weather"), tree.one("llm")
    assert [e["id"] for e in tree.children(agent)] == [tool["id"], llm["id"]]
    assert tool["data"]["params"] == {"args": ["Rome"], "kwargs": {}}  # as @observe records it
    assert tool["data"]["returns"] == {"city": "Rome", "temperature_c": 21}
    assert (llm["model"], llm["prompt_tokens"], llm["completion_tokens"]) == ("gpt-4o-mini", 20, 7)
    assert cost_of(llm) == gpt_4o_mini_cost(20, 7)
    prompt = llm["data"]["prompt"]
    assert [m["role"] for m in prompt] == ["user", "tool"]
    assert text_of(prompt[0]) == QUESTION
    assert "21 °C" in str(llm["data"]["completion"])


def test_logfire(otel_clients_python: Path, fake_openai: str, tmp_path: Path) -> None:
    session_key = str(uuid.uuid4())
    with uvicorn_server() as server:
        env = client_env(server, ["env-logfire"], openai_url=fake_openai, SESSION_ID=session_key)
        run = run_script(otel_clients_python, "logfire_script.py", env, tmp_path)
        assert_no_problems(run)  # the token check on /v1/info passed
        detail = session_of_trace(server, run.result["trace_id"])
    tree = Tree(detail)
    assert tree.session["id"] == session_key  # gen_ai.conversation.id
    assert set(tree.session["tags"]) >= {"e2e", "logfire"}
    agent = tree.one("agent", "planner")
    assert tree.roots() == [agent], "Logfire's pending spans must not be stored"
    llms = tree.of_kind("llm")
    assert len(llms) == 2
    check_agent_run(tree, agent, llms)
    for llm in llms:
        assert llm["model"] == "gpt-4o-mini-2024-07-18"
        assert (llm["prompt_tokens"], llm["cached_tokens"]) == (PROMPT_TOKENS, CACHED_TOKENS)
        assert cost_of(llm) == gpt_4o_mini_cost(PROMPT_TOKENS, COMPLETION_TOKENS, CACHED_TOKENS)
    assert llms[0]["data"]["stop_reason"] == "tool_calls"  # Logfire sends a JSON string
    assert text_of(llms[1]["data"]["completion"]) == TEXT
    tool = tree.one("tool", "get_weather")
    assert tool["data"]["params"] == {"city": "Rome"}
    assert tool["data"]["returns"] == {"city": "Rome", "temperature_c": 21}
