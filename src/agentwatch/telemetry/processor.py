"""The export queue: one bounded FIFO and one worker thread per client.

Why not OpenTelemetry's ``BatchSpanProcessor``: it drops silently when full, cannot
carry session operations in order with the events, and runs one thread per provider
(AgentOps 0.3 made one per session). This processor keeps the same shape (``put``,
``force_flush``, ``shutdown``) and adds what agentwatch promises: drops counted by
reason, each event accounted for exactly once (delivered, dropped, or still pending),
session operations never dropped, a flush that waits only for what was queued before
it, and a fresh queue in a forked child.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from agentwatch.exceptions import RetryableApiError
from agentwatch.telemetry.drops import BatchAccount, DropCounter
from agentwatch.telemetry.items import (
    RECORD_TYPES,
    ExportItem,
    QueuedEvent,
    QueuedRecord,
    QueuedSpan,
    SessionOp,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ExportProcessor", "ItemExporter", "in_export_worker", "stop_all"]

logger = logging.getLogger("agentwatch")

# A thread recording in a tight loop never gives up the GIL by itself: the export thread
# then gets it only when the interpreter forces a switch (every 5 ms) and, as it needs
# it back after each blocking socket call, sends a batch every few tens of ms. A loop of
# 200,000 events filled the queue and lost a third of them. The queue absorbs bursts;
# once it is half full, one ``put_event`` in this many yields the GIL (``time.sleep(0)``)
# and the export thread catches up. Below half, no call pays for it (each yield costs
# the caller one stretch of the export thread's work: a tail-latency cost).
_YIELD_EVERY = 64

# Sender threads for batches that overlap: requests in flight at once. Two keep the
# server busy while the next request is sent; more only queue at a server that works
# on one at a time per core.
_LANES = 2

# Marks the export workers' threads: what they do (an HTTP request an application's
# httpx instrumentation traces, say) is agentwatch's, never the application's to capture.
_worker_thread = threading.local()


def in_export_worker() -> bool:
    """Whether the calling thread is an export worker."""
    return getattr(_worker_thread, "active", False)


class ItemExporter(Protocol):
    """What the worker hands batches to (:class:`SessionExporter`)."""

    def export(self, batch: Sequence[ExportItem], account: BatchAccount) -> None:
        """Deliver ``batch``, reporting the fate of each of its events to ``account``."""

    def overlaps(self, batch: Sequence[ExportItem]) -> bool:
        """Whether ``batch`` may be exported while another batch that may overlap is
        exported on another thread (asked on the worker, before the batch is exported).

        True only when exporting it reads none of the exporter's state another export
        changes and its order against the other batch does not matter.
        """

    def problem(self) -> str | None:
        """Why delivery is failing or stuck right now, or None."""

    def shutdown(self) -> None:
        """Interrupt waits in progress; later exports fail fast."""


class _FlushMarker(threading.Event):
    """Set by the worker once everything queued before it has been exported."""


class ExportProcessor:
    """Queues events and session operations; a daemon worker exports them in batches.

    ``put_event`` is the hot path: an append to a deque (atomic under the GIL), no lock,
    no I/O. The worker starts lazily on the first item and again after a fork.

    Batches the exporter says :meth:`~ItemExporter.overlaps` go out on :data:`_LANES`
    sender threads, each taking the next as soon as it is free, so that the server works
    on one request while the next is sent (one request at a time leaves the server idle
    for each round trip and the machine's other core idle for all of it). A batch that
    does not overlap (a session operation) and a flush marker wait until nothing else is
    in flight, so everything queued before them is delivered first.

    The worker sends full batches as soon as there are any and the rest when the
    ``interval`` has passed, on a flush, or when a queued operation is urgent (someone
    waits for its answer). Sending a partial batch whenever the worker wakes would make
    many small requests under load, and every request costs the export thread Python
    time under the GIL that the recording threads wait for.
    """

    def __init__(
        self,
        exporter: ItemExporter,
        *,
        max_queue_size: int,
        max_batch_size: int,
        interval: float,
        drops: DropCounter,
        unit: str = "event(s)",
    ) -> None:
        self._exporter = exporter
        self.unit = unit  # what its items are, in messages
        self._max_queue_size = max_queue_size
        self._max_batch_size = max_batch_size
        self._interval = interval
        self.drops = drops
        self._backlog = max(max_queue_size // 2, 2 * max_batch_size)
        self._start_lock = threading.Lock()
        self._reset_state()
        _after_fork.add(self)

    def _reset_state(self) -> None:
        self._queue: deque[ExportItem | _FlushMarker] = deque()
        self._wake = threading.Event()
        # Set (before ``_wake``) when everything queued must go now, not only full batches.
        self._send_all = False
        self._send_all_lock = threading.Lock()
        # Guards taking a batch off the queue, the batch in flight and ``_stopping``:
        # an item leaves the queue either in a batch or counted by shutdown, never both.
        self._lock = threading.Lock()
        self._in_flight: list[BatchAccount] = []
        self._worker: threading.Thread | None = None
        self._lanes: _Lanes | None = None
        self._pid = os.getpid()
        self._stopping = False

    # -- producer side -------------------------------------------------------------

    def put_event(self, event: QueuedRecord) -> bool:
        """Queue one event; False (and counted) when the queue is full or shut down."""
        queue = self._queue
        if len(queue) >= self._max_queue_size or self._stopping:
            self.drops.add(
                "queue_full" if not self._stopping else "after_shutdown",
                session_id=event.session_id,
            )
            return False
        queue.append(event)
        if self._worker is None:
            self._start_worker()
            return True
        waiting = len(queue)
        if waiting >= self._max_batch_size:
            if not self._wake.is_set():
                self._wake.set()
            if waiting >= self._backlog and waiting % _YIELD_EVERY == 0:
                # The export thread is behind: hand it the GIL (see _YIELD_EVERY).
                time.sleep(0)
        return True

    def put_op(self, op: SessionOp, *, urgent: bool = False) -> None:
        """Queue a session operation. Never dropped for lack of room.

        ``urgent``: someone waits for its answer, so the worker sends everything queued
        up to it now rather than at the next interval.
        """
        self._queue.append(op)
        if self._worker is None:
            self._start_worker()
        if urgent:
            self._request_send_all()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Block until everything queued before this call is exported, or the timeout.

        Returns True when it was, False on timeout. Safe from any thread but the worker.
        """
        return self.start_flush().wait(timeout_millis / 1000)

    def start_flush(self) -> threading.Event:
        """Ask for everything queued so far to be exported now, without waiting: the event
        returned is set once it has been (so several processors can flush at once)."""
        marker = _FlushMarker()
        if self._stopping:
            marker.set()  # stopped: nothing is exported any more, what was left is counted
            return marker
        self._queue.append(marker)
        if self._worker is None:
            self._start_worker()
        self._request_send_all()
        return marker

    def problem(self) -> str | None:
        """Why its exporter is failing or stuck right now, or None."""
        return self._exporter.problem()

    def pending(self) -> int:
        """Events queued or in flight: neither delivered nor dropped yet."""
        with self._lock:  # no batch leaves the queue meanwhile: none is counted twice
            in_flight = sum(account.unsettled for account in self._in_flight)
            queued = sum(1 for item in self._queue.copy() if type(item) in RECORD_TYPES)
        return queued + in_flight

    def shutdown(self, timeout_millis: int = 5_000) -> None:
        """Flush within the timeout, then stop the worker (see :func:`stop_all`)."""
        if self._stopping:
            return
        self.force_flush(timeout_millis)
        stop_all([self])

    def _stop(self) -> _Stopped:
        """Stop taking batches and interrupt the exporter; what was in flight is kept
        for :meth:`_Stopped.settle`. Does not wait for the worker."""
        problem = self._exporter.problem()
        with self._lock:
            self._stopping = True
            in_flight = tuple(self._in_flight)
        for account in in_flight:
            account.withhold()
        # Closing the exporter interrupts a retry backoff the worker may be sleeping in.
        self._exporter.shutdown()
        self._request_send_all()
        if self._lanes is not None:
            self._lanes.stop()
        return _Stopped(self, in_flight, problem)

    def _join(self, deadline: float) -> None:
        lanes = self._lanes
        for thread in [self._worker, *(() if lanes is None else lanes.threads)]:
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _take_leftovers(self) -> int:
        """Empty the queue after shutdown; returns the events in it. Operations in it
        fail (their futures get the error), so nobody waits for them forever."""
        events = 0
        with self._lock:
            while self._queue:
                item = self._queue.popleft()
                if isinstance(item, QueuedEvent | QueuedSpan):
                    events += 1
                elif not isinstance(item, _FlushMarker):
                    _fail(item)
        return events

    # -- worker side ---------------------------------------------------------------

    def _request_send_all(self) -> None:
        with self._send_all_lock:
            self._send_all = True
        self._wake.set()

    def _start_worker(self) -> None:
        with self._start_lock:
            if self._worker is not None or self._stopping:
                return
            worker = threading.Thread(target=self._run, name="agentwatch-export", daemon=True)
            worker.start()
            self._worker = worker

    def _run(self) -> None:
        _worker_thread.active = True
        while True:
            woken = self._wake.wait(self._interval)
            self._wake.clear()
            # Taken after clearing: a producer sets the flag before the event, so a request
            # made after this wakes the next wait at once, and none is lost in between.
            with self._send_all_lock:
                send_all, self._send_all = self._send_all, False
            self._drain(send_all or not woken)
            if self._stopping:
                return

    def _drain(self, send_all: bool) -> None:
        """Export full batches; with ``send_all``, everything queued (flush markers too).

        A batch that overlaps goes to the first free lane (the worker waits for one);
        any other batch, and a flush marker, first waits for every lane to finish.
        """
        queue = self._queue
        while queue and (send_all or len(queue) >= self._max_batch_size):
            taken = self._take_batch()
            if taken is None:
                return  # shutting down: what is left is counted by shutdown()
            batch, account, marker = taken
            if batch and self._exporter.overlaps(batch):
                if not self._lanes_of().take(batch, account):
                    self._unsent(batch, account)
                    return
            elif batch:
                if not self._lanes_idle():
                    self._unsent(batch, account)
                    return
                self._export(batch, account)
            if marker is not None:
                if not self._lanes_idle():
                    return  # stopped: the flush did not happen (its waiter times out)
                marker.set()

    def _unsent(self, batch: list[ExportItem], account: BatchAccount) -> None:
        """Stopped before ``batch`` could go: its events are counted with the shutdown's
        (the account withholds them), its operations fail."""
        account.dropped("shutdown", account.unsettled)
        for item in batch:
            if not isinstance(item, QueuedEvent | QueuedSpan):
                _fail(item)

    def _lanes_of(self) -> _Lanes:
        lanes = self._lanes
        if lanes is None:
            lanes = self._lanes = _Lanes(self._export, _LANES)
        return lanes

    def _lanes_idle(self) -> bool:
        """Wait until no lane has a batch in flight; False if stopped meanwhile."""
        lanes = self._lanes
        return lanes is None or lanes.wait_idle()

    def _take_batch(self) -> tuple[list[ExportItem], BatchAccount, _FlushMarker | None] | None:
        """Up to a batch of items (stopping at a flush marker), registered as in flight."""
        with self._lock:
            if self._stopping:
                return None
            queue = self._queue
            batch: list[ExportItem] = []
            marker: _FlushMarker | None = None
            while queue and len(batch) < self._max_batch_size:
                item = queue.popleft()
                if isinstance(item, _FlushMarker):
                    marker = item
                    break
                batch.append(item)
            account = BatchAccount(self.drops, sum(type(i) in RECORD_TYPES for i in batch))
            self._in_flight.append(account)
        return batch, account, marker

    def _export(self, batch: list[ExportItem], account: BatchAccount) -> None:
        try:
            self._exporter.export(batch, account)
        except Exception:
            # The exporter handles API failures itself; this is a bug, never the user's.
            logger.exception("agentwatch: internal error while exporting a batch")
            account.dropped("internal_error", account.unsettled)
        with self._lock:
            self._in_flight.remove(account)


class _Lanes:
    """Sender threads for batches that overlap, each with room for one batch. Started on
    first use; daemons, like the worker."""

    def __init__(self, export: Callable[[list[ExportItem], BatchAccount], None], n: int) -> None:
        self._export = export
        self._n = n
        self._changed = threading.Condition(threading.Lock())
        # Handed over, not picked up by a lane yet (with the busy ones, at most n).
        self._waiting: deque[tuple[list[ExportItem], BatchAccount]] = deque()
        self._busy = 0  # lanes exporting a batch
        self._stopped = False
        self.threads: list[threading.Thread] = []

    def take(self, batch: list[ExportItem], account: BatchAccount) -> bool:
        """Hand ``batch`` to the first free lane, waiting for one; False if stopped first."""
        with self._changed:
            while self._busy + len(self._waiting) >= self._n and not self._stopped:
                self._changed.wait()
            if self._stopped:
                return False
            self._waiting.append((batch, account))
            if not self.threads:
                for lane in range(self._n):
                    name = f"agentwatch-export-lane-{lane + 1}"
                    self.threads.append(threading.Thread(target=self._run, name=name, daemon=True))
                for thread in self.threads:
                    thread.start()
            self._changed.notify_all()
        return True

    def wait_idle(self) -> bool:
        """Block until no batch is waiting or in flight here; False if stopped first."""
        with self._changed:
            while (self._busy or self._waiting) and not self._stopped:
                self._changed.wait()
            return not self._stopped

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    def _run(self) -> None:
        _worker_thread.active = True
        while True:
            with self._changed:
                while not self._waiting and not self._stopped:
                    self._changed.wait()
                if not self._waiting:
                    return  # stopped, nothing in hand
                batch, account = self._waiting.popleft()
                self._busy += 1
            try:
                self._export(batch, account)
            finally:
                with self._changed:
                    self._busy -= 1
                    self._changed.notify_all()


# How long stopped workers get, all together, to report the requests their stop
# interrupted (a closed client fails them at once) before what they still hold is
# counted as unanswered: shutdown takes its timeout plus this, however many workers.
_JOIN_GRACE = 0.5


class _Stopped:
    """A processor being stopped: the batches it had in flight and why delivery failed."""

    def __init__(
        self, processor: ExportProcessor, in_flight: Sequence[BatchAccount], problem: str | None
    ) -> None:
        self.processor = processor
        self._in_flight = in_flight
        self._problem = problem

    def settle(self) -> str | None:
        """Count every event the processor did not deliver as dropped (``shutdown``,
        not warned about); returns what to say about them, or None if there were none."""
        abandoned = [account.abandon() for account in self._in_flight]
        unanswered = sum(lost for lost, _ in abandoned)
        interrupted = sum(withheld for _, withheld in abandoned)
        lost = unanswered + interrupted + self.processor._take_leftovers()
        if not lost:
            return None
        drops = self.processor.drops
        detail = "not delivered before the shutdown timeout"
        if unanswered:
            detail += f" ({unanswered} in a request still unanswered)"
        if self._problem:
            detail += f": {self._problem}"
        drops.add("shutdown", lost, detail, warn=False)
        return f"{lost} {self.processor.unit} ({drops.counted_as('shutdown')}): {detail}"


def stop_all(processors: Sequence[ExportProcessor]) -> None:
    """Stop ``processors`` (flushed by the caller) together, within one :data:`_JOIN_GRACE`.

    Every event not delivered by then is counted as dropped (``shutdown``), with one
    warning for all of them that says why: what is left in the queue, what the
    interrupted requests carried, and the batches whose request is still unanswered (a
    server that holds the connection: the worker, a daemon thread, is left blocked in it).
    """
    stopped = [p._stop() for p in processors if not p._stopping]
    deadline = time.monotonic() + _JOIN_GRACE
    for stop in stopped:
        stop.processor._join(deadline)
    said = [what for what in (stop.settle() for stop in stopped) if what is not None]
    if said:
        logger.warning("dropped %s", "; and ".join(said))


def _fail(op: SessionOp) -> None:
    result = getattr(op, "result", None)
    if result is not None and not result.done():
        result.set_exception(
            RetryableApiError("not sent: the client shut down", status=None, reason="shutdown")
        )


class _AfterFork:
    """Resets every live processor in a forked child: no inherited queue or thread."""

    def __init__(self) -> None:
        self._processors: weakref.WeakSet[ExportProcessor] = weakref.WeakSet()
        register: Callable[..., None] | None = getattr(os, "register_at_fork", None)
        if register is not None:
            register(after_in_child=self._reset)

    def add(self, processor: ExportProcessor) -> None:
        self._processors.add(processor)

    def _reset(self) -> None:
        for processor in list(self._processors):
            processor._start_lock = threading.Lock()
            processor._reset_state()


_after_fork = _AfterFork()
