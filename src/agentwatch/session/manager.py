"""``SessionManager``: the lifecycle, state changes, event counts and analytics of one session.

Everything here runs on the caller's thread and does no network I/O. The seed's
``M->>A: create_session()`` still holds, one hop later: calls to the
:class:`SessionApiClient` are queued on the client's :class:`SessionTelemetry` and made
by its export worker, in order with the session's events, so that ``start_session()``
never waits for the server. Only ``end`` (and ``analytics``) wait, for at most the configured timeout, for the
server's answer.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agentwatch.events import EndState, Event, EventType, now_iso
from agentwatch.exceptions import ApiError, SessionStateError
from agentwatch.session.registry import Registry

if TYPE_CHECKING:
    from decimal import Decimal

    from agentwatch.config import Config
    from agentwatch.session.session import Session
    from agentwatch.session.telemetry import SessionTelemetry

__all__ = ["SessionManager"]

logger = logging.getLogger("agentwatch")

_COUNTED = tuple(t.value for t in EventType)


class SessionManager:
    """Runs one :class:`Session`. Thread-safe; the lock is reentrant because a signal
    handler may end the session while the interrupted code holds it."""

    def __init__(
        self,
        session: Session,
        *,
        config: Config,
        telemetry: SessionTelemetry,
        registry: Registry,
    ) -> None:
        self._session = session
        self.config = config
        self.telemetry = telemetry
        self._registry = registry
        self._lock = threading.RLock()
        self._counts: dict[str, int] = dict.fromkeys(_COUNTED, 0)
        self._agents: set[str] = set()
        self._warned_ended = False
        #: The dashboard URL the server answered to create_session (set by the exporter).
        self.server_url: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Register the session and queue its creation on the server. Does not block."""
        session = self._session
        self._registry.add(session)
        self.telemetry.create_session(session.session_id, self._body())
        logger.info("Session Replay: %s", self.session_url)

    def end(
        self,
        end_state: str | EndState,
        end_state_reason: str | None = None,
        video: str | None = None,
        timeout: float | None = None,
    ) -> Decimal | None:
        """End the session, flush its events within ``timeout`` and return its token cost.

        Returns None when the server's answer did not arrive in time (delivery goes on in
        the background). Ending twice is a no-op that returns the known cost.
        """
        state = EndState.parse(end_state)
        session = self._session
        with self._lock:
            if not session.is_running:
                return session.token_cost
            session.is_running = False
            session.end_state = state.value
            session.end_state_reason = end_state_reason
            session.end_timestamp = now_iso()
            if video is not None:
                session.video = video
            result = self.telemetry.update_session(session.session_id, self._body(), final=True)
        self._registry.remove(session)
        wait = self.config.shutdown_timeout if timeout is None else timeout
        delivered = self.telemetry.flush(wait)
        cost = self._cost(result, 0.0)
        logger.info("%s", self.stats_line(delivered))
        return cost

    # -- recording -------------------------------------------------------------------------

    def record_event(self, event: Event) -> None:
        """Count and queue ``event``. No I/O; never raises for the server's sake.

        Raises ``TypeError`` if ``event`` is not an :class:`Event` (a programming error).
        """
        if not isinstance(event, Event):
            raise TypeError(
                "record() takes an Event (ActionEvent, ToolEvent, LLMEvent, ErrorEvent), "
                f"not {type(event).__name__}"
            )
        session = self._session
        if not session.is_running:
            self._warn_ended()
            self.telemetry.drops.add("session_ended")  # after its last update: not reportable
            return
        if event.end_timestamp is None:
            event.end_timestamp = now_iso()
        agent_id = event.agent_id
        if agent_id is None:
            agent_id = event.agent_id = self._registry.current_agent()
        with self._lock:
            if agent_id is not None and agent_id not in self._agents:
                self._register_agent(str(agent_id))
            kind = event.event_type
            self._counts[kind] = self._counts.get(kind, 0) + 1
        try:
            self.telemetry.record_event(session.session_id, event)
        except Exception:
            # A bug of ours must not break the agent: log it once, count the event.
            if not self.telemetry.drops.snapshot().get("internal_error"):
                logger.exception("internal error while recording an event")
            self.telemetry.drops.add("internal_error", session_id=session.session_id)

    def create_agent(self, name: str, agent_id: str | None = None) -> str:
        """Register an agent in this session; returns its id (a new UUID if none given)."""
        agent_id = str(agent_id) if agent_id is not None else str(uuid.uuid4())
        self._registry.agent_names[agent_id] = name
        with self._lock:
            self._register_agent(agent_id)
        return agent_id

    def _register_agent(self, agent_id: str) -> None:
        self._agents.add(agent_id)
        name = self._registry.agent_names.get(agent_id, "agent")
        self.telemetry.create_agent(self._session.session_id, agent_id, name)

    # -- tags ------------------------------------------------------------------------------

    def add_tags(self, tags: list[str] | str) -> None:
        with self._lock:
            self._require_running("add_tags")
            current = self._session.tags
            for tag in _tag_list(tags):
                if tag not in current:
                    current.append(tag)
            self._queue_update()

    def set_tags(self, tags: list[str] | str) -> None:
        with self._lock:
            self._require_running("set_tags")
            self._session.tags = list(dict.fromkeys(_tag_list(tags)))
            self._queue_update()

    def _queue_update(self, *, urgent: bool = False) -> Future[Decimal | None]:
        result = self.telemetry.update_session(
            self._session.session_id, self._body(), urgent=urgent
        )
        result.add_done_callback(self._remember_cost)
        return result

    # -- analytics -------------------------------------------------------------------------

    @property
    def event_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def analytics(self, timeout: float | None = None) -> dict[str, Any]:
        """Counts, duration and cost. While running, asks the server for the current cost
        and waits up to ``timeout`` (default: the shutdown timeout) for it."""
        session = self._session
        if session.is_running:
            with self._lock:
                result = self._queue_update(urgent=True)
            wait = self.config.shutdown_timeout if timeout is None else timeout
            self._cost(result, wait)
        counts = self.event_counts
        return {
            "LLM calls": counts["llms"],
            "Tool calls": counts["tools"],
            "Actions": counts["actions"],
            "Errors": counts["errors"],
            "Duration": _format_duration(self.duration()),
            "Cost": _format_cost(session.token_cost),
            "Dropped": self.telemetry.drops.total,
        }

    def duration(self) -> float:
        session = self._session
        end = session.end_timestamp or now_iso()
        return (_parse(end) - _parse(session.init_timestamp)).total_seconds()

    def stats_line(self, delivered: bool = True) -> str:
        counts = self.event_counts
        cost = _format_cost(self._session.token_cost)
        parts = [
            f"Duration: {_format_duration(self.duration())}",
            f"Cost: {'$' + cost if cost != 'unknown' else 'unknown'}",
            f"LLMs: {counts['llms']}",
            f"Tools: {counts['tools']}",
            f"Actions: {counts['actions']}",
            f"Errors: {counts['errors']}",
        ]
        dropped = self.telemetry.drops.total
        if dropped:
            parts.append(f"Dropped: {dropped} ({self.telemetry.drops.snapshot()})")
        line = "Session Stats - " + " | ".join(parts)
        if not delivered:
            line += " (still delivering in the background)"
        return line

    @property
    def session_url(self) -> str:
        sid = self._session.session_id
        return self.server_url or f"{self.config.endpoint}/sessions/{sid}"

    # -- internals -------------------------------------------------------------------------

    def _cost(self, result: Future[Decimal | None], timeout: float) -> Decimal | None:
        try:
            cost = result.result(timeout=timeout)
        except FutureTimeout:
            return self._session.token_cost
        except ApiError as exc:
            logger.warning("could not update session %s: %s", self._session.session_id, exc)
            return self._session.token_cost
        self._session.token_cost = cost
        return cost

    def _remember_cost(self, result: Future[Decimal | None]) -> None:
        if result.exception() is None:
            self._session.token_cost = result.result()

    def _body(self) -> dict[str, Any]:
        """The session as ``create_session``/``update_session`` carry it (minus host_env)."""
        s = self._session
        return {
            "session_id": s.session_id,
            "init_timestamp": s.init_timestamp,
            "end_timestamp": s.end_timestamp,
            "tags": list(s.tags),
            "end_state": s.end_state,
            "end_state_reason": s.end_state_reason,
            "video": s.video,
            "event_counts": dict(self._counts),
        }

    def _require_running(self, operation: str) -> None:
        if not self._session.is_running:
            raise SessionStateError(
                f"{operation}: session {self._session.session_id} has ended; start a new session"
            )

    def _warn_ended(self) -> None:
        if not self._warned_ended:
            self._warned_ended = True
            logger.warning(
                "session %s has ended; events recorded into it are dropped",
                self._session.session_id,
            )


def _tag_list(tags: list[str] | str) -> list[str]:
    if isinstance(tags, str):
        return [tags]
    if not all(isinstance(t, str) for t in tags):
        raise TypeError(f"tags must be strings, got {tags!r}")
    return list(tags)


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def _format_duration(seconds: float) -> str:
    hours, rest = divmod(max(seconds, 0.0), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{int(hours)}h"] if hours else []
    if hours or minutes:
        parts.append(f"{int(minutes)}m")
    parts.append(f"{secs:.1f}s")
    return " ".join(parts)


def _format_cost(cost: Decimal | None) -> str:
    if cost is None:
        return "unknown"
    return f"{cost:.6f}" if cost else "0.00"
