"""One shutdown budget, however many export workers a client runs.

A client has up to three workers: the agentwatch delivery, the OTLP tee
(``otlp_endpoint``) and the application's captured spans. Here the agentwatch server and
the collector are black holes (real sockets that accept and never answer), so every
worker is stuck in a request when shutdown comes: ``end_session()`` must return within
its budget, and ``shutdown()`` (and so process exit) within its one ``shutdown_timeout``
plus a small fixed margin, with every event and span it could not deliver counted under
its reason, in one warning.

Elapsed times are bounds with a generous margin (the budget + 1.5 s), not speed targets.

Marked ``otel``: ``make otel-versions`` runs these on OpenTelemetry 1.27 and the latest.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator

import pytest

from agentwatch import ActionEvent, Client
from tests.otel_globals import set_app_provider
from tests.sdk.faults import BlackHole

pytestmark = pytest.mark.otel

BUDGET = 1.0
MARGIN = 1.5  # generous: a loaded machine; without the fix each extra worker added 1 s
EVENTS = 300
SPANS = 40


@pytest.fixture
def holes() -> Iterator[tuple[BlackHole, BlackHole]]:
    """A black-holed agentwatch server and a black-holed OTLP collector."""
    with BlackHole() as server, BlackHole() as collector:
        yield server, collector


def _dropped_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and "dropped" in r.getMessage()
    ]


@pytest.mark.parametrize(
    ("tee", "app_spans"),
    [(False, False), (True, False), (False, True), (True, True)],
    ids=["v2", "v2+tee", "v2+app-spans", "all-three"],
)
def test_shutdown_takes_one_budget_and_counts_what_every_worker_held(
    holes: tuple[BlackHole, BlackHole],
    tee: bool,
    app_spans: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, collector = holes
    tracer = None
    if app_spans:
        set_app_provider()  # the application's tracing (conftest puts the global back)
        from opentelemetry import trace

        tracer = trace.get_tracer("app")
    client = Client(
        api_key=str(uuid.uuid4()),
        endpoint=server.url,
        otlp_endpoint=collector.url if tee else None,
        request_timeout=60,
        flush_interval=0.05,
        handle_signals=False,
    )
    try:
        session = client.start_session()
        for i in range(EVENTS):
            session.record(ActionEvent(action_type="a", params={"i": i}))
        if tracer is not None:
            for i in range(SPANS):
                with tracer.start_as_current_span(f"app-{i}"):
                    pass
        _wait_until_requests_are_held(server, collector if tee else None)
        started = time.monotonic()
        assert session.end_session("Success", timeout=BUDGET) is None  # no answer in time
        ended = time.monotonic() - started
        assert client.dropped == {}  # nothing given up yet: delivery goes on
        started = time.monotonic()
        client.shutdown(timeout=BUDGET)
        took = time.monotonic() - started
    finally:
        client.shutdown(timeout=0)
    assert ended < BUDGET + MARGIN, f"end_session took {ended:.2f} s for a {BUDGET} s budget"
    assert took < BUDGET + MARGIN, f"shutdown took {took:.2f} s for a {BUDGET} s budget"
    expected = {"shutdown": EVENTS + (SPANS if app_spans else 0)}
    if tee:
        expected["otlp_shutdown"] = EVENTS
    assert client.dropped == expected
    assert client.pending == 0
    started = time.monotonic()
    assert client.flush(timeout=10)  # after shutdown: nothing left to wait for
    assert time.monotonic() - started < MARGIN
    [warning] = _dropped_warnings(caplog)
    assert f"{EVENTS} event(s) (shutdown)" in warning
    if tee:
        assert f"{EVENTS} event(s) (otlp_shutdown)" in warning
    if app_spans:
        assert f"{SPANS} captured span(s) (shutdown)" in warning


def _wait_until_requests_are_held(server: BlackHole, collector: BlackHole | None) -> None:
    """Until the first request of each hole is in (so each worker really is blocked)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.received and (collector is None or collector.received):
            return
        time.sleep(0.02)
    raise AssertionError("the black holes never received a request")


def test_exit_takes_one_budget_with_all_three_workers_stuck(
    holes: tuple[BlackHole, BlackHole],
) -> None:
    server, collector = holes
    script = textwrap.dedent(
        """
        import os, sys, time
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        trace.set_tracer_provider(TracerProvider())
        from agentwatch import Client, ActionEvent
        client = Client(api_key=os.environ["KEY"], endpoint=os.environ["URL"],
                        otlp_endpoint=os.environ["OTLP"], request_timeout=60,
                        shutdown_timeout=float(os.environ["BUDGET"]), flush_interval=0.05)
        session = client.start_session()
        for i in range(100):
            session.record(ActionEvent(action_type="a"))
        with trace.get_tracer("app").start_as_current_span("app-span"):
            pass
        time.sleep(0.5)  # every worker is in its unanswered request by now
        print("exiting", flush=True)
        """
    )
    env = {
        **os.environ,
        "URL": server.url,
        "OTLP": collector.url,
        "BUDGET": str(BUDGET),
        "KEY": str(uuid.uuid4()),
        "AGENTWATCH_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        said = proc.stdout.readline().strip()
        started = time.monotonic()
        _, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert (said, proc.returncode) == ("exiting", 0), stderr
    assert took < BUDGET + MARGIN, f"exit took {took:.2f} s for a {BUDGET} s budget: {stderr}"
    dropped = [line for line in stderr.splitlines() if "dropped" in line]
    assert len(dropped) == 1, stderr
    for part in ("100 event(s) (shutdown)", "100 event(s) (otlp_shutdown)", "1 captured span(s)"):
        assert part in dropped[0], stderr
