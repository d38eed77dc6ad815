"""Run the real agentwatch server (uvicorn + a fresh SQLite file) for the benchmarks.

Started by bench_agentwatch.py in its own process. Prints one JSON line
``{"url": ..., "api_key": ...}`` once the server answers, then serves until its stdin is
closed by the parent. Options: ``--db URL`` (default: a SQLite file in a temp directory).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from agentwatch.server.testing import uvicorn_server
from common import arg


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="agentwatch-bench-") as tmp:
        db_url = arg("db", "") or f"sqlite:///{Path(tmp) / 'bench.db'}"
        with uvicorn_server(db_url=db_url) as server:
            print(json.dumps({"url": server.url, "api_key": server.api_key}), flush=True)
            sys.stdin.read()  # returns when the parent closes our stdin


if __name__ == "__main__":
    main()
