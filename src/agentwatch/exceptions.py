"""The SDK's exceptions, in one tree.

    AgentwatchError
    ├── ConfigurationError      a setting (argument or AGENTWATCH_* variable) is invalid
    ├── SessionStateError       an operation on a session that has ended / no current session
    └── ApiError                the server answered with an error (raised inside the export
        │                       pipeline and by blocking calls; never by ``record()``)
        ├── RetryableApiError   429, 502, 503, 504, timeouts, connection errors
        └── FatalApiError       any other 4xx/5xx: retrying would not help

The host program only ever sees ``ConfigurationError`` (at ``init``/``Client``) and
``SessionStateError`` (misuse of the API). Network and server failures are logged,
counted and swallowed by the export pipeline.
"""

from __future__ import annotations

__all__ = [
    "AgentwatchError",
    "ApiError",
    "ConfigurationError",
    "FatalApiError",
    "RetryableApiError",
    "SessionStateError",
]


class AgentwatchError(Exception):
    """Base of every exception raised by agentwatch."""


class ConfigurationError(AgentwatchError, ValueError):
    """A setting was given a value outside what it accepts."""


class SessionStateError(AgentwatchError, RuntimeError):
    """The operation does not fit the session's state (ended, or no current session)."""


class ApiError(AgentwatchError):
    """The server (or the network on the way to it) failed a request.

    ``status`` is the HTTP status, or ``None`` when no response arrived.
    ``reason`` is a short machine-readable cause used to count drops (``http_400``,
    ``timeout``, ``connect``...).
    """

    def __init__(self, message: str, *, status: int | None, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class RetryableApiError(ApiError):
    """A failure that may succeed later. ``retry_after`` is the server's hint in seconds."""

    def __init__(
        self, message: str, *, status: int | None, reason: str, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status, reason=reason)
        self.retry_after = retry_after


class FatalApiError(ApiError):
    """A failure that will not succeed by retrying the same request.

    ``accepted`` is set when the server stored part of a batch and refused the rest (a
    422 naming each refused event): how many of the batch's events it took.
    """

    def __init__(
        self, message: str, *, status: int | None, reason: str, accepted: int | None = None
    ) -> None:
        super().__init__(message, status=status, reason=reason)
        self.accepted = accepted
