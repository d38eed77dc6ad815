"""Counting what could not be delivered, by reason, so that no loss is silent."""

from __future__ import annotations

import logging
import threading
from collections import Counter

__all__ = ["DropCounter"]

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
        self, reason: str, count: int = 1, detail: str = "", *, session_id: str | None = None
    ) -> None:
        if count <= 0:
            return
        with self._lock:
            first = reason not in self._counts
            self._counts[reason] += count
            if session_id is not None:
                self._by_session.setdefault(session_id, Counter())[reason] += count
        if first:
            suffix = f": {detail}" if detail else ""
            logger.warning(
                "dropped %d event(s) (%s)%s; further drops of this kind are only counted",
                count,
                reason,
                suffix,
            )

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
