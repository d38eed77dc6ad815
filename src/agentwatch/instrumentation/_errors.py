"""Bugs of ours inside instrumented calls: logged once per place, counted, swallowed.

The user's call never fails because of agentwatch; tests assert ``internal_errors`` stays
empty.
"""

from __future__ import annotations

import logging

__all__ = ["internal_error", "internal_errors"]

logger = logging.getLogger("agentwatch")

internal_errors: dict[str, int] = {}


def internal_error(where: str) -> None:
    """Log a bug of ours once per place (with its traceback) and count it; never raises."""
    count = internal_errors.get(where, 0)
    internal_errors[where] = count + 1
    if count == 0:
        logger.exception(
            "internal error while %s (the call itself is unaffected; please report this)", where
        )
