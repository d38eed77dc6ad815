"""Where ingest's time goes: CPU per event of each stage, the server's code called in process.

Not part of ``make bench`` (no reference to compare with): the tool behind the stage
figures in ``bench/README.md``, for before/after work on ingest. Two paths:

* ``--path v2``: ``create_events`` bodies of ``--size`` events (the bench's tool-call
  event, distinct ids), each read as the route reads it: ``jsonbody.loads``,
  ``check_items``, ``wire.event_record`` per event, ``ingest.prepare_events``, then
  ``insert_prepared`` and the commit in one write.
* ``--path otlp``: 512-span ``ExportTraceServiceRequest`` protobuf bodies encoded by the
  OpenTelemetry exporter from ``bench_otlp.py``'s agent runs: ``decode_traces``,
  ``map_span``, ``span_writes``, ``traces.prepare_spans``, then ``store_spans`` and the
  commit.

``--db sqlite`` (a fresh file, the default) or a PostgreSQL admin URL (a fresh database
of that cluster). ``--batches`` bodies (default 15); ``--gc`` sets the collector as
``agentwatch serve`` does first. Prints CPU µs per event for each stage, the total and
the wall rate. Run from the repository: ``PYTHONPATH=src python3 bench/bench_ingest_stages.py``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentwatch.server import collector, jsonbody, wire
from agentwatch.server.otlp import decode
from agentwatch.server.otlp.mapping import map_span
from agentwatch.server.otlp.sessions import span_writes
from agentwatch.server.pricing import PriceTable
from agentwatch.server.storage import ingest, traces
from agentwatch.server.storage.records import SessionFields
from agentwatch.server.storage.storage import Storage
from common import arg, flag

OTLP_BATCH = 512  # BatchSpanProcessor's default export batch


class Stages:
    """CPU time per named stage (in the order first seen), and the wall time of them all."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.wall = 0.0
        self._cpu_at = self._wall_at = 0.0

    def start(self) -> None:
        self._cpu_at, self._wall_at = time.process_time(), time.perf_counter()

    def mark(self, name: str) -> None:
        """The time since the last mark (or start) goes to ``name``."""
        cpu, wall = time.process_time(), time.perf_counter()
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu - self._cpu_at
        self.wall += wall - self._wall_at
        self._cpu_at, self._wall_at = cpu, wall


def open_storage(db: str, home: Path) -> Storage:
    if db == "sqlite":
        return Storage.open(f"sqlite:///{home / 'stages.db'}")
    import agentwatch_server  # the bench's fresh-database helper (bench/ is on sys.path)

    return Storage.open(agentwatch_server.fresh_pg_database(db))


def v2(storage: Storage, batches: int, size: int) -> tuple[Stages, int]:
    import bench_agentwatch

    project = storage.create_project("stages").id
    session_id = str(uuid.uuid4())
    storage.create_or_attach_session(project, SessionFields(session_id=session_id))
    prices = PriceTable.load()
    bodies = bench_agentwatch.ingest_bodies(batches, size)
    stages = Stages()
    for body in bodies:
        stages.start()
        parsed = jsonbody.loads(body)
        stages.mark("json.loads")
        checked = jsonbody.check_items(parsed)
        stages.mark("check_items")
        now = dt.datetime.now(dt.timezone.utc)
        records = [
            wire.event_record(e, f"events[{i}]", session_id, prices, now)
            for i, e in enumerate(checked["events"])
        ]
        stages.mark("event_record")
        batch = ingest.prepare_events(storage.engine.dialect, project, session_id, records, now)
        stages.mark("prepare_events")
        with storage.write() as conn:
            ingest.insert_prepared(conn, batch)
            stages.mark("insert_prepared")
        stages.mark("commit")
    return stages, batches * size


def otlp(storage: Storage, batches: int) -> tuple[Stages, int]:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    import bench_otlp

    project = storage.create_project("stages").id
    prices = PriceTable.load()
    spans = bench_otlp.premade_spans(OTLP_BATCH * batches)
    bodies = [
        encode_spans(spans[i : i + OTLP_BATCH]).SerializeToString()
        for i in range(0, len(spans), OTLP_BATCH)
    ]
    stages = Stages()
    for body in bodies:
        stages.start()
        now = dt.datetime.now(dt.timezone.utc)
        decoded = decode.decode_traces(body, "protobuf", now)
        stages.mark("decode")
        mapped = [map_span(span, prices) for span in decoded.items]
        stages.mark("map_span")
        writes = span_writes(project, mapped)
        stages.mark("span_writes")
        batch = traces.prepare_spans(storage.engine.dialect, project, writes, now)
        stages.mark("prepare_spans")
        with storage.write() as conn:
            traces.store_spans(conn, batch, now)
            stages.mark("store_spans")
        stages.mark("commit")
    return stages, len(spans)


def main() -> None:
    path, db = arg("path", "v2"), arg("db", "sqlite")
    batches, size = int(arg("batches", "15")), int(arg("size", "2048"))
    if flag("gc"):
        collector.settle()
    runs: dict[str, Callable[[Storage], tuple[Stages, int]]] = {
        "v2": lambda storage: v2(storage, batches, size),
        "otlp": lambda storage: otlp(storage, batches),
    }
    with tempfile.TemporaryDirectory(prefix="agentwatch-stages-") as home:
        storage = open_storage(db, Path(home))
        try:
            stages, n = runs[path](storage)
        finally:
            storage.close()
    report: dict[str, Any] = {name: cpu / n * 1e6 for name, cpu in stages.cpu.items()}
    for name, us in report.items():
        print(f"{name:16s} {us:7.2f} µs CPU per event")
    total = sum(report.values())
    print(f"{'total':16s} {total:7.2f} µs CPU per event; {n / stages.wall:,.0f} events/s wall")


if __name__ == "__main__":
    main()
