"""Run the real agentwatch server (uvicorn + a fresh SQLite file) for the benchmarks.

Started by bench_agentwatch.py in its own process, with the garbage collector set as
``agentwatch serve`` sets it (``agentwatch.server.collector``). Prints one JSON line
``{"url": ..., "api_key": ...}`` once the server answers, then serves until its stdin is
closed by the parent. Options: ``--pg-admin URL`` of a PostgreSQL cluster to create a
fresh database in (default: a SQLite file in a temporary directory).
"""

from __future__ import annotations

import json
import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

from agentwatch.server import collector
from agentwatch.server.testing import uvicorn_server
from common import arg


def fresh_pg_database(admin_url: str) -> str:
    """CREATE DATABASE in the cluster; return its URL for the server (psycopg 3 driver)."""
    admin = sa.make_url(admin_url).set(drivername="postgresql+psycopg")
    name = f"aw_bench_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))  # name is ours: hex only
    engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="agentwatch-bench-") as tmp:
        pg_admin = arg("pg-admin", "")
        db_url = fresh_pg_database(pg_admin) if pg_admin else f"sqlite:///{Path(tmp) / 'bench.db'}"
        with uvicorn_server(db_url=db_url) as server:
            collector.settle()  # as `agentwatch serve` does before it serves
            print(json.dumps({"url": server.url, "api_key": server.api_key}), flush=True)
            sys.stdin.read()  # returns when the parent closes our stdin


if __name__ == "__main__":
    main()
