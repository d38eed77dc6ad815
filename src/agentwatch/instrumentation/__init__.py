"""LLM calls recorded automatically: the ``openai`` and ``anthropic`` libraries.

:func:`instrument` (called by every ``Client`` whose ``instrument_llm_calls`` setting is
on) patches the libraries already imported, and installs an import hook that patches the
others when (if ever) they are imported. It imports nothing the program did not.
:func:`uninstrument` puts the original methods back. Both are idempotent.

Each call made while a session is current (or with ``session=...``, a keyword that is
not passed on to the provider) is recorded in that session as an ``LLMEvent``, under the
span open where it was made; a failed call also records an ``ErrorEvent`` under it and
re-raises the very same exception.
Without a session the call runs untouched. Module per library: :mod:`.openai`,
:mod:`.anthropic`; shared parts: :mod:`._call` (one call), :mod:`._stream` (stream
proxies), :mod:`._genai` (parameters, GenAI attributes, redaction), :mod:`._patching`.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from types import ModuleType

from agentwatch.instrumentation import _patching
from agentwatch.instrumentation._errors import internal_error

__all__ = ["LIBRARIES", "instrument", "uninstrument"]

# Library (top-level module) -> our module that patches it.
LIBRARIES = {
    "openai": "agentwatch.instrumentation.openai",
    "anthropic": "agentwatch.instrumentation.anthropic",
}

_lock = threading.RLock()
_finder: _patching.PostImportFinder | None = None


def instrument() -> None:
    """Record calls of the supported libraries, imported now or later. Idempotent."""
    global _finder
    with _lock:
        waiting: dict[str, Callable[[ModuleType], None]] = {}
        for library in LIBRARIES:
            if library in sys.modules:
                _instrument(library)
            else:
                waiting[library] = _on_import
        if _finder is None:
            _finder = _patching.PostImportFinder(waiting)
        else:
            _finder.callbacks = waiting
        _finder.install()


def uninstrument() -> None:
    """Restore the libraries' original methods and stop watching imports. Idempotent."""
    global _finder
    with _lock:
        if _finder is not None:
            _finder.remove()
            _finder = None
        _patching.restore_all()


def _on_import(module: ModuleType) -> None:
    with _lock:
        if _finder is not None:
            _instrument(module.__name__)


def _instrument(library: str) -> None:
    try:
        importlib.import_module(LIBRARIES[library]).instrument()
    except Exception:
        internal_error(f"instrumenting {library}")
