"""Failed dashboard logins are throttled per client address, with exponential backoff.

A client has :data:`FREE_FAILURES` attempts; each failure past them locks it out for twice
as long as the one before: 30 s, 60 s, 2 min, ... up to an hour. A success starts it over,
and so does an hour without attempts. An attempt counts as failed from the moment it
starts until it succeeds, so sixteen concurrent guesses get five scrypt checks, not sixteen.

State is per process (several server processes multiply the free attempts, not the
lockouts' growth) and bounded: past :data:`MAX_CLIENTS` the least recently seen clients are
forgotten. Only the event loop thread touches it, so it needs no lock.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FREE_FAILURES", "MAX_CLIENTS", "LoginThrottle"]

FREE_FAILURES = 5
FIRST_LOCKOUT = 30.0
LONGEST_LOCKOUT = 3600.0
FORGET_AFTER = 3600.0
MAX_CLIENTS = 10_000


@dataclass
class _Client:
    failures: int = 0
    locked_until: float = 0.0
    last_seen: float = 0.0


class LoginThrottle:
    """Decides whether a client may try a password now."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._clients: OrderedDict[str, _Client] = OrderedDict()

    def begin(self, client: str) -> int | None:
        """Seconds ``client`` must wait (refused), or None: the attempt may go ahead.

        An attempt that goes ahead counts as a failure until :meth:`succeeded` is called.
        """
        now = self._clock()
        state = self._state(client, now)
        if now < state.locked_until:
            return max(1, math.ceil(state.locked_until - now))
        state.failures += 1
        past_free = state.failures - FREE_FAILURES
        if past_free >= 0:
            state.locked_until = now + min(FIRST_LOCKOUT * 2**past_free, LONGEST_LOCKOUT)
        return None

    def succeeded(self, client: str) -> None:
        """The attempt begun for ``client`` found the right password: start it over."""
        self._clients.pop(client, None)

    def _state(self, client: str, now: float) -> _Client:
        state = self._clients.get(client)
        if state is None or now > max(state.last_seen, state.locked_until) + FORGET_AFTER:
            state = _Client()
        state.last_seen = now
        self._clients[client] = state
        self._clients.move_to_end(client)
        while len(self._clients) > MAX_CLIENTS:
            self._clients.popitem(last=False)
        return state
