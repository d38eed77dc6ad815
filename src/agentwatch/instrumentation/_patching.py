"""Idempotent, reversible method patching, and the import hook that patches a library
when it is imported after :func:`agentwatch.instrumentation.instrument`.

A patched method is a wrapper carrying its original (``__agentwatch_original__``), so
patching twice is a no-op and :func:`restore_all` puts back exactly what was there.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from agentwatch.instrumentation._call import ORIGINAL, async_wrapper, sync_wrapper
from agentwatch.instrumentation._errors import internal_error

if TYPE_CHECKING:
    from agentwatch.instrumentation._call import Endpoint

__all__ = ["PostImportFinder", "patch", "patch_method", "restore_all"]

# (owner, name) -> (original, wrapper), in patching order.
_applied: dict[tuple[type, str], tuple[Any, Any]] = {}
_lock = threading.Lock()


def patch_method(owner: Any, name: str, endpoint: Endpoint, is_async: bool = False) -> None:
    """Replace ``owner.name`` with the recording wrapper for ``endpoint``."""
    wrap = async_wrapper if is_async else sync_wrapper
    patch(owner, name, lambda original: wrap(original, endpoint))


def patch(owner: Any, name: str, make_wrapper: Callable[[Any], Any]) -> None:
    """Set ``owner.name`` to ``make_wrapper(original)`` unless it is already ours.

    A missing class or attribute (another library version) is skipped quietly.
    """
    if not isinstance(owner, type):
        return
    with _lock:
        current = vars(owner).get(name)
        if current is None or hasattr(current, ORIGINAL):
            return
        wrapper = make_wrapper(current)
        setattr(owner, name, wrapper)
        _applied[(owner, name)] = (current, wrapper)


def restore_all() -> None:
    """Put every original back (where nobody replaced our wrapper since)."""
    with _lock:
        for (owner, name), (original, wrapper) in reversed(list(_applied.items())):
            if vars(owner).get(name) is wrapper:
                setattr(owner, name, original)
        _applied.clear()


def is_patched(owner: type, name: str) -> bool:
    return hasattr(vars(owner).get(name), ORIGINAL)


class PostImportFinder(importlib.abc.MetaPathFinder):
    """Runs a callback right after a watched top-level module is first imported.

    It finds the module's real spec through the other finders and wraps the loader so
    that the callback runs once the module has executed. It stays on ``sys.meta_path``
    until :meth:`remove` (removing a finder while the import system iterates over the
    list could make it skip the next one); for other names it costs one set lookup.
    """

    def __init__(self, callbacks: dict[str, Callable[[ModuleType], None]]) -> None:
        self.callbacks = callbacks
        self._finding: set[str] = set()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        callback = self.callbacks.get(fullname)
        if callback is None or fullname in self._finding:
            return None
        # The import lock of ``fullname`` is held: no other thread is here for this name.
        self._finding.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._finding.discard(fullname)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _CallbackLoader(spec.loader, callback)
        return spec

    def install(self) -> None:
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def remove(self) -> None:
        while self in sys.meta_path:
            sys.meta_path.remove(self)


class _CallbackLoader(importlib.abc.Loader):
    """The real loader, then the callback; the module is left with the real loader."""

    def __init__(self, loader: Any, callback: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._callback = callback

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        try:
            self._callback(module)
        except Exception:
            internal_error(f"instrumenting {module.__name__}")

    def __getattr__(self, name: str) -> Any:
        if name == "_loader":
            raise AttributeError(name)
        return getattr(self._loader, name)
