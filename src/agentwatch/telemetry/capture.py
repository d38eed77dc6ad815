"""The application's own OpenTelemetry spans, taken into the current agentwatch session.

:class:`AppSpanProcessor` is an OpenTelemetry ``SpanProcessor``. :func:`install` puts it
on the global tracer provider: added to the application's SDK ``TracerProvider`` when it
has set one, else on a ``TracerProvider`` of ours installed as the global one (so that
instrumentors that trace through the global provider, OpenInference's or
``opentelemetry-instrumentation-openai-v2``, record at all). One processor per process,
whatever the number of clients: each captured span goes to the pipeline of the client
whose session it ran in.

Which spans: a span started where an agentwatch session was made current (the thread
or task that started it, and the tasks and copied contexts started from there, as
OpenTelemetry's own context goes), or whose parent was captured (it stays in its
parent's session). Not the only-running-session fallback events have
(:meth:`~agentwatch.session.registry.Registry.current`): a web server's other requests,
a health check, would land in whichever session happens to run. Spans started outside
any session are not taken, nor those of the export workers (our own requests). The
spans themselves are never changed: the application's exporters get them as they were.

Where a captured span goes in the session tree (sent with it as
:data:`PARENT_EVENT_ID`, which the server takes as the span's parent): under its
OpenTelemetry parent when that was captured and no agentwatch span (a decorated call,
a ``span()`` block, an LLM call) was opened in between; otherwise under the innermost
agentwatch span open where it started ("" when none: a child of the session).

One LLM call is one event. An LLM span (one that declares itself so:
``openinference.span.kind`` LLM, ``gen_ai.operation.name`` chat ...) that starts inside
an LLM call our instrumentation records, or that is the OpenTelemetry span current when
our instrumentation starts recording the call, is the same call: it is not sent, and
what starts under it nests under our event instead (:meth:`AppSpanProcessor.adopt_llm_span`,
which the instrumentation reaches as ``Registry.otel``).

The other way round, an agentwatch event recorded (or span opened) while a captured span
is the innermost span open nests under that span (:meth:`AppSpanProcessor.innermost`,
asked by :meth:`Registry.parent_for <agentwatch.session.registry.Registry.parent_for>`).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from agentwatch.telemetry.processor import in_export_worker

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import ReadableSpan, Span


__all__ = [
    "PARENT_EVENT_ID",
    "SESSION_ID",
    "AppSpanProcessor",
    "SpanSink",
    "declares_llm",
    "install",
]

logger = logging.getLogger("agentwatch")


class Scope(Protocol):
    """What the processor reads of an agentwatch span open in the running context (the
    session registry's ``Scope``; a protocol, so that telemetry does not import session)."""

    @property
    def span_id(self) -> object: ...

    @property
    def llm(self) -> bool: ...

    def parent_for(self, session_id: str) -> object | None: ...


class Registered(Protocol):
    """What the processor reads of a running session."""

    @property
    def session_id(self) -> str: ...


class Registry(Protocol):
    """What the processor asks the session registry: the innermost agentwatch span open
    here, and the session made current in this context; :func:`install` sets its ``otel``
    (where the registry asks for the captured span open here)."""

    otel: Any

    def scope(self) -> Scope | None: ...

    def current_in_context(self) -> Registered | None: ...


#: The event a captured span nests under in the session ("" for the session itself).
PARENT_EVENT_ID = "agentwatch.parent_event_id"
#: The session a captured span belongs to (the attribute OpenInference uses too).
SESSION_ID = "session.id"

# Spans left open forever (a bug of the application) must not grow memory without end:
# past this many open captured spans, new ones are not captured.
_MAX_OPEN = 100_000
# Ended spans remembered for children that start after their parent ended (a task the
# parent spawned and did not wait for).
_MAX_ENDED = 4096

_LLM_OPERATIONS = frozenset(
    {"chat", "text_completion", "completion", "generate_content", "embeddings"}
)
_LLM_KINDS = frozenset({"llm", "embedding"})


class SpanSink(Protocol):
    """Where a client's captured spans go (its ``/v1/traces`` pipeline)."""

    def put_span(self, span: ReadableSpan, session_id: str, parent_event: str | None) -> bool:
        """Queue ``span`` for export; False if it was dropped (and counted). No I/O."""


def declares_llm(attributes: Mapping[str, Any] | None) -> bool:
    """Whether a span says it is an LLM call (the conventions' declarations, as the
    server reads them)."""
    if not attributes:
        return False
    kind = attributes.get("openinference.span.kind")
    if isinstance(kind, str) and kind.lower() in _LLM_KINDS:
        return True
    for key in ("gen_ai.operation.name", "gen_ai.request.type", "llm.request.type"):
        value = attributes.get(key)
        if isinstance(value, str) and value.lower() in _LLM_OPERATIONS:
            return True
    return False


class _Captured:
    """What was decided about a captured span when it started."""

    __slots__ = ("parent_event", "parent_span", "scope", "session_id", "sink", "span", "stand_in")

    def __init__(
        self,
        session_id: str,
        sink: SpanSink,
        scope: Scope | None,
        parent_event: str | None,
        parent_span: int | None,
        span: Span,
    ) -> None:
        self.session_id = session_id
        self.sink = sink
        self.scope = scope  # the agentwatch span open where it started
        self.parent_event = parent_event  # None: its OpenTelemetry parent is its parent
        self.parent_span = parent_span  # its OpenTelemetry parent's span id
        # The span while it is open (its attributes say whether it is an LLM call).
        self.span: Span | None = span
        # Set for an LLM span that is our LLM event's call: not sent; children nest there.
        self.stand_in: str | None = None


class AppSpanProcessor(SpanProcessor):
    """Takes spans started in agentwatch sessions to their client's :class:`SpanSink`.

    ``sink_for`` gives a session's sink, or None where its client does not capture.
    Thread-safe; ``on_start`` and ``on_end`` cost a few dictionary operations.
    """

    def __init__(self, registry: Registry, sink_for: Callable[[Any], SpanSink | None]) -> None:
        self._registry = registry
        self._sink_for = sink_for
        self._open: dict[int, _Captured] = {}
        self._ended: OrderedDict[int, _Captured] = OrderedDict()
        self._ended_lock = threading.Lock()

    # -- SpanProcessor ---------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            self._start(span)
        except Exception:  # OpenTelemetry would pass it on to the application's call
            _internal_error("taking an OpenTelemetry span's start")

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._end(span)
        except Exception:
            _internal_error("taking an ended OpenTelemetry span")

    def _start(self, span: Span) -> None:
        if in_export_worker():
            return  # our own requests: sending them would make more to send
        parent = span.parent
        entry = None
        if parent is not None and not parent.is_remote:
            entry = self._open.get(parent.span_id) or self._ended.get(parent.span_id)
        scope = self._registry.scope()
        if entry is not None:
            session_id, sink = entry.session_id, entry.sink
        else:
            session: Registered | None = self._registry.current_in_context()
            if session is None or len(self._open) >= _MAX_OPEN:
                return
            found = self._sink_for(session)
            if found is None:
                return
            session_id, sink = session.session_id, found
        if entry is not None and entry.scope is scope:
            parent_event = entry.stand_in  # None: under its OpenTelemetry parent
        else:
            outer = None if scope is None else scope.parent_for(session_id)
            parent_event = "" if outer is None else str(outer)
        captured = _Captured(
            session_id, sink, scope, parent_event, None if parent is None else parent.span_id, span
        )
        # (Attribute lookups cost ~0.4 µs each on a span: only inside our LLM calls.)
        if scope is not None and scope.llm and declares_llm(span.attributes):
            captured.stand_in = str(scope.span_id)  # started inside our LLM call: that call
        self._open[span.context.span_id] = captured

    def _end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None:
            return
        entry = self._open.pop(context.span_id, None)
        if entry is None:
            return
        entry.span = None
        scope = entry.scope
        if (
            entry.stand_in is None
            and scope is not None
            and scope.llm
            and declares_llm(span.attributes)
        ):
            entry.stand_in = str(scope.span_id)  # it said it is an LLM span after it started
        with self._ended_lock:
            self._ended[context.span_id] = entry
            if len(self._ended) > _MAX_ENDED:
                self._ended.popitem(last=False)
        if entry.stand_in is None:
            entry.sink.put_span(span, entry.session_id, entry.parent_event)

    def shutdown(self) -> None:
        """Nothing to stop: the clients' pipelines are shut down by their clients."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    # -- agentwatch events among the spans -------------------------------------------------

    def innermost(self, session_id: str) -> str | None:
        """The id (as the server stores it) of the captured span current here, if it is
        the innermost span open and of ``session_id``. An event recorded here nests under it."""
        if not self._open:
            return None  # no captured span open anywhere: the usual case, and cheap
        found = self.current()
        return found[1] if found is not None and found[0] == session_id else None

    def current(self) -> tuple[str, str] | None:
        """(session id, id as the server stores it) of the captured span current here, if
        it is the innermost span open: it started at the agentwatch span open now, so it
        is inside it."""
        if not self._open:
            return None
        span_id = trace.get_current_span().get_span_context().span_id
        entry = self._open.get(span_id)
        if entry is None or entry.scope is not self._registry.scope():
            return None  # not captured, or an agentwatch span opened inside it is innermost
        stand_in = entry.stand_in
        return entry.session_id, stand_in if stand_in is not None else f"{span_id:016x}"

    # -- our LLM calls ---------------------------------------------------------------------

    def adopt_llm_span(self, event_id: str, session_id: str) -> tuple[bool, str | None]:
        """Our instrumentation starts recording an LLM call: if the OpenTelemetry span
        current here is a captured LLM span of the same session opened at the same
        agentwatch span, it is this call. It (and LLM spans around it, so opened) is not
        sent and our event ``event_id`` takes its place: returns (True, the parent id our
        event gets: the one the span would have had, None for the session). Else
        (False, None)."""
        if not self._open:
            return False, None
        current = trace.get_current_span()
        context = current.get_span_context()
        entry = self._open.get(context.span_id)
        scope = self._registry.scope()
        if entry is None or entry.session_id != session_id or entry.scope is not scope:
            return False, None
        if not declares_llm(getattr(current, "attributes", None)):
            return False, None
        outermost = entry
        while True:
            outermost.stand_in = event_id
            outer = self._open.get(outermost.parent_span or 0)
            if outer is None or outer.scope is not scope or outermost.parent_event is not None:
                break
            if outer.span is None or not declares_llm(outer.span.attributes):
                break
            outermost = outer
        if outermost.parent_event is None:
            return True, None if outermost.parent_span is None else f"{outermost.parent_span:016x}"
        return True, outermost.parent_event or None


_failed: set[str] = set()


def _internal_error(where: str) -> None:
    """A bug of ours: logged once per place with its traceback, never raised."""
    if where not in _failed:
        _failed.add(where)
        logger.exception(
            "internal error while %s (the application's tracing is unaffected; please report this)",
            where,
        )


_processor: AppSpanProcessor | None = None
_installed_on: list[object] = []  # providers the processor was added to
_install_lock = threading.Lock()


def install(registry: Registry, sink_for: Callable[[Any], SpanSink | None]) -> str:
    """Put the process's :class:`AppSpanProcessor` on the global tracer provider (made
    with these arguments on the first call); returns what was done, in words.

    The application's SDK provider gets it added once; with no provider set, an SDK
    ``TracerProvider`` holding only it becomes the global one; any other provider (a
    no-op one set on purpose, a vendor's) is left alone.
    """
    global _processor
    with _install_lock:
        if _processor is None:
            _processor = AppSpanProcessor(registry, sink_for)
            registry.otel = _processor
        provider = trace.get_tracer_provider()
        if isinstance(provider, trace.ProxyTracerProvider):
            ours = TracerProvider()
            ours.add_span_processor(_processor)
            _installed_on.append(ours)
            trace.set_tracer_provider(ours)
            provider = trace.get_tracer_provider()  # another thread may have set one first
            if provider is ours:
                return "installed as the global tracer provider (none was set)"
        if not isinstance(provider, TracerProvider):
            return f"not captured: the global tracer provider is a {type(provider).__name__}"
        if not any(p is provider for p in _installed_on):
            provider.add_span_processor(_processor)
            _installed_on.append(provider)
        return "added to the application's tracer provider"
