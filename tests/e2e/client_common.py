"""What every ``*_script.py`` run by a client venv shares (stdlib only: it runs in all of them).

A script imports this first (its directory is ``sys.path[0]``), which

* refuses DNS lookups of any non-loopback name, and remembers them (``blocked_hosts``):
  the clients phone home (update checks, vendor metrics endpoints) and nothing may leave
  the machine;
* collects every warning and every log record at WARNING or above (``problems``): this is
  where OpenTelemetry exporters report a failed export ("Failed to export span batch code:
  404"), Logfire its token check and Langfuse its auth errors, so a test that asserts
  ``problems == []`` fails when a client could not deliver.

A script ends with :func:`emit`, which prints one JSON line (the last line of stdout).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import warnings
from typing import Any

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
blocked_hosts: list[str] = []
problems: list[str] = []
_getaddrinfo = socket.getaddrinfo


def _loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name not in LOOPBACK:
        blocked_hosts.append(name)
        raise socket.gaierror(f"client script: refusing to resolve {name}")
    return _getaddrinfo(host, *args, **kwargs)


_logger_handle = logging.Logger.handle


def _handle_and_collect(self: logging.Logger, record: logging.LogRecord) -> None:
    """``Logger.handle`` that first notes every record at WARNING or above.

    Collected here rather than by a handler because clients rewire logging: agentops stops
    its own and OpenTelemetry's loggers from propagating, removes their handlers and
    re-logs OpenTelemetry's records at DEBUG under its own name.
    """
    if record.levelno >= logging.WARNING:
        problems.append(f"{record.name}: {record.getMessage()}")
    _logger_handle(self, record)


def _install() -> None:
    socket.getaddrinfo = _loopback_only
    logging.Logger.handle = _handle_and_collect  # type: ignore[method-assign]
    logging.captureWarnings(True)  # warnings become records of the "py.warnings" logger
    warnings.simplefilter("always")


_install()


def env(name: str) -> str:
    """A variable the test must set; exits with a clear message when it did not."""
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{sys.argv[0]}: {name} is not set")
    return value


def emit(result: dict[str, Any]) -> None:
    """Print the result line the test reads, with what was blocked and what was logged."""
    result = {**result, "blocked_hosts": sorted(set(blocked_hosts)), "problems": problems}
    print(json.dumps(result), flush=True)
