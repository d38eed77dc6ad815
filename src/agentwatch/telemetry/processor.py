"""The export queue: one bounded FIFO and one worker thread per client.

Why not OpenTelemetry's ``BatchSpanProcessor``: it drops silently when full, cannot
carry session operations in order with the spans, and runs one thread per provider
(AgentOps 0.3 made one per session). This processor keeps the same contract
(``on_end``, ``force_flush``, ``shutdown``) and adds what agentwatch promises: drops
counted by reason, session operations never dropped, a flush that waits only for what
was queued before it, and a fresh queue in a forked child.
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

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from agentwatch.telemetry.drops import DropCounter
from agentwatch.telemetry.ops import SessionOp

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ExportItem", "ExportProcessor", "ItemExporter"]

logger = logging.getLogger("agentwatch")

ExportItem = ReadableSpan | SessionOp

# A thread recording in a tight loop never gives up the GIL by itself: the export thread
# then gets it only when the interpreter forces a switch (every 5 ms) and, as it needs
# it back after each blocking socket call, sends a batch every few tens of ms. A loop of
# 200,000 events filled the queue and lost a third of them. The queue absorbs bursts;
# once it is half full, one ``record()`` in this many yields the GIL (``time.sleep(0)``)
# and the export thread catches up. Below half, no call pays for it (each yield costs
# the caller one stretch of the export thread's work: a tail-latency cost).
_YIELD_EVERY = 64


class ItemExporter(Protocol):
    """What the worker hands batches to (:class:`SessionExporter`)."""

    def export(self, batch: Sequence[ExportItem]) -> None: ...

    def shutdown(self) -> None: ...


class _FlushMarker(threading.Event):
    """Set by the worker once everything queued before it has been exported."""


class ExportProcessor(SpanProcessor):
    """Queues spans and session operations; a daemon worker exports them in batches.

    ``put_event`` is the hot path: an append to a deque (atomic under the GIL), no lock,
    no I/O. The worker starts lazily on the first item and again after a fork.

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
    ) -> None:
        self._exporter = exporter
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
        self._worker: threading.Thread | None = None
        self._pid = os.getpid()
        self._stopping = False

    # -- producer side -------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        self.put_event(span)

    def put_event(self, span: ReadableSpan) -> bool:
        """Queue one event span; False (and counted) when the queue is full or shut down."""
        queue = self._queue
        if len(queue) >= self._max_queue_size or self._stopping:
            self.drops.add(
                "queue_full" if not self._stopping else "after_shutdown",
                session_id=getattr(span, "session_id", None),
            )
            return False
        queue.append(span)
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
        marker = _FlushMarker()
        self._queue.append(marker)
        if self._worker is None:
            self._start_worker()
        self._request_send_all()
        return marker.wait(timeout_millis / 1000)

    def shutdown(self, timeout_millis: int = 5_000) -> None:
        """Flush within the timeout, then stop the worker; what is left is counted as dropped."""
        if self._stopping:
            return
        flushed = self.force_flush(timeout_millis)
        self._stopping = True
        # Closing the exporter interrupts a retry backoff the worker may be sleeping in.
        self._exporter.shutdown()
        self._request_send_all()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(0.5 if flushed else 1.0)
        left = sum(1 for item in self._queue if isinstance(item, ReadableSpan))
        self._queue.clear()
        self.drops.add("shutdown", left, "not delivered before the shutdown timeout")

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
        """Export full batches; with ``send_all``, everything queued (flush markers too)."""
        queue = self._queue
        while queue and (send_all or len(queue) >= self._max_batch_size):
            batch: list[ExportItem] = []
            marker: _FlushMarker | None = None
            while queue and len(batch) < self._max_batch_size:
                item = queue.popleft()
                if isinstance(item, _FlushMarker):
                    marker = item
                    break
                batch.append(item)
            if batch:
                self._export(batch)
            if marker is not None:
                marker.set()

    def _export(self, batch: list[ExportItem]) -> None:
        try:
            self._exporter.export(batch)
        except Exception:
            # The exporter handles API failures itself; this is a bug, never the user's.
            logger.exception("agentwatch: internal error while exporting a batch")
            self.drops.add("internal_error", sum(isinstance(i, ReadableSpan) for i in batch))


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
