"""Ending sessions when the process ends: at normal exit and on SIGTERM/SIGINT.

At interpreter exit every client ends its running sessions as ``Indeterminate`` and
delivers pending events within its ``shutdown_timeout``. On SIGTERM or SIGINT the
sessions are ended and flushed the same way, then the application's previous handler
runs (or, if it was the default action, the signal is re-raised with it so the exit
status stays the conventional one): agentwatch never swallows a signal.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
import weakref
from types import FrameType
from typing import Any, Protocol

__all__ = ["Endable", "register", "unregister"]


class Endable(Protocol):
    """What is ended at exit (a :class:`~agentwatch.Client`)."""

    def shutdown(self, timeout: float | None = None, *, reason: str | None = None) -> None: ...

    def end_all_sessions(
        self, end_state: Any = ..., reason: str | None = None, timeout: float | None = None
    ) -> None: ...


_clients: weakref.WeakSet[Endable] = weakref.WeakSet()
_lock = threading.Lock()
_atexit_installed = False
_previous: dict[int, Any] = {}
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def register(client: Endable, *, handle_signals: bool) -> None:
    """Have ``client``'s sessions ended at exit (and on SIGTERM/SIGINT if ``handle_signals``)."""
    global _atexit_installed
    with _lock:
        _clients.add(client)
        if not _atexit_installed:
            atexit.register(_at_exit)
            _atexit_installed = True
    if handle_signals:
        _install_signal_handlers()


def unregister(client: Endable) -> None:
    with _lock:
        _clients.discard(client)


def _at_exit() -> None:
    for client in list(_clients):
        client.shutdown(reason="process exited without end_session()")


def _install_signal_handlers() -> None:
    # signal.signal only works in the main thread; elsewhere atexit still covers normal exit.
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _SIGNALS:
        current = signal.getsignal(signum)
        if current is _on_signal:
            continue
        if current in (signal.SIG_IGN, None):
            continue  # the application chose to ignore it (or C code owns it): leave it
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signum, _on_signal)
            _previous[signum] = current


def _on_signal(signum: int, frame: FrameType | None) -> None:
    reason = f"{signal.Signals(signum).name} received"
    for client in list(_clients):
        client.end_all_sessions(reason=reason)
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        _previous.pop(signum, None)
        os.kill(os.getpid(), signum)
