"""``agentwatch serve`` sets its process's garbage collector before it serves (see
``agentwatch.server.collector``); nothing else does. Each check runs in a fresh process:
the collector is process-wide, and the test run's own must stay as it is."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

from agentwatch.server import collector

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
