"""``SessionManager``: the lifecycle, state changes, event counts and analytics of one session.

Everything here runs on the caller's thread and does no network I/O. The seed's
``M->>A: create_session()`` still holds, one hop later: calls to the API are queued on
the client's :class:`SessionTelemetry` and made by its export worker, in order with the
session's events, so that ``start_session()`` never waits for the server. Their answers
come back as futures (the session URL, the token cost); only ``end`` (and
``analytics``) wait for one, for at most the configured timeout.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agentwatch.events import AgentEvent, EndState, Event, EventType, Parent, now_iso, parent_id_of
from agentwatch.exceptions import ApiError, SessionStateError
from agentwatch.session.registry import AgentInfo, Registered, Registry

if TYPE_CHECKING:
    from decimal import Decimal

    from agentwatch.config import Config
    from agentwatch.session.state import SessionState
    from agentwatch.session.telemetry import SessionTelemetry

__all__ = ["SessionManager"]

logger = logging.getLogger("agentwatch")

_COUNTED = tuple(t.value for t in EventType)


class SessionManager:
    """Runs one session, whose :class:`SessionState` it keeps. Thread-safe; the lock is
    reentrant because a signal handler may end the session while the interrupted code
    holds it."""

    def __init__(
        self,
        state: SessionState,
        *,
        config: Config,
        telemetry: SessionTelemetry,
        registry: Registry[Any],
    ) -> None:
        self.state = state
        self.config = config
        self.telemetry = telemetry
        self.registry = registry
        self._lock = threading.RLock()
        self._counts: dict[str, int] = dict.fromkeys(_COUNTED, 0)
        self._agents: set[str] = set()
        # The tracked agents seen in this session: (agent id, info, first seen), whose
        # spans are recorded when the session ends.
        self._agent_spans: list[tuple[str, AgentInfo, str]] = []
        self._warned_ended = False
        self._created: Future[str | None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, session: Registered) -> None:
        """Register ``session`` (this manager's public face) and queue its creation on
        the server. Does not block: the URL is logged as pending until the server confirms."""
        state = self.state
        self.registry.add(session)
        with self._lock:
            self._created = self.telemetry.create_session(state.session_id, self._body())
        logger.info(
            "Session Replay: %s (pending until %s confirms the session)",
            self.session_url,
            self.config.endpoint,
        )
        self._created.add_done_callback(_log_confirmed)

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
        state_value = EndState.parse(end_state)
        state = self.state
        with self._lock:
            if not state.is_running:
                return state.token_cost
            state.end_timestamp = now_iso()
            self._record_agent_spans(state.end_timestamp)
            state.is_running = False
            state.end_state = state_value.value
            state.end_state_reason = end_state_reason
            if video is not None:
                state.video = video
            result = self.telemetry.update_session(state.session_id, self._body(), final=True)
        self.registry.remove(state.session_id)
        wait = self.config.shutdown_timeout if timeout is None else timeout
        delivered = self.telemetry.flush(wait)
        cost = self._cost(result, 0.0)
        logger.info("%s", self.stats_line(delivered))
        return cost

    # -- recording -------------------------------------------------------------------------

    def record_event(self, event: Event, parent: Parent | None = None) -> None:
        """Count and queue ``event`` under its parent. No I/O; never raises for the
        server's sake.

        The parent is ``parent`` if given, else ``event.parent_id``, else the span open in
        this context for this session. Raises ``TypeError`` if ``event`` is not an
        :class:`Event` or ``parent`` not an event or id (programming errors).
        """
        if not isinstance(event, Event):
            raise TypeError(
                "record() takes an Event (ActionEvent, ToolEvent, LLMEvent, ErrorEvent), "
                f"not {type(event).__name__}"
            )
        parent_id = None if parent is None else parent_id_of(parent)
        state = self.state
        if not state.is_running:
            self._warn_ended()
            self.telemetry.drops.add("session_ended")  # after its last update: not reportable
            return
        if event.end_timestamp is None:
            event.end_timestamp = now_iso()
        self._place(event, parent_id)
        agent_id = event.agent_id
        with self._lock:
            if agent_id is not None and agent_id not in self._agents:
                self._register_agent(str(agent_id))
            kind = event.event_type
            self._counts[kind] = self._counts.get(kind, 0) + 1
        self._queue(event)

    def _place(self, event: Event, parent_id: str | uuid.UUID | None) -> None:
        """Set the event's parent and agent from the running context where not given."""
        if parent_id is not None:
            event.parent_id = parent_id
        registry = self.registry
        scope = registry.scope()
        if event.parent_id is None and (scope is not None or registry.otel is not None):
            event.parent_id = registry.parent_for(self.state.session_id)
        if scope is not None and event.agent_id is None:
            event.agent_id = scope.agent_id
        if event.parent_id is not None and event.parent_id == event.id:
            event.parent_id = None  # a span's own event recorded inside its block

    def _queue(self, event: Event) -> None:
        try:
            self.telemetry.record_event(self.state.session_id, event)
        except Exception:
            # A bug of ours must not break the agent: log it once, count the event.
            if not self.telemetry.drops.snapshot().get("internal_error"):
                logger.exception("internal error while recording an event")
            self.telemetry.drops.add("internal_error", session_id=self.state.session_id)

    def create_agent(self, name: str, agent_id: str | None = None) -> str:
        """Register an agent in this session; returns its id (a new UUID if none given)."""
        agent_id = str(agent_id) if agent_id is not None else str(uuid.uuid4())
        known = self.registry.agents.get(agent_id)
        if known is None:
            self.registry.agents[agent_id] = AgentInfo(name)
        else:
            known.name = name
        with self._lock:
            if agent_id in self._agents:  # known here already: a new display name
                self.telemetry.create_agent(self.state.session_id, agent_id, name)
            else:
                self._register_agent(agent_id)
        return agent_id

    def _register_agent(self, agent_id: str) -> None:
        """First sight of ``agent_id`` in this session: register it, note its span."""
        self._agents.add(agent_id)
        info = self.registry.agents.get(agent_id)
        name = "agent" if info is None else info.name
        self.telemetry.create_agent(self.state.session_id, agent_id, name)
        if info is not None and info.span_id is not None:
            self._agent_spans.append((agent_id, info, now_iso()))

    def _record_agent_spans(self, end: str) -> None:
        """Record the span of every tracked agent seen, from first sight to ``end``."""
        session_id = self.state.session_id
        for agent_id, info, seen in self._agent_spans:
            assert info.span_id is not None
            created_in = info.created_in
            parent = None if created_in is None else created_in.parent_for(session_id)
            span = AgentEvent(
                id=info.span_id,
                agent_id=agent_id,
                name=info.name,
                parent_id=parent,
                init_timestamp=seen,
                end_timestamp=end,
            )
            self._counts[span.event_type] += 1
            self._queue(span)
        self._agent_spans.clear()

    # -- tags ------------------------------------------------------------------------------

    def add_tags(self, tags: list[str] | str) -> None:
        with self._lock:
            self._require_running("add_tags")
            current = self.state.tags
            for tag in _tag_list(tags):
                if tag not in current:
                    current.append(tag)
            self._queue_update()

    def set_tags(self, tags: list[str] | str) -> None:
        with self._lock:
            self._require_running("set_tags")
            self.state.tags = list(dict.fromkeys(_tag_list(tags)))
            self._queue_update()

    def _queue_update(self, *, urgent: bool = False) -> Future[Decimal | None]:
        result = self.telemetry.update_session(self.state.session_id, self._body(), urgent=urgent)
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
        state = self.state
        if state.is_running:
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
            "Cost": _format_cost(state.token_cost),
            "Dropped": self.telemetry.drops.total,
        }

    def duration(self) -> float:
        state = self.state
        end = state.end_timestamp or now_iso()
        return (_parse(end) - _parse(state.init_timestamp)).total_seconds()

    def stats_line(self, delivered: bool = True) -> str:
        """The line logged when the session ends; ``delivered=False`` adds what is still
        pending (the client's events not yet delivered nor dropped) and why."""
        counts = self.event_counts
        cost = _format_cost(self.state.token_cost)
        parts = [
            f"Duration: {_format_duration(self.duration())}",
            f"Cost: {'$' + cost if cost != 'unknown' else 'unknown'}",
            f"LLMs: {counts['llms']}",
            f"Tools: {counts['tools']}",
            f"Actions: {counts['actions']}",
            f"Errors: {counts['errors']}",
        ]
        drops = self.telemetry.drops
        if drops.total:
            parts.append(f"Dropped: {drops.total} ({drops.snapshot()})")
        line = "Session Stats - " + " | ".join(parts)
        if not delivered:
            line += f" (still delivering in the background: {self.telemetry.pending()} pending"
            problem = self.telemetry.delivery_problem()
            line += f"; {problem})" if problem else ")"
        return line

    @property
    def session_url(self) -> str:
        """The URL the server answered, once it has; until then where it is expected."""
        created = self._created
        if created is not None and created.done() and created.exception() is None:
            url = created.result()
            if url:
                return url
        return f"{self.config.endpoint}/sessions/{self.state.session_id}"

    # -- internals -------------------------------------------------------------------------

    def _cost(self, result: Future[Decimal | None], timeout: float) -> Decimal | None:
        state = self.state
        try:
            cost = result.result(timeout=timeout)
        except FutureTimeout:
            return state.token_cost
        except ApiError as exc:
            logger.warning("could not update session %s: %s", state.session_id, exc)
            return state.token_cost
        state.token_cost = cost
        return cost

    def _remember_cost(self, result: Future[Decimal | None]) -> None:
        if result.exception() is None:
            self.state.token_cost = result.result()

    def _body(self) -> dict[str, Any]:
        return self.state.body(dict(self._counts))

    def _require_running(self, operation: str) -> None:
        if not self.state.is_running:
            raise SessionStateError(
                f"{operation}: session {self.state.session_id} has ended; start a new session"
            )

    def _warn_ended(self) -> None:
        if not self._warned_ended:
            self._warned_ended = True
            logger.warning(
                "session %s has ended; events recorded into it are dropped",
                self.state.session_id,
            )


def _log_confirmed(created: Future[str | None]) -> None:
    """Runs on the export worker when the server has answered ``create_session``."""
    if created.exception() is None and created.result():
        logger.info("Session Replay: %s", created.result())


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
