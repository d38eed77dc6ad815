"""What the OTLP receiver took, per project, since the process started.

``GET /api/otlp/stats`` shows it (metrics are only counted, so this is where they show).
Counts are per server process and reset when it restarts.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from typing import Any

__all__ = ["ReceiverStats"]


class ReceiverStats:
    """Thread-safe counters: ``add(project, "metrics.data_points", 12)``."""

    def __init__(self) -> None:
        self.since = dt.datetime.now(dt.timezone.utc)
        self._lock = threading.Lock()
        self._counts: dict[str, Counter[str]] = {}

    def add(self, project_id: str, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts.setdefault(project_id, Counter())[name] += amount

    def view(self, project_id: str) -> dict[str, Any]:
        """``{"since": ..., "traces": {"requests": n, ...}, "logs": {...}, "metrics": {...}}``."""
        with self._lock:
            counts = dict(self._counts.get(project_id, Counter()))
        out: dict[str, Any] = {"since": self.since.isoformat()}
        for signal in ("traces", "logs", "metrics"):
            out[signal] = {
                name.split(".", 1)[1]: value
                for name, value in sorted(counts.items())
                if name.startswith(signal + ".")
            }
        return out
