"""The export queue: bounded, counted, ordered, flushable, fork-safe."""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan

from agentwatch.telemetry.drops import DropCounter
from agentwatch.telemetry.ops import CreateSession, UpdateSession
from agentwatch.telemetry.processor import ExportItem, ExportProcessor


class _Collector:
    """An exporter that keeps what it is given; can be held to simulate a slow server."""

    def __init__(self) -> None:
        self.items: list[ExportItem] = []
        self.batches = 0
        self.release = threading.Event()
        self.release.set()
        self.closed = False

    def export(self, batch: Sequence[ExportItem]) -> None:
        self.release.wait()
        self.batches += 1
        self.items.extend(batch)

    def shutdown(self) -> None:
        self.closed = True
        self.release.set()


def _span(n: int) -> ReadableSpan:
    return ReadableSpan(name=f"s{n}", attributes={"n": n})


def _processor(collector: _Collector, **kw: int) -> ExportProcessor:
    return ExportProcessor(
        collector,
        max_queue_size=kw.get("max_queue_size", 1000),
        max_batch_size=kw.get("max_batch_size", 10),
        interval=0.01,
        drops=DropCounter(),
    )


def test_order_is_kept_across_spans_and_operations() -> None:
    collector = _Collector()
    processor = _processor(collector)
    create = CreateSession("s", {})
    processor.put_op(create)
    for n in range(25):
        processor.put_event(_span(n))
    update = UpdateSession("s", {}, final=True)
    processor.put_op(update)
    assert processor.force_flush(5000)
    assert collector.items[0] is create
    assert [i.name for i in collector.items[1:-1]] == [f"s{n}" for n in range(25)]  # type: ignore[union-attr]
    assert collector.items[-1] is update
    assert collector.batches >= 3  # batches of at most 10
    processor.shutdown()


def test_a_full_queue_drops_events_but_never_operations_and_counts() -> None:
    collector = _Collector()
    collector.release.clear()
    processor = _processor(collector, max_queue_size=5, max_batch_size=100)
    processor.put_event(_span(0))  # starts the worker, which blocks in export
    assert not processor.force_flush(100)
    accepted = sum(processor.put_event(_span(n)) for n in range(1, 20))
    processor.put_op(UpdateSession("s", {}))
    assert processor.drops.snapshot() == {"queue_full": 19 - accepted}
    collector.release.set()
    assert processor.force_flush(5000)
    assert len(collector.items) == 1 + accepted + 1
    processor.shutdown()


def test_shutdown_counts_what_could_not_be_delivered() -> None:
    collector = _Collector()
    collector.release.clear()
    processor = _processor(collector, max_batch_size=2)
    for n in range(6):
        processor.put_event(_span(n))
    processor.shutdown(200)
    assert collector.closed
    delivered = len(collector.items)
    assert processor.drops.snapshot().get("shutdown", 0) + delivered == 6
    assert not processor.put_event(_span(99))
    assert processor.drops.snapshot()["after_shutdown"] == 1


def test_a_forked_child_exports_its_own_events_not_the_parents() -> None:
    collector = _Collector()
    collector.release.clear()
    processor = _processor(collector)
    processor.put_event(_span(1))  # held in the parent's queue by the blocked exporter
    read, write = os.pipe()
    with warnings.catch_warnings():
        # Python >= 3.12 warns about fork() in a threaded process; that is the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # child: new queue, new worker
        collector.items.clear()
        collector.release.set()
        processor.put_event(_span(2))
        ok = processor.force_flush(5000)
        names = ",".join(i.name for i in collector.items)  # type: ignore[union-attr]
        os.write(write, f"{ok}:{names}".encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 100).decode() == "True:s2"
    assert status == 0
    collector.release.set()
    assert processor.force_flush(5000)
    processor.shutdown()
