"""Process exit: sessions left running are ended and their events delivered (subprocesses
against a real uvicorn server)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from agentwatch.server.testing import TestServer, uvicorn_server


@pytest.fixture(scope="module")
def live() -> Iterator[TestServer]:
    with uvicorn_server() as srv:
        yield srv


def _script(body: str, prelude: str = "") -> str:
    return (
        "import os, sys\n"
        + textwrap.dedent(prelude)
        + textwrap.dedent(
            """
            from agentwatch import Client, ActionEvent
            client = Client(api_key=os.environ["KEY"], endpoint=os.environ["URL"])
            session = client.start_session(tags=["exit-test"])
            print(session.session_id, flush=True)
            """
        )
        + textwrap.dedent(body)
    )


def _run(live: TestServer, body: str, prelude: str = "") -> subprocess.Popen[str]:
    env = {**os.environ, "KEY": live.api_key, "URL": live.url, "AGENTWATCH_LOG_LEVEL": "INFO"}
    return subprocess.Popen(
        [sys.executable, "-c", _script(body, prelude)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_exit_without_end_session_delivers_everything(live: TestServer) -> None:
    proc = _run(
        live,
        """
        for i in range(1000):
            session.record(ActionEvent(action_type="step", params={"i": i}))
        """,
    )
    started = time.monotonic()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 30
    stored = live.session(out.split()[0])
    assert stored["session"]["end_state"] == "Indeterminate"
    assert "exited without end_session" in stored["session"]["end_state_reason"]
    assert stored["session"]["end_timestamp"] is not None
    assert sorted(e["params"]["i"] for e in stored["events"]) == list(range(1000))


def _wait_ready(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    session_id = proc.stdout.readline().strip()
    assert proc.stdout.readline().strip() == "ready"
    return session_id


def test_sigterm_ends_sessions_then_calls_the_previous_handler(live: TestServer) -> None:
    proc = _run(
        live,
        prelude="""
        import signal, time
        def app_handler(signum, frame):
            print("app handler ran", flush=True)
            sys.exit(3)
        signal.signal(signal.SIGTERM, app_handler)
        """,
        body="""
        for i in range(1500):
            session.record(ActionEvent(action_type="step", params={"i": i}))
        print("ready", flush=True)
        time.sleep(60)
        """,
    )
    session_id = _wait_ready(proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert "app handler ran" in out, err
    assert proc.returncode == 3
    stored = live.session(session_id)
    assert stored["session"]["end_state"] == "Indeterminate"
    assert stored["session"]["end_state_reason"] == "SIGTERM received"
    assert len(stored["events"]) == 1500


def test_sigterm_with_default_disposition_still_terminates(live: TestServer) -> None:
    proc = _run(
        live,
        """
        import time
        for i in range(200):
            session.record(ActionEvent(action_type="step", params={"i": i}))
        print("ready", flush=True)
        time.sleep(60)
        """,
    )
    session_id = _wait_ready(proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGTERM
    stored = live.session(session_id)
    assert stored["session"]["end_state_reason"] == "SIGTERM received"
    assert len(stored["events"]) == 200
