"""Counting what could not be delivered, by reason, so that no loss is silent."""

from __future__ import annotations

import logging
import threading
from collections import Counter

__all__ = ["BatchAccount", "DropCounter", "PrefixedDrops"]

logger = logging.getLogger("agentwatch")


class DropCounter:
    """Thread-safe counts of dropped events by reason (``queue_full``, ``http_400``, ...).

    Counted for the whole client and, when the session is known, per session: the
    exporter sends a session's counts with its updates so that the server shows them
    beside the events that did arrive. The first drop of each reason is logged as a
    warning; later ones only counted (a flood of identical warnings helps nobody).
    Drops are rare, so a lock is fine.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._by_session: dict[str, Counter[str]] = {}

    def add(
        self,
        reason: str,
        count: int = 1,
        detail: str = "",
        *,
        session_id: str | None = None,
        warn: bool = True,
    ) -> None:
        """Count ``count`` drops; the first of ``reason`` is warned about unless ``warn``
        is False (the caller says it in a warning of its own)."""
        if count <= 0:
            return
        with self._lock:
            first = reason not in self._counts
            self._counts[reason] += count
            if session_id is not None:
                self._by_session.setdefault(session_id, Counter())[reason] += count
        if first and warn:
            suffix = f": {detail}" if detail else ""
            logger.warning(
                "dropped %d event(s) (%s)%s; further drops of this kind are only counted",
                count,
                reason,
                suffix,
            )

    def counted_as(self, reason: str) -> str:
        """The reason under which ``reason`` shows in :meth:`snapshot` (here: itself)."""
        return reason

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def for_session(self, session_id: str) -> dict[str, int]:
        """The drops counted for ``session_id`` so far, by reason."""
        with self._lock:
            return dict(self._by_session.get(session_id, ()))

    def forget(self, session_id: str) -> None:
        """Stop keeping ``session_id``'s counts (its last update has been sent)."""
        with self._lock:
            self._by_session.pop(session_id, None)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


class PrefixedDrops(DropCounter):
    """Counts into another counter under prefixed reasons (``otlp_`` + ``queue_full``).

    For a second delivery of the same events (the OTLP tee): its losses show in the
    client's :attr:`~agentwatch.Client.dropped` beside the agentwatch delivery's, and are
    not counted per session (those counts go to agentwatch with the session's updates,
    and these are not losses of that delivery). Read the totals on ``into``.
    """

    def __init__(self, into: DropCounter, prefix: str) -> None:
        super().__init__()
        self._into = into
        self._prefix = prefix

    def add(
        self,
        reason: str,
        count: int = 1,
        detail: str = "",
        *,
        session_id: str | None = None,
        warn: bool = True,
    ) -> None:
        self._into.add(self.counted_as(reason), count, detail, warn=warn)

    def counted_as(self, reason: str) -> str:
        return self._prefix + reason


class BatchAccount:
    """The fate of one export batch's events: each is delivered or dropped, once.

    The exporter reports every event of the batch here. At shutdown the processor first
    has drops withheld (the requests it interrupts fail, and it counts those itself, in
    one message), then gives up on what is still unreported (a request a server holds
    unanswered): reports about the batch after that are ignored, so no event is counted
    twice or not at all.
    """

    __slots__ = ("_abandoned", "_drops", "_lock", "_unsettled", "_withheld", "_withholding")

    def __init__(self, drops: DropCounter, events: int) -> None:
        self._drops = drops
        self._unsettled = events
        self._withheld = 0
        self._withholding = False
        self._abandoned = False
        self._lock = threading.Lock()

    @property
    def unsettled(self) -> int:
        """Events of the batch neither delivered nor dropped yet."""
        return self._unsettled

    def delivered(self, count: int) -> None:
        with self._lock:
            if not self._abandoned:
                self._unsettled -= count

    def dropped(
        self, reason: str, count: int, detail: str = "", *, session_id: str | None = None
    ) -> None:
        with self._lock:
            if self._abandoned:
                return
            self._unsettled -= count
            if self._withholding:
                self._withheld += count
                return
        self._drops.add(reason, count, detail, session_id=session_id)

    def withhold(self) -> None:
        """From now on, keep drops for :meth:`abandon` to return instead of counting them."""
        with self._lock:
            self._withholding = True

    def abandon(self) -> tuple[int, int]:
        """Give up on the batch: (events still unreported, drops withheld), for the
        caller to count. Later reports about this batch are ignored."""
        with self._lock:
            if self._abandoned:
                return 0, 0
            self._abandoned = True
            lost = (self._unsettled, self._withheld)
            self._unsettled = self._withheld = 0
        return lost
