"""When to retry a failed request, and how long to wait before doing so.

The schedule is the OpenTelemetry collector's (``exporterhelper`` ``retry_on_failure``):
exponential backoff from 0.5 s doubling to a 30 s cap, each wait drawn uniformly within
±50 % of the nominal value, and an overall deadline after which the caller gives up.
A server's ``Retry-After`` is a floor on the wait, never shortened by the cap.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timezone

from agentwatch.config import Config

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "parse_retry_after"]

#: Statuses that mean "try again later" (OTLP/HTTP's list; 500 is deliberately absent:
#: a crash on the same body would crash again).
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by a deadline the caller passes in.

    ``randomization_factor`` f spreads each wait uniformly over ``[d*(1-f), d*(1+f)]``
    (then capped at ``max_backoff``) so that many clients failing together do not retry
    together.
    """

    initial_backoff: float = 0.5
    multiplier: float = 2.0
    max_backoff: float = 30.0
    randomization_factor: float = 0.5
    retryable_statuses: frozenset[int] = RETRYABLE_STATUSES

    def __post_init__(self) -> None:
        if not (self.initial_backoff > 0 and self.max_backoff > 0 and self.multiplier >= 1):
            raise ValueError("backoffs must be positive and the multiplier at least 1")
        if not 0 <= self.randomization_factor < 1:
            raise ValueError("randomization_factor must be in [0, 1)")

    @classmethod
    def from_config(cls, config: Config) -> RetryPolicy:
        """The default schedule with the configured ``max_backoff``."""
        return cls(max_backoff=config.max_backoff)

    def is_retryable(self, status: int) -> bool:
        return status in self.retryable_statuses

    def nominal_backoff(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (0-based) without jitter, capped."""
        try:
            backoff = self.initial_backoff * self.multiplier**attempt
        except OverflowError:  # after ~1000 attempts; the cap applies anyway
            return self.max_backoff
        return min(backoff, self.max_backoff)

    def next_delay(
        self,
        attempt: int,
        *,
        now: float,
        deadline: float,
        retry_after: float | None,
        rng: random.Random,
    ) -> float | None:
        """Seconds to wait before retry number ``attempt`` (0 for the first retry).

        ``now`` and ``deadline`` are on the same clock (``time.monotonic()``).
        ``retry_after`` (the server's hint, seconds) is a floor, honoured even above
        ``max_backoff``. Returns ``None`` when the wait would end past ``deadline``: the
        caller should give up. The result is never negative.
        """
        nominal = self.nominal_backoff(attempt)
        spread = nominal * self.randomization_factor
        delay = min(rng.uniform(nominal - spread, nominal + spread), self.max_backoff)
        if retry_after is not None:
            delay = max(delay, retry_after)
        delay = max(delay, 0.0)
        if now + delay > deadline:
            return None
        return delay


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value.

    Accepts a number of seconds (``"3"``, ``"1.5"``) or an HTTP-date
    (``"Wed, 21 Oct 2026 07:28:00 GMT"``), compared with ``now``. A date in the past
    gives ``0``; a missing, negative or unparsable value gives ``None``.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until_http_date(value, now)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _seconds_until_http_date(value: str, now: datetime) -> float | None:
    try:
        import email.utils  # only when a server sends a date: not at import

        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # HTTP-dates are always GMT; email.utils gives a naive datetime for "-0000".
    when = _as_utc(when)
    return max((when - _as_utc(now)).total_seconds(), 0.0)


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment
