"""Floor: SQLite inserts of ~1 KB event rows, 100 rows per transaction (perf.md §5).

WAL, ``synchronous=NORMAL``, a fresh database file per run. Rows are (uuid4 id primary
key, session id, event type, two ISO timestamps, a 1.2 KB JSON payload); ``--indexed``
adds the index an events table needs for "a session's events in time order". This is the
ceiling one SQLite writer gives the server on this disk. Runs with any python 3.
Options: ``--rows`` (default 100,000), ``--indexed``, ``--dir`` for the database file.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from common import arg, emit, flag, percentile

BATCH = 100
SESSIONS = 50
SCHEMA = """
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    init_timestamp TEXT NOT NULL,
    end_timestamp TEXT,
    payload TEXT NOT NULL
)
"""
INDEX = "CREATE INDEX ix_events_session_time ON events (session_id, init_timestamp)"


def payload() -> str:
    """A realistic LLM event body of about 1.2 KB of JSON."""
    prompt = [{"role": "user", "content": "Plan two days in Rome for a family of four. " * 10}]
    completion = {"role": "assistant", "content": "Day 1: Colosseum, Forum. Day 2: Vatican. " * 12}
    event = {"model": "gpt-4o-mini", "prompt": prompt, "completion": completion}
    return json.dumps({**event, "prompt_tokens": 1200, "completion_tokens": 300})


def run(path: Path, rows: int, indexed: bool) -> tuple[float, list[float]]:
    """Insert ``rows`` rows; return (rows per second, commit latencies in ms)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(SCHEMA)
    if indexed:
        db.execute(INDEX)
    body = payload()
    sessions = [str(uuid.uuid4()) for _ in range(SESSIONS)]
    batch_ms = []
    start = time.perf_counter()
    for b in range(rows // BATCH):
        now = datetime.now(timezone.utc).isoformat()
        batch = [
            (str(uuid.uuid4()), sessions[(b + i) % SESSIONS], "llms", now, now, body)
            for i in range(BATCH)
        ]
        t0 = time.perf_counter()
        db.execute("BEGIN")
        db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", batch)
        db.execute("COMMIT")
        batch_ms.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - start
    db.close()
    return rows / elapsed, batch_ms


def main() -> None:
    rows, indexed = int(arg("rows", "100000")), flag("indexed")
    with tempfile.TemporaryDirectory(dir=arg("dir", "") or None) as tmp:
        rate, batch_ms = run(Path(tmp) / "events.db", rows, indexed)
    emit(
        {
            "rows_per_s": rate,
            "commit_p50_ms": percentile(batch_ms, 50),
            "commit_p99_ms": percentile(batch_ms, 99),
            "rows": rows,
            "payload_bytes": len(payload()),
            "sqlite_version": sqlite3.sqlite_version,
        }
    )


if __name__ == "__main__":
    main()
