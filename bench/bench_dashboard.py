"""Server time of the dashboard's pages at 100,000 sessions / 1,000,000 events (SQLite).

Not a test. Seeds a fresh SQLite database directly through the storage layer (bulk
INSERTs, not the ingest API, which has its own benchmark), then requests each page
in-process through the ASGI app (no sockets: the time is the server's) and reports the
median and p95 over repeated requests. Run ``python bench/bench_dashboard.py``
(``--write`` replaces its section in ``bench/RESULTS.md``; ``--sessions`` to scale).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from agentwatch.server import cursors
from agentwatch.server.storage.schema import events, session_tags, sessions
from agentwatch.server.testing import TestServer, inprocess_server
from common import write_section

ROOT = Path(__file__).resolve().parents[1]
MARK_BEGIN = "<!-- bench_dashboard: begin -->"
MARK_END = "<!-- bench_dashboard: end -->"
KINDS = ("llms", "tools", "actions", "errors")
CHUNK = 20_000


def seed(server: TestServer, n_sessions: int, events_per: int) -> dict[str, Any]:
    """Bulk-insert sessions spread over 30 days, ``events_per`` events each."""
    rng = random.Random(7)
    now = dt.datetime.now(dt.timezone.utc)
    project = server.project_id
    session_rows: list[dict[str, Any]] = []
    tag_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    total_events = 0

    def flush(force: bool = False) -> None:
        nonlocal session_rows, tag_rows, event_rows
        if not force and len(event_rows) < CHUNK:
            return
        with server.storage.write() as conn:
            if session_rows:
                conn.execute(sessions.insert(), session_rows)
                conn.execute(session_tags.insert(), tag_rows)
            if event_rows:
                conn.execute(events.insert(), event_rows)
        session_rows, tag_rows, event_rows = [], [], []

    for i in range(n_sessions):
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        init = now - dt.timedelta(seconds=rng.uniform(0, 30 * 86400))
        tags = ["bench", f"tag-{i % 50}"]
        counts = dict.fromkeys(KINDS, 0)
        t = init
        for j in range(events_per):
            kind = KINDS[0 if j % 3 == 0 else 1 if j % 3 == 1 else 2]
            if rng.random() < 0.02:
                kind = "errors"
            counts[kind] += 1
            end = t + dt.timedelta(milliseconds=rng.randint(5, 800))
            data = {"event_type": kind, "params": {"q": "x" * 40}, "returns": "ok" * 20}
            event_rows.append(
                {
                    "session_id": sid,
                    "id": f"{sid[:8]}-{j}",
                    "project_id": project,
                    "event_type": kind,
                    "init_timestamp": t,
                    "end_timestamp": end,
                    "model": "gpt-4o-mini" if kind == "llms" else None,
                    "prompt_tokens": 300 if kind == "llms" else None,
                    "completion_tokens": 80 if kind == "llms" else None,
                    "cost_pico": 93_000_000 if kind == "llms" else None,
                    "data": json.dumps(data),
                    "received_at": end,
                }
            )
            t = end
        total_events += events_per
        ended = rng.random() > 0.01
        session_rows.append(
            {
                "id": sid,
                "project_id": project,
                "init_timestamp": init,
                "end_timestamp": t if ended else None,
                "end_state": ("Fail" if counts["errors"] else "Success")
                if ended
                else "Indeterminate",
                "tags": json.dumps(tags),
                "created_at": init,
                "updated_at": t,
                "last_event_at": t,
                "event_count": events_per,
                **counts,
                "prompt_tokens": 300 * counts["llms"],
                "completion_tokens": 80 * counts["llms"],
                "cost_pico": 93_000_000 * counts["llms"],
            }
        )
        tag_rows += [{"session_id": sid, "tag": tag, "project_id": project} for tag in tags]
        flush()
    flush(force=True)
    with server.storage.write() as conn:
        conn.exec_driver_sql("ANALYZE")
    return {
        "sessions": n_sessions,
        "events": total_events,
        "seconds": time.perf_counter() - started,
    }


def timed(http: httpx.Client, path: str, repeat: int) -> dict[str, float]:
    http.get(path).raise_for_status()  # warm: templates compiled, pages cached
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = http.get(path)
        samples.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
    samples.sort()
    return {
        "median_ms": statistics.median(samples),
        "p95_ms": samples[max(int(len(samples) * 0.95) - 1, 0)],
    }


def cases(server: TestServer, n_sessions: int) -> list[tuple[str, str]]:
    """(label, path) of each measured request; the deep cursor sits 90% into the list."""
    with server.storage.read() as conn:
        deep = conn.execute(
            sessions.select()
            .order_by(sessions.c.init_timestamp.desc(), sessions.c.id.desc())
            .offset(int(n_sessions * 0.9))
            .limit(1)
        ).one()
        some = conn.execute(sessions.select().limit(1).offset(n_sessions // 2)).one()
    cursor = cursors.encode("time", deep.init_timestamp, deep.id)
    return [
        ("sessions list, first page (HTML)", "/sessions"),
        ("sessions list, first page (JSON)", "/sessions?format=json"),
        ("filtered by tag (1 in 50)", "/sessions?tag=tag-7"),
        ("filtered by end state Fail", "/sessions?end_state=Fail"),
        ("free-text search", "/sessions?q=tag-13"),
        (f"deep page (cursor {int(n_sessions * 0.9):,} in)", f"/sessions?cursor={cursor}"),
        ("sorted by cost", "/sessions?sort=cost"),
        ("sorted by duration", "/sessions?sort=duration"),
        ("drilldown page (HTML)", f"/sessions/{some.id}"),
        ("drilldown JSON (what the timeline loads)", f"/sessions/{some.id}?format=json"),
        ("overview, 30 days (JSON)", "/overview?days=30&format=json"),
    ]


def run(n_sessions: int, events_per: int, repeat: int) -> tuple[dict[str, Any], list[Any]]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp,
        inprocess_server(db_url=f"sqlite:///{Path(tmp) / 'dash.db'}") as server,
    ):
        seeded = seed(server, n_sessions, events_per)
        with httpx.Client(base_url=server.url, transport=server.transport) as http:
            rows = [(label, timed(http, path, repeat)) for label, path in cases(server, n_sessions)]
    return seeded, rows


def report(seeded: dict[str, Any], rows: list[Any], repeat: int) -> str:
    lines = [
        MARK_BEGIN,
        f"## Dashboard pages at {seeded['sessions']:,} sessions (issue 4)",
        "",
        f"`python bench/bench_dashboard.py --write`: {seeded['sessions']:,} sessions and "
        f"{seeded['events']:,} events bulk-inserted into one SQLite file "
        f"({seeded['seconds']:.0f} s), then each page requested {repeat} times in-process "
        "through the ASGI app (server time, no sockets); 50 sessions per page.",
        "",
        "| request | median ms | p95 ms |",
        "|---|---|---|",
    ]
    for label, r in rows:
        lines.append(f"| {label} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} |")
    lines += [
        "",
        "Lists are keyset-paginated (no OFFSET) and read in the project index's order, so a "
        "page 90,000 sessions deep costs a few times the first page, not 1,800 pages of it. "
        "Sorting by cost or duration reads every session of the project (no index orders "
        "by them). The overview is the slow page: its tokens-by-model table sums every LLM "
        "event in the range (about 400,000 here); a per-day rollup kept at ingest would make it "
        "constant.",
        MARK_END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--events-per-session", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    seeded, rows = run(args.sessions, args.events_per_session, args.repeat)
    section = report(seeded, rows, args.repeat)
    print(section)
    if args.write:
        write_section(ROOT / "bench" / "RESULTS.md", MARK_BEGIN, MARK_END, section)


if __name__ == "__main__":
    main()
