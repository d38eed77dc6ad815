"""The export queue: bounded, counted, ordered, flushable, fork-safe."""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Sequence

import pytest

from agentwatch import encoding
from agentwatch.telemetry.drops import BatchAccount, DropCounter
from agentwatch.telemetry.items import CreateSession, ExportItem, QueuedEvent, UpdateSession
from agentwatch.telemetry.processor import ExportProcessor


class _Collector:
    """An exporter that keeps what it is given; can be held to simulate a slow server."""

    def __init__(self) -> None:
        self.items: list[ExportItem] = []
        self.batches = 0
        self.release = threading.Event()
        self.release.set()
        self.closed = False

    def export(self, batch: Sequence[ExportItem], account: BatchAccount) -> None:
        self.release.wait()
        self.batches += 1
        self.items.extend(batch)
        account.delivered(sum(isinstance(i, QueuedEvent) for i in batch))

    def overlaps(self, batch: Sequence[ExportItem]) -> bool:
        return False

    def problem(self) -> str | None:
        return None

    def shutdown(self) -> None:
        self.closed = True
        self.release.set()


def _span(n: int) -> QueuedEvent:
    return QueuedEvent("s", f"s{n}".encode())


def _names(items: Sequence[ExportItem]) -> list[str]:
    return [i.data.decode() for i in items if isinstance(i, QueuedEvent)]


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
    assert _names(collector.items[1:-1]) == [f"s{n}" for n in range(25)]
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
        names = ",".join(_names(collector.items))
        os.write(write, f"{ok}:{names}".encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 100).decode() == "True:s2"
    assert status == 0
    collector.release.set()
    assert processor.force_flush(5000)
    processor.shutdown()


def _processor_with_interval(collector: _Collector, interval: float, batch: int) -> ExportProcessor:
    return ExportProcessor(
        collector,
        max_queue_size=10_000,
        max_batch_size=batch,
        interval=interval,
        drops=DropCounter(),
    )


def test_under_load_the_worker_sends_full_batches_not_what_it_finds() -> None:
    # Sending whatever is queued whenever the worker wakes makes many small requests
    # under load (each costing the recording threads GIL time): only full batches go
    # before the interval, the rest when it passes.
    collector = _Collector()
    processor = _processor_with_interval(collector, interval=30.0, batch=50)
    sizes: list[int] = []
    original = collector.export

    def export(batch: Sequence[ExportItem], account: BatchAccount) -> None:
        sizes.append(len(batch))
        original(batch, account)

    collector.export = export  # type: ignore[method-assign]
    for n in range(1030):
        processor.put_event(_span(n))
    deadline = time.monotonic() + 5
    while sum(sizes) < 1000 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # the 30 left must stay queued: no flush, interval far away
    assert sizes == [50] * 20
    assert processor.force_flush(5000)  # a flush sends the partial batch at once
    assert sizes == [50] * 20 + [30]
    assert _names(collector.items) == [f"s{n}" for n in range(1030)]
    processor.shutdown()


def test_a_partial_batch_goes_when_the_interval_passes() -> None:
    collector = _Collector()
    processor = _processor_with_interval(collector, interval=0.2, batch=100)
    start = time.monotonic()
    for n in range(3):
        processor.put_event(_span(n))
    deadline = start + 5
    while len(collector.items) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(collector.items) == 3
    assert time.monotonic() - start < 2.0
    processor.shutdown()


def test_an_urgent_operation_is_sent_without_waiting_for_the_interval() -> None:
    collector = _Collector()
    processor = _processor_with_interval(collector, interval=30.0, batch=100)
    processor.put_event(_span(0))
    time.sleep(0.05)  # the worker is up and waiting for a full batch or the interval
    update = UpdateSession("s", {})
    processor.put_op(update, urgent=True)
    deadline = time.monotonic() + 5
    while len(collector.items) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert collector.items[-1] is update
    assert _names(collector.items[:1]) == ["s0"]
    processor.shutdown()


class _SlowSender(_Collector):
    """Each batch waits on the network for 0.5 ms, as a real request does (GIL released)."""

    def export(self, batch: Sequence[ExportItem], account: BatchAccount) -> None:
        time.sleep(0.0005)
        super().export(batch, account)


def test_a_tight_recording_loop_does_not_starve_the_export_thread() -> None:
    # A loop that never releases the GIL leaves the export thread only the interpreter's
    # forced switches (every 5 ms), one after each batch's wait here: ~50,000 events/s,
    # a quarter of what this loop records. Once the queue is half full the processor
    # yields the GIL now and then, so it never fills and nothing is dropped.
    collector = _SlowSender()
    processor = ExportProcessor(
        collector, max_queue_size=20_000, max_batch_size=512, interval=1.0, drops=DropCounter()
    )
    span = _span(0)
    payload = {"query": "flights to Rome", "results": list(range(40)), "ok": True}
    longest = 0
    for _ in range(100_000):
        encoding.dumps(payload)  # what recording an event costs, roughly
        processor.put_event(span)
        longest = max(longest, len(processor._queue))
    assert processor.drops.snapshot() == {}
    assert 10_000 <= longest < 20_000  # it did fill up to the half
    assert processor.force_flush(10_000)
    assert len(collector.items) == 100_000
    processor.shutdown()


class _Gate(_Collector):
    """Events-only batches overlap; each export waits at its own gate, in order of arrival,
    and the exporter notes how many exports were in progress at once."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.gates: list[threading.Event] = []
        self.started: list[list[ExportItem]] = []
        self.on: list[str] = []  # the thread of each export
        self.active = 0
        self.most_active = 0

    def overlaps(self, batch: Sequence[ExportItem]) -> bool:
        return all(isinstance(i, QueuedEvent) for i in batch)

    def export(self, batch: Sequence[ExportItem], account: BatchAccount) -> None:
        gate = threading.Event()
        with self.lock:
            self.gates.append(gate)
            self.started.append(list(batch))
            self.on.append(threading.current_thread().name)
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        gate.wait(10)
        with self.lock:
            self.active -= 1
            self.items.extend(batch)
        account.delivered(sum(isinstance(i, QueuedEvent) for i in batch))

    def wait_started(self, n: int) -> None:
        deadline = time.monotonic() + 5
        while len(self.started) < n and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(self.started) >= n, f"{len(self.started)} exports started, expected {n}"

    def open_on(self, thread: str) -> None:
        """Let the export in progress on ``thread`` finish."""
        with self.lock:
            self.gates[self.on.index(thread)].set()

    def open_all(self) -> None:
        with self.lock:
            gates = list(self.gates)
        for gate in gates:
            gate.set()

    def shutdown(self) -> None:
        self.closed = True
        self.open_all()


def _both_lanes_held(events: int) -> tuple[_Gate, ExportProcessor]:
    """A processor of 10-event batches given ``events`` events, once each lane holds one."""
    gate = _Gate()
    processor = _processor(gate, max_batch_size=10)
    for n in range(events):
        processor.put_event(_span(n))
    gate.wait_started(2)
    return gate, processor


def test_two_batches_that_overlap_are_in_flight_together_and_no_third() -> None:
    gate, processor = _both_lanes_held(30)
    time.sleep(0.05)  # a third would have started by now
    assert len(gate.started) == 2
    assert gate.active == 2
    assert processor.pending() == 30  # 20 in flight on two threads, 10 queued
    gate.open_all()
    gate.wait_started(3)
    gate.open_all()
    assert processor.force_flush(5000)
    assert sorted(_names(gate.items)) == sorted(f"s{n}" for n in range(30))
    assert gate.most_active == 2
    assert set(gate.on) == {"agentwatch-export-lane-1", "agentwatch-export-lane-2"}
    assert processor.pending() == 0
    processor.shutdown()


def test_a_lane_that_finishes_takes_the_next_batch_while_the_other_is_busy() -> None:
    # Not two at a time then two more: each lane is fed as soon as it is free, so the
    # server always has the next request while it answers one.
    gate, processor = _both_lanes_held(40)
    gate.open_on("agentwatch-export-lane-1")
    gate.wait_started(3)
    assert gate.active == 2  # lane 2 still holds its first batch
    assert gate.on[2] == "agentwatch-export-lane-1"
    gate.open_all()
    gate.wait_started(4)
    gate.open_all()
    assert processor.force_flush(5000)
    assert sorted(_names(gate.items)) == sorted(f"s{n}" for n in range(40))
    processor.shutdown()


def test_an_operation_waits_for_every_batch_in_flight_before_it() -> None:
    # The session's end must reach the server after its events (its counts, dropped_events).
    gate, processor = _both_lanes_held(20)
    update = UpdateSession("s", {}, final=True)
    processor.put_op(update, urgent=True)
    time.sleep(0.1)
    assert len(gate.started) == 2  # the operation's batch waits
    gate.open_on("agentwatch-export-lane-1")  # one lane finishes: still waiting
    time.sleep(0.1)
    assert len(gate.started) == 2
    gate.open_all()
    gate.wait_started(3)
    gate.open_all()
    assert processor.force_flush(5000)
    assert gate.items[-1] is update
    assert gate.started[2] == [update]
    processor.shutdown()


def test_a_flush_returns_only_once_both_batches_in_flight_are_delivered() -> None:
    gate, processor = _both_lanes_held(20)
    flushed = processor.start_flush()
    gate.open_on("agentwatch-export-lane-1")
    assert not flushed.wait(0.2)  # the other lane's batch is still in flight
    gate.open_all()
    assert flushed.wait(5)
    assert len(gate.items) == 20
    processor.shutdown()


def test_shutdown_counts_both_batches_in_flight_once(caplog: pytest.LogCaptureFixture) -> None:
    gate, processor = _both_lanes_held(35)  # 10 on each thread, 15 queued

    def release_the_first_during_shutdown() -> None:
        time.sleep(0.3)  # after the 0.1 s flush, within the 0.5 s the workers get to stop
        gate.open_on("agentwatch-export-lane-2")

    threading.Thread(target=release_the_first_during_shutdown, daemon=True).start()
    gate.shutdown = lambda: setattr(gate, "closed", True)  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="agentwatch"):
        processor.shutdown(100)
    # One batch answered in time (delivered), one never did (counted), the queue's rest.
    assert len(gate.items) == 10
    assert processor.drops.snapshot() == {"shutdown": 25}
    assert "25 event(s)" in caplog.text
    assert "10 in a request still unanswered" in caplog.text
    gate.open_all()  # the late answer counts nothing more
    time.sleep(0.1)
    assert processor.drops.snapshot() == {"shutdown": 25}


def test_a_forked_child_gets_lanes_of_its_own() -> None:
    # The parent's lanes are threads the child does not have: a batch handed to them
    # there would never go. The child starts its own.
    gate, processor = _both_lanes_held(20)  # both of the parent's lanes hold a batch
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() in a threaded process
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            gate.items.clear()
            gate.shutdown = lambda: None  # type: ignore[method-assign]
            gate.export = _Collector.export.__get__(gate)  # type: ignore[method-assign]
            for n in range(100, 125):
                processor.put_event(_span(n))
            ok = processor.force_flush(5000)
            os.write(write, f"{ok}:{len(_names(gate.items))}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 100).decode() == "True:25"
    assert os.waitstatus_to_exitcode(status) == 0
    gate.open_all()
    assert processor.force_flush(5000)
    assert len(gate.items) == 20
    processor.shutdown()
