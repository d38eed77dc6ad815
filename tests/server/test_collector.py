"""``agentwatch serve`` sets its process's garbage collector before it serves (see
``agentwatch.server.collector``); nothing else does. The serve check runs in a fresh
process: the collector is process-wide, and the test run's own must stay as it is. Large
reads pause the collector, counted across overlapping requests."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

from agentwatch.server import collector
from agentwatch.server.collector import paused

_SERVE_WITHOUT_SERVING = """
import gc, json, socket
import uvicorn
from agentwatch import cli
before = gc.get_threshold()
seen = {}
def run(self, sockets=None):
    seen["threshold"] = gc.get_threshold()
    seen["frozen"] = gc.get_freeze_count()
uvicorn.Server.run = run
listener = socket.socket()
try:
    cli._run_uvicorn(object(), listener)
finally:
    listener.close()
print(json.dumps({"before": before, **seen}))
"""


def test_serve_freezes_what_startup_made_and_raises_the_young_threshold() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _SERVE_WITHOUT_SERVING],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    state = json.loads(out.stdout.strip().splitlines()[-1])
    assert state["before"][:2] == [700, 10]  # CPython's defaults, as the process started
    assert state["threshold"] == [collector.YOUNG, collector.MIDDLE, state["before"][2]]
    assert state["frozen"] > 10_000  # the imports' objects, out of the collector's sight


def test_importing_the_server_leaves_the_collector_alone() -> None:
    # The test process imported the whole server already: the defaults still hold.
    assert gc.get_threshold()[:2] != (collector.YOUNG, collector.MIDDLE)
    assert gc.get_freeze_count() == 0


def test_the_collector_pause_restarts_it_only_when_the_last_reader_leaves() -> None:
    assert gc.isenabled()
    first, second = paused(), paused()
    first.__enter__()
    second.__enter__()
    assert not gc.isenabled()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
    gc.disable()
    try:
        with paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()
