"""The server's use of the cyclic garbage collector: set once for the process, and paused
around the reads that build large views.

Ingest allocates many short-lived containers per request (the decoded body, records,
rows, search words): at CPython's default thresholds (700, 10, 10) one 2,048-event
request runs hundreds of young collections, and the older generations' collections walk
everything the imports and the app made, which lives as long as the process. So before
serving, :func:`settle`: a full collection, then :func:`gc.freeze` moves what survived
(modules, the app, the pools) out of the collector's sight for good, and the young
generation is collected every :data:`YOUNG` allocations instead of 700. Cycles are still
collected; garbage in a cycle waits at most that many allocations longer.
``bench/README.md`` has the figures (v2 into PostgreSQL +10 %, the OTLP receiver's CPU
per span -7 %). Only for a process that is the server: ``agentwatch serve`` calls it;
the demo, the tests and an application that embeds the app keep their own collector.

:func:`paused` is for a read that builds a view of tens of thousands of rows (the span
tree): nothing it builds forms a cycle, so the collector is off meanwhile, whatever the
process's settings.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["MIDDLE", "YOUNG", "paused", "settle"]

YOUNG = 10_000  # allocations (net) between young collections; CPython's default is 700
MIDDLE = 50  # young collections per middle one; CPython's default is 10


def settle() -> None:
    """Collect, freeze what is left, and raise the young thresholds (see the module)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, gc.get_threshold()[2])


_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The cyclic garbage collector paused while a large view is read and built.

    Building 50,000 tree rows allocates 50,000 lists, and each allocation threshold reached
    runs a collection over every object alive: half the time of the view. Nothing built
    there forms a cycle (reference counting frees it all). Counted, so that overlapping
    requests restart the collector only when the last one leaves, and only if it was on.
    """
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
