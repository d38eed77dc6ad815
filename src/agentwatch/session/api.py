"""``SessionApiClient``: the only place in the SDK that speaks HTTP.

It sends the AgentOps v2 requests (``PROTOCOL.md``), holds each session's JWT, refreshes
it through ``/v2/reauthorize_jwt`` (once per expiry, single-flight across threads), and
retries 429/502/503/504, timeouts and connection errors with :class:`RetryPolicy` until a
deadline. Every other failure is a :class:`FatalApiError`. Retrying a POST is safe because
the server stores an event id once and re-attaches a session created twice.

Calls block (they are made from the export pipeline, never from ``record()``) and are
thread-safe. Neither the API key nor a JWT is ever logged or put in an exception message.
"""

from __future__ import annotations

import base64
import logging
import os
import random
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from agentwatch.config import Config
from agentwatch.exceptions import FatalApiError, RetryableApiError
from agentwatch.host_env import sdk_version
from agentwatch.telemetry.retry import RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    from decimal import Decimal

    import httpx

__all__ = ["CreatedSession", "SessionApiClient"]

# Smaller bodies gain too little from gzip to be worth the header.
_COMPRESS_FROM_BYTES = 1024

logger = logging.getLogger(__name__)

#: A JWT is refreshed before use once this close to its ``exp`` (or within the last fifth
#: of its lifetime, if shorter), so that a request does not leave with a token that
#: expires on the way.
REFRESH_MARGIN = 60.0
_REFRESH_FRACTION = 0.2

_KEY_REFUSED_STATUSES = frozenset({400, 401, 403})


@dataclass(frozen=True)
class CreatedSession:
    """What ``/v2/create_session`` answered."""

    jwt: str
    session_url: str | None


@dataclass(frozen=True)
class _Token:
    jwt: str
    refresh_at: float | None  # Unix time after which to refresh before use; None: never


class SessionApiClient:
    """Sends v2 requests for many sessions through one pooled ``httpx.Client``.

    ``transport`` replaces the network (tests, an in-process server). Every method takes
    an optional ``deadline`` on the ``time.monotonic()`` clock, by default now +
    ``config.retry_deadline``; retryable failures are retried until then, and each
    attempt's timeout shrinks to the time left, so a call returns about then at the
    latest (httpx times each connect/read/write separately: a server trickling its
    answer can stretch the last attempt).
    """

    def __init__(
        self,
        config: Config,
        *,
        transport: httpx.BaseTransport | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        # httpx is imported here, on the caller's thread, not first on the export thread:
        # openai >= 2 reads sys.modules["httpx"] on every request, and a user thread doing
        # so while the export thread is halfway through the import saw a partial module.
        import httpx  # noqa: F401

        self._config = config
        self._transport = transport
        self._policy = policy if policy is not None else RetryPolicy.from_config(config)
        # Turned off for good when the server answers 415 to a gzipped batch.
        self._gzip = config.compression == "gzip"
        self._closed = threading.Event()
        self._tokens: dict[str, _Token] = {}
        self._reset_process_state()

    def _reset_process_state(self) -> None:
        """State a forked child must not share with its parent.

        The parent's pooled sockets would interleave two processes' requests, a lock held
        by a parent thread at fork time would never be released, and a copied RNG would
        make sibling processes retry in lockstep.
        """
        self._pid = os.getpid()
        self._lock = threading.Lock()  # guards _client, _tokens and _refresh_locks
        self._refresh_locks: dict[str, threading.Lock] = {}
        self._client: httpx.Client | None = None
        self._rng = random.Random()

    # -- public API ----------------------------------------------------------------------

    def create_session(
        self, session_id: str, session: Mapping[str, Any], *, deadline: float | None = None
    ) -> CreatedSession:
        """POST ``/v2/create_session`` (API key) and store the session's JWT.

        ``session`` is the JSON-able session object; its ``session_id`` is set to
        ``session_id``. Raises :class:`FatalApiError` when the key is refused or the answer
        has no JWT, :class:`RetryableApiError` when the deadline passed.
        """
        deadline = self._begin(deadline)
        body = _encode({"session": {**session, "session_id": session_id}})
        jwt, answer = _jwt_in(self._post_with_api_key("/v2/create_session", body, deadline))
        self._store(session_id, jwt)
        url = answer.get("session_url")
        return CreatedSession(jwt, url if isinstance(url, str) else None)

    def update_session(
        self, session_id: str, session: Mapping[str, Any], *, deadline: float | None = None
    ) -> Decimal | None:
        """POST ``/v2/update_session`` (JWT); returns the session's ``token_cost``.

        ``None`` when the server did not price the session (absent or ``"unknown"``).
        """
        deadline = self._begin(deadline)
        body = _encode({"session": {**session, "session_id": session_id}})
        response = self._post_with_jwt(session_id, "/v2/update_session", body, deadline)
        return _token_cost(response)

    def create_events(
        self, session_id: str, events: Sequence[bytes], *, deadline: float | None = None
    ) -> None:
        """POST ``/v2/create_events`` (JWT). Each item is one event, already JSON-encoded.

        The items are joined into the body as they are (no re-encoding), gzipped when the
        ``compression`` setting says so and the body is over 1 KB. A server that answers
        415 to gzip gets this batch and every later one uncompressed. Nothing is sent
        for an empty sequence. A 413 raises :class:`FatalApiError` with ``status=413``:
        splitting the batch is the caller's decision.
        """
        deadline = self._begin(deadline)
        if not events:
            return
        body = b'{"events":[' + b",".join(events) + b"]}"
        if self._gzip and len(body) >= _COMPRESS_FROM_BYTES:
            # Level 1: most of the gain for a fraction of the CPU; zlib releases the GIL.
            packed = zlib.compress(body, 1, wbits=31)
            try:
                self._post_with_jwt(
                    session_id, "/v2/create_events", packed, deadline, encoding="gzip"
                )
                return
            except FatalApiError as exc:
                if exc.status != 415:
                    raise
                self._gzip = False
                logger.warning(
                    "the server does not accept gzip (%s); sending events uncompressed", exc
                )
        self._post_with_jwt(session_id, "/v2/create_events", body, deadline)

    def create_agent(
        self, session_id: str, agent_id: str, name: str, *, deadline: float | None = None
    ) -> None:
        """POST ``/v2/create_agent`` (JWT): register (upsert) an agent's display name."""
        deadline = self._begin(deadline)
        body = _encode({"id": agent_id, "name": name})
        self._post_with_jwt(session_id, "/v2/create_agent", body, deadline)

    def reauthorize(
        self, session_id: str, *, stale_jwt: str | None = None, deadline: float | None = None
    ) -> str:
        """Get a fresh JWT through ``/v2/reauthorize_jwt`` (API key), store and return it.

        Single-flight per session: concurrent callers queue on one lock, and a caller that
        finds the stored JWT already differs from the ``stale_jwt`` it used returns that
        newer JWT without another request. Blocks up to ``deadline``.
        """
        deadline = self._begin(deadline)
        lock = self._refresh_lock(session_id)
        if not lock.acquire(timeout=_lock_timeout(deadline)):
            raise RetryableApiError(
                f"timed out waiting for the token refresh of session {session_id}",
                status=None,
                reason="timeout",
            )
        try:
            current = self.jwt_for(session_id)
            if stale_jwt is not None and current is not None and current != stale_jwt:
                return current
            body = _encode({"session_id": session_id})
            jwt, _ = _jwt_in(self._post_with_api_key("/v2/reauthorize_jwt", body, deadline))
            self._store(session_id, jwt)
            logger.debug("refreshed the token of session %s", session_id)
            return jwt
        finally:
            lock.release()

    def jwt_for(self, session_id: str) -> str | None:
        """The stored JWT of ``session_id``, or ``None``."""
        token = self._tokens.get(session_id)
        return None if token is None else token.jwt

    def forget(self, session_id: str) -> None:
        """Drop what is held for a finished session (its JWT)."""
        with self._lock:
            self._tokens.pop(session_id, None)
            self._refresh_locks.pop(session_id, None)

    def close(self) -> None:
        """Interrupt any backoff wait immediately and close the connection pool.

        Idempotent. Calls in progress and later calls raise
        ``RetryableApiError(reason="closed")``. An injected ``transport`` is left open: it
        belongs to the caller, who may share it between clients.
        """
        self._closed.set()
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._transport is None:
            client.close()

    # -- requests ------------------------------------------------------------------------

    def _begin(self, deadline: float | None) -> float:
        if self._closed.is_set():
            raise _closed_error()
        if self._pid != os.getpid():
            self._reset_process_state()
        if deadline is None:
            return time.monotonic() + self._config.retry_deadline
        return deadline

    def _post_with_api_key(self, path: str, body: bytes, deadline: float) -> httpx.Response:
        """Send with the project API key; a refused key is fatal at once."""
        if self._config.api_key is None:
            raise FatalApiError(
                "no API key is configured (pass api_key= or set AGENTWATCH_API_KEY)",
                status=None,
                reason="no_api_key",
            )
        headers = {"X-Agentops-Api-Key": self._config.api_key}
        if self._config.parent_key is not None:
            headers["X-Agentops-Parent-Key"] = self._config.parent_key
        response = self._send(path, body, headers, deadline)
        status = response.status_code
        if status in _KEY_REFUSED_STATUSES:
            raise FatalApiError(
                f"the server refused the API key on POST {path} (HTTP {status}): "
                f"{_message(response)}",
                status=status,
                reason=f"http_{status}",
            )
        _raise_for_status(path, response)
        return response

    def _post_with_jwt(
        self,
        session_id: str,
        path: str,
        body: bytes,
        deadline: float,
        *,
        encoding: str | None = None,
    ) -> httpx.Response:
        """Send with the session's JWT; on a 401 refresh it once and send again."""
        jwt = self._usable_jwt(session_id, deadline)
        response = self._send(path, body, _bearer(jwt, encoding), deadline)
        if response.status_code == 401:
            # Usually "Expired Token"; any 401 means this token no longer works.
            jwt = self.reauthorize(session_id, stale_jwt=jwt, deadline=deadline)
            response = self._send(path, body, _bearer(jwt, encoding), deadline)
        _raise_for_status(path, response)
        return response

    def _usable_jwt(self, session_id: str, deadline: float) -> str:
        """The session's JWT, refreshed first if it expires within ``REFRESH_MARGIN``."""
        token = self._tokens.get(session_id)
        if token is None:
            raise FatalApiError(
                f"no token for session {session_id}: it was not created (or was forgotten)",
                status=None,
                reason="no_jwt",
            )
        if token.refresh_at is None or time.time() < token.refresh_at:
            return token.jwt
        try:
            return self.reauthorize(session_id, stale_jwt=token.jwt, deadline=deadline)
        except FatalApiError as exc:
            # The old token still works for a while (or the server does not refresh);
            # a 401 on the request itself makes the refresh decisive.
            logger.debug("early refresh of session %s failed: %s", session_id, exc)
            return token.jwt

    def _send(
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
                return self._attempt(path, body, headers, deadline)
            except _CutShort as failure:
                # Report what went wrong before the deadline, not the deadline itself.
                raise _gave_up(previous or failure, attempt + 1) from failure
            except RetryableApiError as failure:
                previous = failure
                self._wait_before_retry(failure, attempt, deadline)
            attempt += 1

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
        try:
            response = self._http().post(path, content=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            if timeout < self._config.request_timeout and not self._closed.is_set():
                raise _CutShort(
                    f"POST {path}: no answer before the retry deadline",
                    status=None,
                    reason="timeout",
                ) from exc
            raise self._transport_failure(path, exc) from exc
        except httpx.TransportError as exc:
            raise self._transport_failure(path, exc) from exc
        except RuntimeError as exc:
            # httpx refuses to send on a client that close() shut in the meantime.
            if self._closed.is_set():
                raise _closed_error() from exc
            raise
        if self._policy.is_retryable(response.status_code):
            raise _retryable_status(path, response)
        return response

    def _transport_failure(self, path: str, exc: httpx.TransportError) -> Exception:
        """Classify a failure to get an answer: retryable, or not worth retrying."""
        import httpx  # lazily, see _http()

        if self._closed.is_set():
            return _closed_error()  # close() shut the pool under an in-flight request
        if isinstance(exc, httpx.TimeoutException):
            reason = "timeout"
        elif isinstance(exc, httpx.ConnectError | httpx.ProxyError):
            reason = "connect"
        elif isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
            reason = "network"  # reset or closed by the peer before a full answer
        else:  # UnsupportedProtocol, LocalProtocolError: our request itself is wrong
            return FatalApiError(f"POST {path} failed: {exc!r}", status=None, reason="transport")
        return RetryableApiError(
            f"POST {path} failed ({reason}): {exc!r}", status=None, reason=reason
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
            raise _closed_error() from failure

    def _http(self) -> httpx.Client:
        """The pooled client, created on first use (``import agentwatch`` opens nothing)."""
        # httpx takes ~45 ms to import, a third of `import agentwatch`: load it with the
        # first request instead.
        import httpx

        with self._lock:
            if self._closed.is_set():
                raise _closed_error()
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

    # -- tokens --------------------------------------------------------------------------

    def _store(self, session_id: str, jwt: str) -> None:
        with self._lock:
            self._tokens[session_id] = _Token(jwt, _refresh_time(jwt, time.time()))

    def _refresh_lock(self, session_id: str) -> threading.Lock:
        with self._lock:
            return self._refresh_locks.setdefault(session_id, threading.Lock())


class _CutShort(RetryableApiError):
    """An attempt ended by the retry deadline rather than by the server or the network."""


def _retryable_status(path: str, response: httpx.Response) -> RetryableApiError:
    status = response.status_code
    return RetryableApiError(
        f"POST {path} answered HTTP {status}: {_message(response)}",
        status=status,
        reason=f"http_{status}",
        retry_after=parse_retry_after(
            response.headers.get("Retry-After"), now=datetime.now(timezone.utc)
        ),
    )


def _gave_up(failure: RetryableApiError, attempts: int) -> RetryableApiError:
    return RetryableApiError(
        f"{failure} (gave up after {attempts} attempt(s): retry deadline)",
        status=failure.status,
        reason=failure.reason,
        retry_after=failure.retry_after,
    )


def _bearer(jwt: str, encoding: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {jwt}"}
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    return headers


def _refresh_time(jwt: str, now: float) -> float | None:
    """When to refresh a token received at ``now``; ``None`` if it has no usable ``exp``.

    The lifetime is measured from receipt on the local clock, so a skewed clock cannot
    make a fresh token look due (which would refresh before every request).
    """
    exp = _expiry(jwt)
    if exp is None or exp <= now:
        return None
    return exp - min(REFRESH_MARGIN, (exp - now) * _REFRESH_FRACTION)


def _expiry(jwt: str) -> float | None:
    """The ``exp`` claim of a JWT, read without checking the signature (not ours to check)."""
    parts = jwt.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:  # covers binascii.Error and orjson.JSONDecodeError
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        return float(exp)
    return None


def _lock_timeout(deadline: float) -> float:
    return min(max(deadline - time.monotonic(), 0.0), threading.TIMEOUT_MAX)


def _encode(payload: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:  # orjson.JSONEncodeError
        raise FatalApiError(
            f"could not encode the request body: {exc}", status=None, reason="unencodable"
        ) from exc


def _raise_for_status(path: str, response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    raise FatalApiError(
        f"POST {path} answered HTTP {status}: {_message(response)}",
        status=status,
        reason=f"http_{status}",
    )


def _message(response: httpx.Response) -> str:
    """The server's explanation: ``message`` of the v2 error body (``detail`` for FastAPI)."""
    try:
        body = orjson.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            if body.get(key):
                return str(body[key])[:500]
    text = response.text.strip()[:500]
    return text or response.reason_phrase


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise FatalApiError(
            f"POST {response.request.url.path} answered HTTP {response.status_code} "
            "with a body that is not a JSON object",
            status=response.status_code,
            reason="bad_response",
        )
    return body


def _jwt_in(response: httpx.Response) -> tuple[str, dict[str, Any]]:
    """The ``jwt`` of a create_session / reauthorize_jwt answer, and the whole answer."""
    answer = _json_object(response)
    jwt = answer.get("jwt")
    if not isinstance(jwt, str) or not jwt:
        raise FatalApiError(
            f"POST {response.request.url.path} answered without a jwt",
            status=response.status_code,
            reason="bad_response",
        )
    return jwt, answer


def _token_cost(response: httpx.Response) -> Decimal | None:
    try:
        body = orjson.loads(response.content)
    except ValueError:
        return None
    value = body.get("token_cost") if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    from decimal import Decimal, InvalidOperation  # lazily: import time

    try:
        cost = Decimal(str(value))
    except InvalidOperation:  # "unknown"
        return None
    return cost if cost.is_finite() else None


def _closed_error() -> RetryableApiError:
    return RetryableApiError("the API client is closed", status=None, reason="closed")


@lru_cache(maxsize=1)
def _user_agent() -> str:
    return f"agentwatch-python/{sdk_version()}"
