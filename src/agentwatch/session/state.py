"""``SessionState``: the data of one agent run, kept by its :class:`SessionManager`.

The :class:`Session` a program holds shows these fields read-only; only the manager
changes them, under its lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentwatch.events import EndState, now_iso

if TYPE_CHECKING:
    from decimal import Decimal

__all__ = ["SessionState"]


@dataclass(eq=False)
class SessionState:
    session_id: str
    tags: list[str] = field(default_factory=list)
    init_timestamp: str = field(default_factory=now_iso)
    end_timestamp: str | None = None
    end_state: str = EndState.INDETERMINATE.value
    end_state_reason: str | None = None
    video: str | None = None
    token_cost: Decimal | None = None
    is_running: bool = True

    def body(self, event_counts: dict[str, int]) -> dict[str, Any]:
        """The session as ``create_session``/``update_session`` carry it (minus host_env)."""
        return {
            "session_id": self.session_id,
            "init_timestamp": self.init_timestamp,
            "end_timestamp": self.end_timestamp,
            "tags": list(self.tags),
            "end_state": self.end_state,
            "end_state_reason": self.end_state_reason,
            "video": self.video,
            "event_counts": event_counts,
        }
