"""Process exit: sessions left running are ended and their events delivered (subprocesses
against a real uvicorn server)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator

import pytest

from agentwatch.server.testing import TestServer, uvicorn_server
from tests.processes import Lines, ended


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


@contextlib.contextmanager
def _run(
    live: TestServer, body: str, prelude: str = ""
) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    """The script running, its stdout read as it comes; killed and reaped on the way out."""
    env = {**os.environ, "KEY": live.api_key, "URL": live.url, "AGENTWATCH_LOG_LEVEL": "INFO"}
    with (
        tempfile.TemporaryFile("w+") as stderr,
        ended(
            subprocess.Popen(
                [sys.executable, "-c", _script(body, prelude)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=stderr,  # a file: a pipe nobody drains stalls a chatty child
                text=True,
            )
        ) as proc,
    ):
        assert proc.stdout is not None
        yield proc, Lines(proc.stdout)


def _finish(proc: subprocess.Popen[str], lines: Lines, timeout: float = 120) -> str:
    """Everything the script printed, once it has exited (within a generous deadline)."""
    proc.wait(timeout=timeout)
    with contextlib.suppress(AssertionError):  # at EOF
        while True:
            lines.next(timeout=10)
    return lines.text


def test_exit_without_end_session_delivers_everything(live: TestServer) -> None:
    with _run(
        live,
        """
        for i in range(1000):
            session.record(ActionEvent(action_type="step", params={"i": i}))
        """,
    ) as (proc, lines):
        out = _finish(proc, lines)
    assert proc.returncode == 0
    stored = live.session(out.split()[0])
    assert stored["session"]["end_state"] == "Indeterminate"
    assert "exited without end_session" in stored["session"]["end_state_reason"]
    assert stored["session"]["end_timestamp"] is not None
    assert sorted(e["params"]["i"] for e in stored["events"]) == list(range(1000))


def _wait_ready(lines: Lines) -> str:
    """The session id, once the script says it is ready (its own line, never a sleep)."""
    session_id = lines.next(timeout=120).strip()
    assert lines.next(timeout=120).strip() == "ready"
    return session_id


def test_sigterm_ends_sessions_then_calls_the_previous_handler(live: TestServer) -> None:
    with _run(
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
        time.sleep(600)
        """,
    ) as (proc, lines):
        session_id = _wait_ready(lines)
        proc.send_signal(signal.SIGTERM)
        out = _finish(proc, lines)
    assert "app handler ran" in out
    assert proc.returncode == 3
    stored = live.session(session_id)
    assert stored["session"]["end_state"] == "Indeterminate"
    assert stored["session"]["end_state_reason"] == "SIGTERM received"
    assert len(stored["events"]) == 1500


def test_sigterm_with_default_disposition_still_terminates(live: TestServer) -> None:
    with _run(
        live,
        """
        import time
        for i in range(200):
            session.record(ActionEvent(action_type="step", params={"i": i}))
        print("ready", flush=True)
        time.sleep(600)
        """,
    ) as (proc, lines):
        session_id = _wait_ready(lines)
        proc.send_signal(signal.SIGTERM)
        _finish(proc, lines)
    assert proc.returncode == -signal.SIGTERM
    stored = live.session(session_id)
    assert stored["session"]["end_state_reason"] == "SIGTERM received"
    assert len(stored["events"]) == 200
