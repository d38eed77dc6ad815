"""What the server is told about the machine a session ran on (``host_env``).

Collected once per process, on the export thread (never on the caller's), from the
standard library only: no scan of installed distributions (AgentOps 0.3 spent ~30 ms
per session on it) and no psutil.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

__all__ = ["host_env", "sdk_version"]


@functools.lru_cache(maxsize=1)
def sdk_version() -> str:
    """The installed agentwatch version ("unknown" in a bare source tree)."""
    # importlib.metadata costs ~13 ms to import: only on first use, not at import agentwatch.
    from importlib import metadata

    try:
        return metadata.version("agentwatch")
    except metadata.PackageNotFoundError:
        return "unknown"


def _memory_total() -> str | None:
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return f"{pages * page_size / 2**30:.2f} GB"


@functools.lru_cache(maxsize=2)
def host_env(opt_out: bool = False) -> dict[str, Any]:
    """The ``host_env`` mapping; with ``opt_out`` only the SDK and Python versions."""
    import platform  # here, on the export thread, not at `import agentwatch`
    import socket

    sdk = {"agentwatch SDK Version": sdk_version(), "Python Version": platform.python_version()}
    if opt_out:
        return {"SDK": sdk}
    return {
        "SDK": sdk,
        "OS": {
            "Hostname": socket.gethostname(),
            "OS": platform.system(),
            "OS Version": platform.version(),
            "OS Release": platform.release(),
        },
        "CPU": {"Total cores": os.cpu_count()},
        "RAM": {"Total": _memory_total()},
        "Project Working Directory": {"Project Working Directory": os.getcwd()},
        "Virtual Environment": {"Virtual Environment": os.environ.get("VIRTUAL_ENV") or sys.prefix},
    }
