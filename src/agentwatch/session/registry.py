"""The registry of running sessions, and what is current in each running context.

"Current" follows :mod:`contextvars`: a session started (or entered with ``with``) in a
thread or an asyncio task is current there and in tasks created from it, so concurrent
sessions never see each other's events. Where no session was made current in the
running context (a worker thread of a pool, say) and exactly one session is running,
that one is current, which is what single-session programs expect.

The same goes for the open *span* (:class:`Scope`): the decorated call, LLM call,
``session.span()`` block or agent method whose code is running. An event recorded
there nests under it. Scopes are pushed and popped like a stack, each knowing the one
it opened in (``outer``), so a copied context (``contextvars.copy_context()``, an
asyncio task, ``asyncio.to_thread``) carries the whole chain with it; a thread started
without a copied context starts with none.

One process-wide registry exists (``agentwatch.session.sessions``): every ``Client``
uses it, and the entry points that have no handle to pass one through (the module-level
functions, the decorators, the patched LLM libraries) read it. The components below
them are given theirs.
"""

from __future__ import annotations

import contextvars
import threading
import uuid
from typing import Generic, Protocol, TypeVar

__all__ = ["AgentInfo", "Origin", "OtelSpans", "Registered", "Registry", "Scope"]


class Registered(Protocol):
    """What the registry needs of a session."""

    @property
    def session_id(self) -> str: ...

    @property
    def is_running(self) -> bool: ...


class OtelSpans(Protocol):
    """The application's OpenTelemetry spans being captured into sessions
    (:class:`agentwatch.telemetry.capture.AppSpanProcessor`), as nesting needs them."""

    def innermost(self, session_id: str) -> str | None:
        """The id of the captured span current here if it is the innermost span open
        (no agentwatch span opened inside it) and of ``session_id``; else None."""

    def current(self) -> tuple[str, str] | None:
        """(session id, id) of the captured span current here if it is the innermost span
        open, whatever its session; else None."""

    def adopt_llm_span(self, event_id: str, session_id: str) -> tuple[bool, str | None]:
        """Our instrumentation starts recording LLM call ``event_id``: (whether the current
        span is the same call, traced by an instrumentor, the parent id the event takes
        from it)."""


S = TypeVar("S", bound=Registered)

SpanId = str | uuid.UUID

# Module-level: a ContextVar is never garbage-collected, so there is one per process,
# whatever the number of registries (tests make their own).
_current_session: contextvars.ContextVar[Registered | None] = contextvars.ContextVar(
    "agentwatch_current_session", default=None
)
_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar(
    "agentwatch_scope", default=None
)


class Scope:
    """An open span in the running context, and the agent its code runs for.

    ``session_id`` is the session the span will be recorded in, or ``None`` for a span
    that belongs in every session (an agent's: its id is the same in each). ``llm``: the
    span is an instrumented LLM call (an OpenTelemetry LLM span started inside it is the
    same call: :mod:`agentwatch.telemetry.capture`).
    """

    __slots__ = ("agent_id", "llm", "outer", "session_id", "span_id")

    def __init__(
        self,
        span_id: SpanId,
        session_id: str | None,
        agent_id: str | None,
        outer: Scope | None,
        llm: bool = False,
    ) -> None:
        self.span_id = span_id
        self.session_id = session_id
        self.agent_id = agent_id
        self.outer = outer
        self.llm = llm

    def parent_for(self, session_id: str) -> SpanId | None:
        """The innermost span of this chain that belongs in ``session_id``, or None."""
        scope: Scope | None = self
        while scope is not None:
            if scope.session_id is None or scope.session_id == session_id:
                return scope.span_id
            scope = scope.outer
        return None


class Origin:
    """Where something was made, for a parent asked for later (an agent's span, recorded
    when its session ends): the open span chain there, and the captured application span
    (session id, id) that was the innermost span open there, if any."""

    __slots__ = ("app_span", "scope")

    def __init__(self, scope: Scope | None, app_span: tuple[str, str] | None) -> None:
        self.scope = scope
        self.app_span = app_span

    def parent_for(self, session_id: str) -> SpanId | None:
        """What :meth:`Registry.parent_for` answered there for ``session_id``."""
        app_span = self.app_span
        if app_span is not None and app_span[0] == session_id:
            return app_span[1]
        return None if self.scope is None else self.scope.parent_for(session_id)


class AgentInfo:
    """A tracked agent: its display name, and its span (``None`` for an agent
    registered by id alone, with ``create_agent``) with where it was created."""

    __slots__ = ("created_in", "name", "span_id")

    def __init__(
        self, name: str, span_id: uuid.UUID | None = None, created_in: Origin | None = None
    ) -> None:
        self.name = name
        self.span_id = span_id
        self.created_in = created_in


class Registry(Generic[S]):
    """Tracks running sessions, and which session and span are current in each context."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[str, S] = {}
        # Agent ids to what is known of them, so a session that first sees an agent's
        # event can register it (and record its span).
        self.agents: dict[str, AgentInfo] = _Bounded()
        # Set where the application's OpenTelemetry spans are captured (see OtelSpans).
        self.otel: OtelSpans | None = None

    # -- running sessions ----------------------------------------------------------------

    def add(self, session: S) -> None:
        with self._lock:
            self._active[session.session_id] = session

    def remove(self, session_id: str) -> None:
        with self._lock:
            self._active.pop(session_id, None)

    def get(self, session_id: str) -> S | None:
        return self._active.get(str(session_id))

    def active(self) -> list[S]:
        """Running sessions, oldest first."""
        with self._lock:
            return list(self._active.values())

    # -- the current session --------------------------------------------------------------

    def set_current(self, session: S | None) -> contextvars.Token[Registered | None]:
        """Make ``session`` current in the running context; returns a token for :meth:`reset`."""
        return _current_session.set(session)

    def reset(self, token: contextvars.Token[Registered | None]) -> None:
        _current_session.reset(token)

    def current(self) -> S | None:
        """The session current in this context, else the only running session, else None."""
        mine = self.current_in_context()
        if mine is not None:
            return mine
        active = self._active
        if len(active) == 1:
            for only in active.values():
                return only
        return None

    def current_in_context(self) -> S | None:
        """The running session made current in this context (or the one it was copied
        from), without the only-running-session fallback of :meth:`current`."""
        session = _current_session.get()
        if session is not None and session.is_running:
            mine = self._active.get(session.session_id)
            if mine is session:
                return mine
        return None

    # -- the open span ----------------------------------------------------------------------

    def open_span(
        self,
        span_id: SpanId,
        session_id: str | None,
        *,
        agent_id: str | None = None,
        llm: bool = False,
    ) -> contextvars.Token[Scope | None]:
        """Open a span: events recorded in this context nest under it until :meth:`close_span`.

        ``agent_id`` None keeps the agent of the enclosing scope; ``llm`` marks an LLM call.
        """
        outer = _scope.get()
        if agent_id is None and outer is not None:
            agent_id = outer.agent_id
        return _scope.set(Scope(span_id, session_id, agent_id, outer, llm))

    def close_span(self, token: contextvars.Token[Scope | None]) -> None:
        """Close the span ``token`` opened. Never raises: a block finished in another
        context than it started in (an async generator finalized by the event loop) has
        nothing to restore there."""
        try:  # noqa: SIM105 - cheaper than contextlib.suppress on every closed span
            _scope.reset(token)
        except (ValueError, RuntimeError):
            pass

    def scope(self) -> Scope | None:
        """The innermost open span of this context, or None."""
        return _scope.get()

    def parent_for(self, session_id: str) -> SpanId | None:
        """The span an event of ``session_id`` recorded here nests under, or None: the
        innermost open span, an application's captured OpenTelemetry span included."""
        otel = self.otel
        if otel is not None:
            inner = otel.innermost(session_id)
            if inner is not None:
                return inner
        scope = _scope.get()
        return None if scope is None else scope.parent_for(session_id)

    def origin(self) -> Origin:
        """Where the caller is, for a :meth:`parent_for` asked later (see :class:`Origin`)."""
        otel = self.otel
        return Origin(_scope.get(), None if otel is None else otel.current())

    def current_agent(self) -> str | None:
        """The agent whose code is running in this context (see ``track_agent``)."""
        scope = _scope.get()
        return None if scope is None else scope.agent_id


class _Bounded(dict[str, AgentInfo]):
    """A dict that forgets its oldest entries past a size, so that a service creating an
    agent object per request does not grow without end; a forgotten agent is still
    registered, under the name ``agent``, but without its span."""

    limit = 10_000

    def __setitem__(self, key: str, value: AgentInfo) -> None:
        super().__setitem__(key, value)
        while len(self) > self.limit:
            del self[next(iter(self))]
