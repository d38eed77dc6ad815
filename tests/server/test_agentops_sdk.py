"""Drop-in check: the real agentops 0.3.26 SDK from PyPI, pointed at an agentwatch server.

agentops pins old ``packaging``/``psutil``/``termcolor``, so it lives in a virtual
environment of its own, built once under ``~/.cache/agentwatch-tests`` (or given by
``AGENTWATCH_TEST_AGENTOPS_PYTHON``). If it cannot be installed the test fails with pip's
reason rather than skipping.
"""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

import pytest

from agentwatch.server.testing import uvicorn_server

AGENTOPS = "agentops==0.3.26"
SCRIPT = Path(__file__).with_name("agentops_sdk") / "run_session.py"


@pytest.fixture(scope="session")
def agentops_python() -> str:
    given = os.environ.get("AGENTWATCH_TEST_AGENTOPS_PYTHON")
    if given:
        return given
    home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "agentwatch-tests"
    env_dir = home / AGENTOPS.replace("==", "-")
    python = env_dir / "bin" / "python"
    check = [str(python), "-c", "import agentops"]
    if python.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return str(python)
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", AGENTOPS],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if install.returncode != 0:
        pytest.fail(f"cannot install {AGENTOPS}: {install.stderr[-2000:]}", pytrace=False)
    return str(python)


@pytest.mark.slow
def test_agentops_0_3_26_session_lands_correctly(agentops_python: str) -> None:
    with uvicorn_server() as server:
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("AGENTOPS_", "AGENTWATCH_"))
            },
            "AGENTOPS_API_KEY": server.api_key,
            "AGENTOPS_API_ENDPOINT": server.url,
        }
        run = subprocess.run(
            [agentops_python, str(SCRIPT)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        result = json.loads(run.stdout.strip().splitlines()[-1])
        detail = server.session(result["session_id"])
    session = detail["session"]
    # gpt-4o-mini-2024-07-18 priced as gpt-4o-mini: 1000 x $0.15/1M + 500 x $0.60/1M.
    assert result["token_cost"] == "0.00045"
    assert session["end_state"] == "Success"
    assert session["end_state_reason"] == "all tasks done"
    assert session["running"] is False
    assert sorted(session["tags"]) == ["agentops-0.3.26", "e2e"]  # agentops keeps tags in a set
    assert session["counts"] == {
        "llms": 1,
        "tools": 1,
        "actions": 1,
        "errors": 1,
        "apis": 0,
        "other": 0,
    }
    assert session["host_env"]["OS"]["OS"]  # the host environment the SDK collected
    by_type = {e["event_type"]: e for e in detail["events"]}
    assert by_type["actions"]["data"]["action_type"] == "plan_trip"
    assert by_type["tools"]["data"]["tool_name"] == "web_search"
    assert by_type["llms"]["data"]["completion"] == {"role": "assistant", "content": "Hello!"}
    assert by_type["errors"]["data"]["error_type"] == "ValueError"
    assert detail["agents"][0]["name"] == "researcher"
