"""How many event bytes one ``create_events`` request may carry, learnt from the server.

A batch is cut into requests of at most :data:`MAX_REQUEST_BYTES` of event JSON (before
gzip). A server that answers 413 refused a body of a known size: the cap drops below
it, and the refused events go again in smaller requests. The number of 413 answers
tolerated per batch is bounded (:data:`REFUSALS_PER_BATCH`), so a server that refuses
everything costs a few requests, not one per event; an event that alone makes a body
the server refused is dropped without being sent again.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

__all__ = ["MAX_REQUEST_BYTES", "REFUSALS_PER_BATCH", "BodyLimit", "body_size"]

#: Most event bytes (before gzip) sent in one request: well under the server's default
#: limit (10 MiB after decompression), whatever the number of events in a batch.
MAX_REQUEST_BYTES = 4 * 1024 * 1024

#: 413 answers accepted while delivering one export batch; past them, what is left of
#: the batch is dropped as too large. Halving from 4 MB reaches a single small event
#: in about a dozen steps.
REFUSALS_PER_BATCH = 16

_ENVELOPE = len(b'{"events":[]}')


def body_size(events: Sequence[bytes]) -> int:
    """Bytes of the (uncompressed) ``create_events`` body carrying ``events``."""
    return _ENVELOPE + sum(map(len, events)) + max(len(events) - 1, 0)


class BodyLimit:
    """The byte cap of one request, lowered by each 413; kept for the client's life
    (a server's limit seldom moves, and rediscovering it costs refused requests)."""

    def __init__(self, cap: int = MAX_REQUEST_BYTES) -> None:
        self.cap = cap
        #: The smallest body the server refused, if it refused one.
        self.refused_at: int | None = None
        self._lock = threading.Lock()  # two requests in flight may both be refused

    def refused(self, events: Sequence[bytes]) -> None:
        """The server answered 413 to a body carrying ``events``."""
        size = body_size(events)
        with self._lock:
            self.refused_at = size if self.refused_at is None else min(self.refused_at, size)
            self.cap = min(self.cap, max(size // 2, 1))

    def too_large(self, events: Sequence[bytes]) -> bool:
        """True if a body carrying ``events`` is no smaller than one the server refused."""
        return self.refused_at is not None and body_size(events) >= self.refused_at

    def chunks(self, events: list[bytes]) -> list[list[bytes]]:
        """``events`` in order, cut into runs of at most the cap (one event at least)."""
        chunks: list[list[bytes]] = []
        current: list[bytes] = []
        size = _ENVELOPE
        for event in events:
            if current and size + len(event) + 1 > self.cap:
                chunks.append(current)
                current, size = [], _ENVELOPE
            current.append(event)
            size += len(event) + 1
        if current:
            chunks.append(current)
        return chunks
