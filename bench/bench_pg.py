"""Floor: PostgreSQL inserts of the same ~1 KB event rows, 100 rows per transaction.

The table, index and payload are bench_sqlite.py's, in a fresh database of the throwaway
cluster (default durability: fsync and synchronous_commit on), over TCP on 127.0.0.1
with psycopg 3 (``executemany`` pipelines the 100 inserts). Runs in the floor venv.
Options: ``--url`` admin URL of the cluster, ``--rows`` (default 100,000).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import psycopg

from bench_sqlite import BATCH, INDEX, SCHEMA, SESSIONS, payload
from common import arg, emit, percentile


def fresh_database(admin_url: str) -> str:
    name = f"floor_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")  # name is ours: hex only
    return admin_url.rsplit("/", 1)[0] + "/" + name


def run(url: str, rows: int) -> tuple[float, list[float]]:
    """Insert ``rows`` rows; return (rows per second, commit latencies in ms)."""
    body = payload()
    sessions = [str(uuid.uuid4()) for _ in range(SESSIONS)]
    batch_ms = []
    with psycopg.connect(url) as db:
        db.execute(SCHEMA)
        db.execute(INDEX)
        db.commit()
        start = time.perf_counter()
        for b in range(rows // BATCH):
            now = datetime.now(timezone.utc).isoformat()
            batch = [
                (str(uuid.uuid4()), sessions[(b + i) % SESSIONS], "llms", now, now, body)
                for i in range(BATCH)
            ]
            t0 = time.perf_counter()
            with db.cursor() as cur:
                cur.executemany("INSERT INTO events VALUES (%s, %s, %s, %s, %s, %s)", batch)
            db.commit()
            batch_ms.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - start
    return rows / elapsed, batch_ms


def main() -> None:
    url = fresh_database(arg("url", "postgresql://postgres@127.0.0.1:5432/postgres"))
    rate, batch_ms = run(url, int(arg("rows", "100000")))
    emit(
        {
            "rows_per_s": rate,
            "commit_p50_ms": percentile(batch_ms, 50),
            "commit_p99_ms": percentile(batch_ms, 99),
            "rows": int(arg("rows", "100000")),
        }
    )


if __name__ == "__main__":
    main()
