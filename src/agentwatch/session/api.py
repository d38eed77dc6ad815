"""``SessionApiClient``: the AgentOps v2 requests (``PROTOCOL.md``), over HTTP.

The exporter's transport (:class:`~agentwatch.telemetry.transport.SessionTransport`).
It encodes each request, authenticates it (the project API key, or the session's JWT
from its :class:`TokenStore`, refreshed through ``/v2/reauthorize_jwt`` once per
expiry), sends it with a :class:`RetryingPoster` (through the :class:`GzipFallback` for
event batches) and reads the answer (:mod:`agentwatch.session.answers`). Every failure
is an :class:`~agentwatch.exceptions.ApiError`: retryable ones were retried until the
deadline first. Retrying a POST is safe because the server stores an event id once and
re-attaches a session created twice.

Calls block (they are made from the export pipeline, never from ``record()``) and are
thread-safe. Neither the API key nor a JWT is ever logged or put in an exception message.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from agentwatch.config import Config
from agentwatch.exceptions import FatalApiError
from agentwatch.session import answers
from agentwatch.session.compression import GzipFallback
from agentwatch.session.poster import RetryingPoster, closed_error
from agentwatch.session.tokens import TokenStore
from agentwatch.telemetry.retry import RetryPolicy
from agentwatch.telemetry.transport import CreatedSession

if TYPE_CHECKING:
    from decimal import Decimal

    import httpx

__all__ = ["CreatedSession", "SessionApiClient"]

logger = logging.getLogger(__name__)

_KEY_REFUSED_STATUSES = frozenset({400, 401, 403})


class SessionApiClient:
    """Sends v2 requests for many sessions through one pooled connection.

    ``transport`` replaces the network (tests, an in-process server). Every method takes
    an optional ``deadline`` on the ``time.monotonic()`` clock, by default now +
    ``config.retry_deadline``; retryable failures are retried until then.
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
        self._poster = RetryingPoster(
            config,
            transport=transport,
            policy=policy if policy is not None else RetryPolicy.from_config(config),
        )
        # The pooled client is built here too, not by the first request: that runs on the
        # export thread, which an agent recording in a tight loop leaves only the GIL's
        # forced switches (every 5 ms). Loading the CA bundle (~20 ms) took 0.4 s there,
        # and no event left during a whole 50,000-event burst.
        self._poster.prepare()
        self._tokens = TokenStore()
        self._gzip = GzipFallback(config.compression == "gzip")
        self._pid = os.getpid()

    # -- the v2 requests -------------------------------------------------------------------

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
        response = self._post_with_api_key("/v2/create_session", body, deadline)
        jwt, answer = answers.jwt_in(response)
        self._tokens.store(session_id, jwt)
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
        return answers.token_cost(response)

    def create_events(
        self, session_id: str, events: Sequence[bytes], *, deadline: float | None = None
    ) -> None:
        """POST ``/v2/create_events`` (JWT). Each item is one event, already JSON-encoded.

        The items are joined into the body as they are (no re-encoding), gzipped when the
        ``compression`` setting says so and the body is over 1 KB. Nothing is sent for an
        empty sequence. A 413 raises :class:`FatalApiError` with ``status=413``:
        splitting the batch is the caller's decision.
        """
        deadline = self._begin(deadline)
        if not events:
            return
        body = b'{"events":[' + b",".join(events) + b"]}"

        def post(content: bytes, encoding: str | None) -> httpx.Response:
            return self._post_with_jwt(
                session_id, "/v2/create_events", content, deadline, encoding=encoding
            )

        self._gzip.send(body, post)

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

        Single-flight per session (see :class:`TokenStore`). Blocks up to ``deadline``.
        """
        at = self._begin(deadline)

        def fetch() -> str:
            body = _encode({"session_id": session_id})
            jwt, _ = answers.jwt_in(self._post_with_api_key("/v2/reauthorize_jwt", body, at))
            logger.debug("refreshed the token of session %s", session_id)
            return jwt

        return self._tokens.refresh(session_id, stale_jwt, fetch, at)

    # -- state -------------------------------------------------------------------------------

    def jwt_for(self, session_id: str) -> str | None:
        """The stored JWT of ``session_id``, or ``None``."""
        return self._tokens.jwt_for(session_id)

    def forget(self, session_id: str) -> None:
        """Drop what is held for a finished session (its JWT)."""
        self._tokens.forget(session_id)

    def problem(self) -> str | None:
        """Why requests are not getting through right now, or None."""
        return self._poster.problem()

    def close(self) -> None:
        """Interrupt any backoff wait immediately and close the connection pool.

        Idempotent. Calls in progress and later calls raise
        ``RetryableApiError(reason="closed")``. An injected ``transport`` is left open: it
        belongs to the caller, who may share it between clients.
        """
        self._poster.close()

    # -- authentication ----------------------------------------------------------------------

    def _begin(self, deadline: float | None) -> float:
        if self._poster.closed:
            raise closed_error()
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._poster.reset_after_fork()
            self._tokens.reset_after_fork()
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
        response = self._poster.post(path, body, headers, deadline)
        status = response.status_code
        if status in _KEY_REFUSED_STATUSES:
            raise FatalApiError(
                f"the server refused the API key on POST {path} (HTTP {status}): "
                f"{answers.message(response)}",
                status=status,
                reason=f"http_{status}",
            )
        answers.raise_for_status(path, response)
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
        response = self._poster.post(path, body, _bearer(jwt, encoding), deadline)
        if response.status_code == 401:
            # Usually "Expired Token"; any 401 means this token no longer works.
            jwt = self.reauthorize(session_id, stale_jwt=jwt, deadline=deadline)
            response = self._poster.post(path, body, _bearer(jwt, encoding), deadline)
        answers.raise_for_status(path, response)
        return response

    def _usable_jwt(self, session_id: str, deadline: float) -> str:
        """The session's JWT, refreshed first if it is due (see ``REFRESH_MARGIN``)."""
        token = self._tokens.get(session_id)
        if token is None:
            raise FatalApiError(
                f"no token for session {session_id}: it was not created (or was forgotten)",
                status=None,
                reason="no_jwt",
            )
        if not token.due(time.time()):
            return token.jwt
        try:
            return self.reauthorize(session_id, stale_jwt=token.jwt, deadline=deadline)
        except FatalApiError as exc:
            # The old token still works for a while (or the server does not refresh);
            # a 401 on the request itself makes the refresh decisive.
            logger.debug("early refresh of session %s failed: %s", session_id, exc)
            return token.jwt


def _bearer(jwt: str, encoding: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {jwt}"}
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    return headers


def _encode(payload: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:  # orjson.JSONEncodeError
        raise FatalApiError(
            f"could not encode the request body: {exc}", status=None, reason="unencodable"
        ) from exc
