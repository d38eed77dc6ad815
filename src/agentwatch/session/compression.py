"""The gzip fallback: batches over 1 KB go gzipped until the server refuses gzip once.

A server (or a proxy in front of it) that answers 415 to a gzipped body gets that body
again uncompressed, and every later one too: one refused request, not one per batch.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from typing import TypeVar

from agentwatch.exceptions import FatalApiError

__all__ = ["COMPRESS_FROM_BYTES", "GzipFallback"]

logger = logging.getLogger("agentwatch")

#: Smaller bodies gain too little from gzip to be worth the header.
COMPRESS_FROM_BYTES = 1024

T = TypeVar("T")


class GzipFallback:
    """Decides, body by body, whether to send it gzipped."""

    def __init__(self, enabled: bool) -> None:
        # Turned off for good when the server answers 415 to a gzipped body.
        self.enabled = enabled

    def send(self, body: bytes, post: Callable[[bytes, str | None], T]) -> T:
        """``post(content, content_encoding)`` with ``body`` gzipped if worth it; again
        plain if the server refuses gzip (415). Other failures propagate."""
        if self.enabled and len(body) >= COMPRESS_FROM_BYTES:
            # Level 1: most of the gain for a fraction of the CPU; zlib releases the GIL.
            packed = zlib.compress(body, 1, wbits=31)
            try:
                return post(packed, "gzip")
            except FatalApiError as exc:
                if exc.status != 415:
                    raise
                self.enabled = False
                logger.warning(
                    "the server does not accept gzip (%s); sending events uncompressed", exc
                )
        return post(body, None)
