"""``agentwatch demo`` as a user runs it: a real subprocess, serving until interrupted.

Started as ``&`` and nohup start it, with SIGINT ignored, then stopped by SIGINT or SIGTERM:
it must stop either way and leave nothing behind, neither its temporary database nor a
JWT secret in ``$AGENTWATCH_HOME``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from tests.processes import Lines, ended


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_demo_records_a_session_keeps_serving_and_cleans_up(
    tmp_path: Path, stop: signal.Signals
) -> None:
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    tmp.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AGENTWATCH_")},
        "PYTHONUNBUFFERED": "1",
        "AGENTWATCH_HOME": str(home),
        "TMPDIR": str(tmp),
    }
    errors = tmp_path / "stderr.txt"
    # stderr to a file: a pipe nobody drains fills up and stalls the demo.
    with (
        errors.open("w") as stderr,
        ended(
            subprocess.Popen(
                [sys.executable, "-m", "agentwatch.cli", "demo", "--port", "0"],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
                preexec_fn=_ignore_sigint,
            )
        ) as proc,
    ):
        assert proc.stdout is not None
        lines = Lines(proc.stdout)
        # Readiness is the demo's own line, whatever the machine's load; never a sleep.
        output = lines.until("Serving until Ctrl-C", timeout=180)
        assert "Session Stats - " in output, output
        assert "LLMs: 2 | Tools: 3 | Actions: 3 | Errors: 1" in output
        match = re.search(r"-H 'X-Agentops-Api-Key: ([0-9a-f-]+)' (http://\S+)", output)
        assert match, output
        key, url = match.groups()
        dashboard = re.search(r"^Dashboard:\s+(http://\S+)$", output, re.M)
        assert dashboard, output
        page = httpx.get(dashboard.group(1), timeout=10)
        assert page.status_code == 200
        assert "itinerary delivered" in page.text

        # Still serving: the session is there with everything the simulated agent did.
        answer = httpx.get(url, headers={"X-Agentops-Api-Key": key}, timeout=10)
        assert answer.status_code == 200
        detail = answer.json()
        assert detail["session"]["end_state"] == "Success"
        assert detail["session"]["tags"] == ["demo", "travel-agent"]
        assert Counter(e["event_type"] for e in detail["events"]) == {
            "llms": 2,
            "tools": 3,
            "actions": 3,
            "errors": 1,
            "agents": 2,  # the span of each tracked agent, its actions' parent
        }
        [error] = [e for e in detail["events"] if e["event_type"] == "errors"]
        [failed] = [e for e in detail["events"] if e["id"] == error["trigger_event_id"]]
        assert failed["name"] == "flight_search"
        assert error["error_type"] == "TimeoutError"
        assert {a["name"] for a in detail["agents"]} == {"researcher", "planner"}
        # A tree: the researcher's action under its agent span, the tool and LLM call under it.
        by_id = {e["id"]: e for e in detail["events"]}
        [research] = [e for e in detail["events"] if e.get("action_type") == "research"]
        assert by_id[research["parent_id"]]["event_type"] == "agents"
        under = {
            by_id[e["id"]]["event_type"]
            for e in detail["events"]
            if e.get("parent_id") == research["id"]
        }
        assert under == {"tools", "llms"}
        assert all(e["cost"] > 0 for e in detail["events"] if e["event_type"] == "llms")
        assert [p.name[:16] for p in tmp.iterdir()] == ["agentwatch-demo-"]

        proc.send_signal(stop)
        assert proc.wait(timeout=60) == 0, errors.read_text()
    assert list(tmp.iterdir()) == []  # the temporary database and home are gone
    assert not (home / "jwt_secret").exists()
    assert not home.exists()
