"""``Client``: settings, the HTTP client and the export pipeline shared by its sessions.

Three lines instrument an agent::

    client = Client(api_key="...")
    session = client.start_session(tags=["test"])
    session.end_session("Success")
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentwatch import exit as exit_hooks
from agentwatch.config import Config
from agentwatch.events import EndState, Event, Parent
from agentwatch.exceptions import ConfigurationError, SessionStateError
from agentwatch.session import sessions
from agentwatch.session.api import SessionApiClient
from agentwatch.session.manager import SessionManager
from agentwatch.session.session import Session
from agentwatch.session.state import SessionState
from agentwatch.session.telemetry import SessionTelemetry

if TYPE_CHECKING:
    from decimal import Decimal

    import httpx
    from opentelemetry.sdk.trace import SpanProcessor

    from agentwatch.session.poster import RetryingPoster
    from agentwatch.session.registry import Registry
    from agentwatch.telemetry.appspans import AppSpans

__all__ = ["Client"]

logger = logging.getLogger("agentwatch")


class Client:
    """Entry point of the SDK. Independent clients may coexist; ``agentwatch.init()``
    makes the default one used by the module-level functions.

    Every keyword is a setting (see ``agentwatch.config.SETTINGS`` and the README):
    an argument wins over its ``AGENTWATCH_*`` variable, which wins over the default.
    ``transport`` replaces the HTTP transport (tests); ``span_processors`` receive every
    event span too (e.g. an OTLP exporter's processor).

    Raises :class:`ConfigurationError` when a setting is invalid or no API key is given.
    """

    def __init__(
        self,
        api_key: str | None = None,
        endpoint: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        span_processors: Sequence[SpanProcessor] = (),
        **settings: Any,
    ) -> None:
        self.config = Config.load(api_key=api_key, endpoint=endpoint, **settings)
        if self.config.api_key is None:
            raise ConfigurationError(
                "no API key: pass api_key=... or set AGENTWATCH_API_KEY "
                "(`agentwatch serve` prints one on first start; `agentwatch keys create` makes more)"
            )
        _configure_logging(self.config.log_level)
        self.registry = sessions
        self.api = SessionApiClient(self.config, transport=transport)
        self.telemetry = SessionTelemetry(
            self.config,
            self.api,
            span_processors=span_processors,
            span_poster=_span_poster(self.config, transport),
        )
        if self.telemetry.app_spans is not None:
            _capture_otel_spans(self.registry)
        self._closed = False
        exit_hooks.register(self, handle_signals=self.config.handle_signals)
        if self.config.instrument_llm_calls:
            # Patches openai/anthropic if imported, else when they are; imports neither.
            from agentwatch import instrumentation

            instrumentation.instrument()
        if self.config.auto_start_session:
            self.start_session()

    # -- sessions --------------------------------------------------------------------------

    def start_session(
        self,
        tags: Sequence[str] | str | None = None,
        inherited_session_id: str | uuid.UUID | None = None,
    ) -> Session:
        """Start a session, make it current in the calling context and return it.

        Does not wait for the server: the session is created by the export worker
        before its first events are sent. ``inherited_session_id`` continues a session
        started elsewhere (another process) under the same id.
        """
        if self._closed:
            raise SessionStateError("this Client has been shut down; create a new one")
        state = SessionState(
            _session_id(inherited_session_id),
            tags=list(dict.fromkeys([*self.config.default_tags, *_tags(tags)])),
        )
        manager = SessionManager(
            state, config=self.config, telemetry=self.telemetry, registry=self.registry
        )
        session = Session(manager)
        manager.start(session)
        self.registry.set_current(session)
        return session

    def end_session(
        self,
        end_state: str | EndState = EndState.INDETERMINATE,
        end_state_reason: str | None = None,
        video: str | None = None,
        is_auto_end: bool = False,
    ) -> Decimal | None:
        """End the current session (see :meth:`Session.end_session`).

        ``is_auto_end=True`` calls (made by frameworks such as CrewAI) are ignored when
        the ``skip_auto_end_session`` setting is on.
        """
        if is_auto_end and self.config.skip_auto_end_session:
            return None
        return self._current("end_session").end_session(end_state, end_state_reason, video)

    def record(self, event: Event, *, parent: Parent | None = None) -> None:
        """Record ``event`` in the current session (warns and counts if there is none);
        ``parent`` as for :meth:`Session.record`."""
        session = self.current_session
        if session is None:
            _warn_no_session("record")
            self.telemetry.drops.add("no_session")
            return
        session.record(event, parent=parent)

    def add_tags(self, tags: Sequence[str] | str) -> None:
        self._current("add_tags").add_tags(list(_tags(tags)))

    def set_tags(self, tags: Sequence[str] | str) -> None:
        self._current("set_tags").set_tags(list(_tags(tags)))

    def create_agent(self, name: str, agent_id: str | None = None) -> str:
        """Register an agent in the current session and return its id."""
        return self._current("create_agent").create_agent(name, agent_id)

    def get_analytics(self) -> dict[str, Any]:
        return self._current("get_analytics").get_analytics()

    @property
    def current_session(self) -> Session | None:
        """This client's session current in the calling context (see :class:`Registry`)."""
        session = self.registry.current()
        if session is not None and session.manager.telemetry is self.telemetry:
            return session
        mine = self.active_sessions
        return mine[0] if len(mine) == 1 else None

    @property
    def active_sessions(self) -> list[Session]:
        return [s for s in self.registry.active() if s.manager.telemetry is self.telemetry]

    # -- delivery --------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every event recorded so far is delivered; False on timeout."""
        return self.telemetry.flush(self.config.shutdown_timeout if timeout is None else timeout)

    @property
    def dropped(self) -> dict[str, int]:
        """Events that could not be delivered, by reason (empty when nothing was lost).

        Counted when given up on, so exact at any moment: every event recorded is
        delivered, in here, or :attr:`pending`. With ``otlp_endpoint`` set, the reasons
        starting ``otlp_`` count the events whose GenAI span the collector did not get,
        apart from (and in addition to) the agentwatch delivery's.
        """
        return self.telemetry.drops.snapshot()

    @property
    def pending(self) -> int:
        """Events recorded but neither delivered nor dropped yet (queued or in flight)."""
        return self.telemetry.pending()

    def end_all_sessions(
        self,
        end_state: str | EndState = EndState.INDETERMINATE,
        reason: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """End every running session of this client, then flush within ``timeout``."""
        for session in self.active_sessions:
            session.manager.end(end_state, reason, timeout=0)
        self.flush(timeout)

    def shutdown(self, timeout: float | None = None, *, reason: str | None = None) -> None:
        """End running sessions (``Indeterminate``), flush within ``timeout``, stop the worker."""
        if self._closed:
            return
        self._closed = True
        for session in self.active_sessions:
            session.manager.end(EndState.INDETERMINATE, reason or "client shut down", timeout=0)
        total = self.config.shutdown_timeout if timeout is None else timeout
        self.telemetry.shutdown(total)
        exit_hooks.unregister(self)

    def _current(self, operation: str) -> Session:
        session = self.current_session
        if session is None:
            count = len(self.active_sessions)
            raise SessionStateError(
                f"{operation}: no current session"
                + (f" ({count} are running; call it on the session object)" if count else "")
            )
        return session


def _span_poster(config: Config, transport: httpx.BaseTransport | None) -> RetryingPoster | None:
    """The poster of the application's captured spans, when the setting asks for them."""
    if not config.capture_otel_spans:
        return None
    from agentwatch.session.poster import RetryingPoster
    from agentwatch.telemetry.retry import RetryPolicy

    return RetryingPoster(config, transport=transport, policy=RetryPolicy.from_config(config))


def _capture_otel_spans(registry: Registry[Session]) -> None:
    """Put the span-capturing processor on the global tracer provider (once per process;
    see :mod:`agentwatch.telemetry.capture` for which provider and why)."""
    try:
        from agentwatch.telemetry import capture

        logger.debug("OpenTelemetry spans: %s", capture.install(registry, _span_sink))
    except Exception:  # the application's tracing must never break because of us
        logger.exception("could not capture the application's OpenTelemetry spans")


def _span_sink(session: Session) -> AppSpans | None:
    """Where ``session``'s captured spans go: its client's pipeline, while it runs."""
    spans = session.manager.telemetry.app_spans
    return None if spans is None or spans.closed else spans


def _session_id(inherited: str | uuid.UUID | None) -> str:
    if inherited is None:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(str(inherited)))
    except ValueError:
        raise ConfigurationError(
            f"inherited_session_id={inherited!r} is not valid; accepted: a session id (UUID)"
        ) from None


def _tags(tags: Sequence[str] | str | None) -> tuple[str, ...]:
    if tags is None:
        return ()
    if isinstance(tags, str):
        return (tags,)
    if not all(isinstance(t, str) for t in tags):
        raise ConfigurationError(f"tags={tags!r} is not valid; accepted: a list of strings")
    return tuple(tags)


_no_session_warned: set[str] = set()


def _warn_no_session(operation: str) -> None:
    if operation not in _no_session_warned:
        _no_session_warned.add(operation)
        logger.warning("%s: no current session; start one with start_session()", operation)


def _configure_logging(level: str) -> None:
    """Show the SDK's lines (session URL, stats) even where logging is not configured.

    Where the application (or pytest) has configured logging, records propagate to its
    handlers and nothing is changed; otherwise one stderr handler is added, once.
    """
    logger.setLevel(level)
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("agentwatch: %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
