"""The seed's session package (``SEED-session-package.md``), and ``sessions``: the
process-wide :class:`Registry` of running sessions that every ``Client`` uses."""

from __future__ import annotations

from agentwatch.session.registry import Registry
from agentwatch.session.session import Session

__all__ = ["Session", "sessions"]

sessions: Registry[Session] = Registry()
