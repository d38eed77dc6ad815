"""``RetryingPoster``: POST to the server, retrying what may succeed later, until a deadline.

429/502/503/504, timeouts and connection errors are retried with :class:`RetryPolicy`
(backoff with jitter, ``Retry-After`` as a floor); each attempt's timeout shrinks to the
time left, so a call returns about at its deadline at the latest (httpx times each
connect/read/write separately: a server trickling its answer can stretch the last
attempt). :meth:`close` cuts any backoff wait short. Any other answer is returned
whatever its status: what it means is the caller's business.

While requests do not get through, the poster says so once, naming the endpoint and
the error ("connection refused"), and :meth:`problem` keeps saying it until the server
answers again; per-attempt lines are DEBUG. Thread-safe; blocks.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from functools import lru_cache
from typing import TYPE_CHECKING

from agentwatch.config import Config
from agentwatch.exceptions import FatalApiError, RetryableApiError
from agentwatch.host_env import sdk_version
from agentwatch.session.answers import retryable_status
from agentwatch.telemetry.retry import RetryPolicy

if TYPE_CHECKING:
    import httpx

__all__ = ["RetryingPoster", "closed_error"]

logger = logging.getLogger("agentwatch")

# Failures that mean the server cannot be reached (or cannot serve), as opposed to a
# server that answers "slow down" (429), which is its normal way of pacing us.
_OUTAGE_REASONS = frozenset({"connect", "network", "timeout", "http_502", "http_503", "http_504"})
# An attempt this long without an answer is worth mentioning when delivery stalls.
_STALLED_AFTER = 0.2


class RetryingPoster:
    """Sends POSTs to ``config.endpoint`` through one pooled ``httpx.Client``.

    ``transport`` replaces the network (tests, an in-process server); it belongs to the
    caller and is not closed by :meth:`close`.
    """

    def __init__(
        self, config: Config, *, transport: httpx.BaseTransport | None, policy: RetryPolicy
    ) -> None:
        self._config = config
        self._transport = transport
        self._policy = policy
        self._closed = threading.Event()
        self._outage: str | None = None
        self._attempts: dict[int, float] = {}  # attempt number -> start, while unanswered
        self._serial = itertools.count()
        self.reset_after_fork()

    def reset_after_fork(self) -> None:
        """State a forked child must not share with its parent.

        The parent's pooled sockets would interleave two processes' requests, a lock held
        by a parent thread at fork time would never be released, and a copied RNG would
        make sibling processes retry in lockstep.
        """
        self._lock = threading.Lock()  # guards _client, _attempts
        self._client: httpx.Client | None = None
        self._rng = random.Random()

    def prepare(self) -> None:
        """Build the pooled client now, on the calling thread (it opens no connection)."""
        self._http()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def post(
        self, path: str, body: bytes, headers: dict[str, str], deadline: float
    ) -> httpx.Response:
        """POST until an answer that is not retryable arrives; return it whatever its status.

        Raises :class:`RetryableApiError` when the deadline passes (or on ``close()``) and
        :class:`FatalApiError` for transport errors that retrying cannot fix.
        """
        attempt = 0
        previous: RetryableApiError | None = None
        while True:
            try:
                response = self._attempt(path, body, headers, deadline)
            except _CutShort as failure:
                # Report what went wrong before the deadline, not the deadline itself.
                raise _gave_up(previous or failure, attempt + 1) from failure
            except RetryableApiError as failure:
                previous = failure
                self._note_failure(failure)
                self._wait_before_retry(failure, attempt, deadline)
            else:
                self._note_answer()
                return response
            attempt += 1

    def problem(self) -> str | None:
        """Why requests are not getting through, or None while the server answers."""
        if self._outage is not None:
            return self._outage
        with self._lock:
            started = min(self._attempts.values(), default=None)
        waited = None if started is None else time.monotonic() - started
        if waited is not None and waited >= _STALLED_AFTER:
            return f"the server at {self._config.endpoint} has not answered for {waited:.1f} s"
        return None

    def close(self) -> None:
        """Interrupt any backoff wait and close the pool. Idempotent; later (and
        interrupted) calls raise ``RetryableApiError(reason="closed")``."""
        self._closed.set()
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._transport is None:
            client.close()

    # -- one attempt -----------------------------------------------------------------------

    def _attempt(
        self, path: str, body: bytes, headers: dict[str, str], deadline: float
    ) -> httpx.Response:
        import httpx  # lazily, see _http()

        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _CutShort(
                f"POST {path}: the retry deadline has passed", status=None, reason="timeout"
            )
        timeout = min(self._config.request_timeout, remaining)
        number = next(self._serial)
        with self._lock:
            self._attempts[number] = time.monotonic()
        try:
            response = self._http().post(path, content=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            if timeout < self._config.request_timeout and not self._closed.is_set():
                raise _CutShort(
                    f"POST {path}: no answer before the retry deadline",
                    status=None,
                    reason="timeout",
                ) from exc
            raise self._transport_failure(path, exc, timeout) from exc
        except httpx.TransportError as exc:
            raise self._transport_failure(path, exc, timeout) from exc
        except RuntimeError as exc:
            # httpx refuses to send on a client that close() shut in the meantime.
            if self._closed.is_set():
                raise closed_error() from exc
            raise
        finally:
            with self._lock:
                self._attempts.pop(number, None)
        if self._policy.is_retryable(response.status_code):
            raise retryable_status(path, response)
        return response

    def _transport_failure(self, path: str, exc: httpx.TransportError, timeout: float) -> Exception:
        """Classify a failure to get an answer: retryable, or not worth retrying."""
        import httpx  # lazily, see _http()

        if self._closed.is_set():
            return closed_error()  # close() shut the pool under an in-flight request
        if isinstance(exc, httpx.TimeoutException):
            reason, what = "timeout", f"no answer within {timeout:g} s"
        elif isinstance(exc, httpx.ConnectError | httpx.ProxyError):
            reason, what = "connect", _os_error(exc)
        elif isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
            reason, what = "network", _os_error(exc)  # reset or closed before a full answer
        else:  # UnsupportedProtocol, LocalProtocolError: our request itself is wrong
            return FatalApiError(f"POST {path} failed: {exc!r}", status=None, reason="transport")
        return _Unreachable(
            f"POST {path} failed ({reason}): {exc!r}", status=None, reason=reason, what=what
        )

    def _wait_before_retry(self, failure: RetryableApiError, attempt: int, deadline: float) -> None:
        """Sleep the policy's delay, or raise ``failure`` if the deadline does not allow it."""
        if failure.reason == "closed":
            raise failure
        delay = self._policy.next_delay(
            attempt,
            now=time.monotonic(),
            deadline=deadline,
            retry_after=failure.retry_after,
            rng=self._rng,
        )
        if delay is None:
            raise _gave_up(failure, attempt + 1) from failure
        logger.debug("%s; retrying in %.2f s", failure, delay)
        # close() sets the event and so cuts this wait short.
        if self._closed.wait(delay):
            raise closed_error() from failure

    # -- telling the user once ---------------------------------------------------------------

    def _note_failure(self, failure: RetryableApiError) -> None:
        if failure.reason not in _OUTAGE_REASONS or self._outage is not None:
            return
        endpoint = self._config.endpoint
        if isinstance(failure, _Unreachable):
            self._outage = f"cannot reach the agentwatch server at {endpoint} ({failure.what})"
        else:
            self._outage = f"the agentwatch server at {endpoint} is unavailable ({failure})"
        logger.warning(
            "%s; events are kept and retried for up to %g s",
            self._outage,
            self._config.retry_deadline,
        )

    def _note_answer(self) -> None:
        if self._outage is not None:
            self._outage = None
            logger.info("the agentwatch server at %s answers again", self._config.endpoint)

    def _http(self) -> httpx.Client:
        """The pooled client, created by :meth:`prepare` or on first use (after a fork);
        creating it opens no connection."""
        import httpx

        with self._lock:
            if self._closed.is_set():
                raise closed_error()
            if self._client is None:
                self._client = httpx.Client(
                    base_url=self._config.endpoint,
                    transport=self._transport,
                    headers={
                        "Content-Type": "application/json; charset=UTF-8",
                        "Accept": "application/json",
                        "User-Agent": _user_agent(),
                    },
                    timeout=self._config.request_timeout,
                )
            return self._client


class _CutShort(RetryableApiError):
    """An attempt ended by the retry deadline rather than by the server or the network."""


class _Unreachable(RetryableApiError):
    """No answer came back; ``what`` says why in words ("connection refused")."""

    def __init__(self, message: str, *, status: int | None, reason: str, what: str) -> None:
        super().__init__(message, status=status, reason=reason)
        self.what = what


def _os_error(exc: BaseException) -> str:
    """The operating system's words for a failed connection ("connection refused")."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror[:1].lower() + seen.strerror[1:]
        seen = seen.__cause__ or seen.__context__
    return str(exc) or type(exc).__name__


def _gave_up(failure: RetryableApiError, attempts: int) -> RetryableApiError:
    return RetryableApiError(
        f"{failure} (gave up after {attempts} attempt(s): retry deadline)",
        status=failure.status,
        reason=failure.reason,
        retry_after=failure.retry_after,
    )


def closed_error() -> RetryableApiError:
    return RetryableApiError("the API client is closed", status=None, reason="closed")


@lru_cache(maxsize=1)
def _user_agent() -> str:
    return f"agentwatch-python/{sdk_version()}"
