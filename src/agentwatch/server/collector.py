"""The server process's garbage collector, set once before it serves.

Ingest allocates many short-lived containers per request (the decoded body, records,
rows, search words): at CPython's default thresholds (700, 10, 10) one 2,048-event
request runs hundreds of young collections, and the older generations' collections walk
everything the imports and the app made, which lives as long as the process. So before
serving: a full collection, then :func:`gc.freeze` moves what survived (modules, the
app, the pools) out of the collector's sight for good, and the young generation is
collected every :data:`YOUNG` allocations instead of 700. Cycles are still collected;
garbage in a cycle waits at most that many allocations longer. ``bench/README.md`` has
the figures (v2 into PostgreSQL +10 %, the OTLP receiver's CPU per span -7 %).

Only for a process that is the server: ``agentwatch serve`` calls :func:`settle`; the
demo, the tests and an application that embeds the app keep their own collector.
"""

from __future__ import annotations

import gc

__all__ = ["MIDDLE", "YOUNG", "settle"]

YOUNG = 10_000  # allocations (net) between young collections; CPython's default is 700
MIDDLE = 50  # young collections per middle one; CPython's default is 10


def settle() -> None:
    """Collect, freeze what is left, and raise the young thresholds (see the module)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, gc.get_threshold()[2])
