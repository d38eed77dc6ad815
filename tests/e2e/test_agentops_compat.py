"""Drop-in test: the real agentops 0.3.26 SDK, unchanged, sending to an agentwatch server.

agentops runs in a virtual environment of its own (see ``agentops_venv.py``), driven by
``agentops_script.py`` with ``AGENTOPS_API_ENDPOINT`` pointing at a uvicorn-served
agentwatch and ``AGENTOPS_API_KEY`` set to an agentwatch key. The assertions read back
what the server stored, through the same view the JSON read API answers.

What 0.3.26 cannot send is not asserted: its OTel exporter serialises an error's
``trigger_event`` as ``""`` and never sends ``trigger_event_id`` (research/agentops.md
§2.3), so the error→trigger link can only be absent, never wrong.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from agentwatch.server.testing import uvicorn_server

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "agentops_script.py"
# OpenAI's list price for gpt-4o-mini: $0.15 per 1M input tokens, $0.60 per 1M output.
EXPECTED_LLM_COST = Decimal(1200) * Decimal("0.15") / 10**6 + Decimal(300) * Decimal("0.60") / 10**6

pytestmark = pytest.mark.slow


def _load_venv_helper() -> ModuleType:
    # Loaded by path: tests/ may or may not be a package, and the helper is also a script.
    spec = importlib.util.spec_from_file_location("agentops_venv", HERE / "agentops_venv.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def agentops_python() -> Path:
    """The python of the agentops 0.3.26 venv (built on first use, then reused)."""
    path: Path = _load_venv_helper().ensure_agentops_venv()
    return path


def run_agentops_session(python: Path, endpoint: str, api_key: str) -> dict[str, Any]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AGENTOPS_", "AGENTWATCH_", "OTEL_")) and k != "PYTHONPATH"
    }
    env.update({"AGENTOPS_API_ENDPOINT": endpoint, "AGENTOPS_API_KEY": api_key})
    proc = subprocess.run(
        [str(python), str(SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"agentops script failed:\n{proc.stdout}\n{proc.stderr}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result line from the agentops script:\n{proc.stdout}\n{proc.stderr}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@pytest.mark.timeout(900)  # a cold venv build downloads agentops and its pins from PyPI
def test_agentops_0326_session_lands_in_agentwatch(agentops_python: Path) -> None:
    with uvicorn_server() as server:
        out = run_agentops_session(agentops_python, server.url, server.api_key)
        detail = server.session(out["session_id"])

    assert out["agentops_version"] == "0.3.26"
    assert out["blocked_hosts"] == [], "the SDK tried to reach the internet"
    check_session(detail["session"], out)
    check_agents(detail["agents"], out)
    check_events(detail["events"], out)


def check_session(session: dict[str, Any], out: dict[str, Any]) -> None:
    assert session["end_state"] == "Success"
    assert session["end_state_reason"] == "trip planned"
    assert session["end_timestamp"] is not None
    assert set(session["tags"]) == {"agentops-compat", "compat-extra"}
    assert session["event_count"] == 5
    assert {k: session["counts"][k] for k in ("llms", "tools", "actions", "errors")} == {
        "llms": 1,
        "tools": 1,
        "actions": 2,
        "errors": 1,
    }
    assert session["tokens"]["prompt"] == 1200
    assert session["tokens"]["completion"] == 300
    assert Decimal(str(session["cost"])) == EXPECTED_LLM_COST
    # agentops reads token_cost from the update_session answer and keeps it as a Decimal.
    assert Decimal(out["token_cost"]) == EXPECTED_LLM_COST
    assert "SDK" in (session["host_env"] or {}), "agentops' host_env was not stored"


def check_agents(agents: list[dict[str, Any]], out: dict[str, Any]) -> None:
    assert [(a["id"], a["name"]) for a in agents] == [(out["agent_id"], "researcher")]


def check_events(events: list[dict[str, Any]], out: dict[str, Any]) -> None:
    assert len(events) == 5
    by_id = {e["id"]: e for e in events}
    assert len(by_id) == 5, "an event was stored twice"
    actions = {e["data"].get("action_type"): e for e in events if e["event_type"] == "actions"}
    assert set(actions) == {"plan_trip", "book_hotel"}

    plan = actions["plan_trip"]["data"]
    assert plan["params"] == {"city": "Rome", "days": 2}
    assert plan["returns"] == {"city": "Rome", "days": 2, "stops": ["Colosseum", "Vatican"]}

    (tool,) = [e for e in events if e["event_type"] == "tools"]
    assert tool["data"]["name"] == "web_search"
    assert tool["data"]["params"] == {"query": "flights to Rome"}
    assert tool["data"]["returns"] == ["result for flights to Rome", "another result"]

    check_llm(by_id[out["llm_id"]], out)
    assert by_id[out["trigger_id"]]["event_type"] == "actions"
    assert by_id[out["trigger_id"]]["agent_id"] == out["agent_id"]
    check_error(by_id[out["error_id"]], out)


def check_llm(llm: dict[str, Any], out: dict[str, Any]) -> None:
    assert llm["event_type"] == "llms"
    assert llm["model"] == "gpt-4o-mini"
    assert (llm["prompt_tokens"], llm["completion_tokens"]) == (1200, 300)
    assert Decimal(str(llm["cost"])) == EXPECTED_LLM_COST  # priced by the server
    assert llm["agent_id"] == out["agent_id"]
    assert llm["data"]["prompt"] == [
        {"role": "system", "content": "You plan short trips."},
        {"role": "user", "content": "Two days in Rome, please."},
    ]
    assert llm["data"]["completion"] == {
        "role": "assistant",
        "content": "Day 1: Colosseum. Day 2: Vatican.",
    }


def check_error(error: dict[str, Any], out: dict[str, Any]) -> None:
    assert error["event_type"] == "errors"
    assert error["data"]["error_type"] == "ValueError"
    assert error["data"]["code"] == "E_NO_ROOMS"
    assert error["data"]["details"] == "no rooms left"
    assert "ValueError: no rooms left" in error["data"]["logs"]
    # 0.3.26 drops the link on the wire (module docstring); the server must not invent one.
    assert error["trigger_event_id"] in (None, out["trigger_id"])
