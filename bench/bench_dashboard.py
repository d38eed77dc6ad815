"""Server time of the dashboard's pages at 100,000 sessions / 1,000,000 events (SQLite).

Not a test. Seeds a fresh SQLite database directly through the storage layer (bulk
INSERTs, not the ingest API, which has its own benchmark), then requests each page
in-process through the ASGI app (no sockets: the time is the server's) and reports the
median and p95 over repeated requests. Run ``python bench/bench_dashboard.py``
(``--write`` replaces its section in ``bench/RESULTS.md``; ``--sessions`` to scale).
"""

from __future__ import annotations

import argparse
import contextlib
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
import sqlalchemy as sa

from agentwatch.server import cursors
from agentwatch.server.pgcluster import throwaway_cluster
from agentwatch.server.storage import EventRecord, SessionFields, rollups
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


def run(
    n_sessions: int, events_per: int, repeat: int, pages: bool = True, db_url: str | None = None
) -> tuple[dict[str, Any], list[Any], dict[str, Any]]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp,
        inprocess_server(db_url=db_url or f"sqlite:///{Path(tmp) / 'dash.db'}") as server,
    ):
        seeded = seed(server, n_sessions, events_per)
        numbers: dict[str, Any] = {"rebuild_s": rebuild_rollups(server)}
        with httpx.Client(base_url=server.url, transport=server.transport) as http:
            numbers["overview"] = [(label, timed(http, path, repeat)) for label, path in OVERVIEWS]
            rows = []
            if pages:
                rows = [(lb, timed(http, path, repeat)) for lb, path in cases(server, n_sessions)]
            numbers["scan_30d"] = timed_scan(server, days=30, repeat=max(repeat // 4, 3))
        numbers["ingest"] = ingest_with_and_without_rollups(server, batches=120)
    return seeded, rows, numbers


# -- the overview's rollups (issue 12 item 5) ----------------------------------------------

NUMBERS_BEGIN = "<!-- bench_dashboard numbers: begin -->"
NUMBERS_END = "<!-- bench_dashboard numbers: end -->"
NUMBERS_PG_BEGIN = "<!-- bench_dashboard numbers pg: begin -->"
NUMBERS_PG_END = "<!-- bench_dashboard numbers pg: end -->"
OVERVIEWS = [
    ("overview, 24 hours by the hour (JSON)", "/overview?hours=24&tz=%2B00:00&format=json"),
    ("overview, 7 days (JSON)", "/overview?days=7&tz=%2B00:00&format=json"),
    ("overview, 30 days (JSON)", "/overview?days=30&tz=%2B00:00&format=json"),
    ("overview, 30 days in UTC+05:30 (HTML page)", "/overview?days=30&tz=%2B05:30"),
]


def rebuild_rollups(server: TestServer) -> float:
    """The seed bypasses ingest: compute the rollups from its rows, as migration 0008 does."""
    started = time.perf_counter()
    with server.storage.write() as conn:
        rollups.rebuild(conn)
    return time.perf_counter() - started


def timed_scan(server: TestServer, days: int, repeat: int) -> dict[str, float]:
    """The reference, in the same run: what the overview read before rollups, the sessions
    and every LLM event of the range (grouped in the database as it did)."""
    until = dt.datetime.now(dt.timezone.utc)
    since = until - dt.timedelta(days=days)
    e, c = events.c, sessions.c
    by_model = (
        sa.select(e.model, sa.func.count(), sa.func.sum(e.prompt_tokens), sa.func.sum(e.cost_pico))
        .where(e.project_id == server.project_id, e.event_type == "llms")
        .where(e.init_timestamp >= since, e.init_timestamp < until)
        .group_by(e.model)
    )
    day = sa.func.date(c.init_timestamp)
    by_day = (
        sa.select(day, c.end_state, sa.func.count(), sa.func.sum(c.cost_pico))
        .where(c.project_id == server.project_id)
        .where(c.init_timestamp >= since, c.init_timestamp < until)
        .group_by(day, c.end_state)
    )
    durations = sa.select(day, c.end_timestamp, c.last_event_at, c.init_timestamp).where(
        c.project_id == server.project_id, c.init_timestamp >= since, c.init_timestamp < until
    )
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        with server.storage.read() as conn:
            for query in (by_model, by_day, durations):
                conn.execute(query).all()
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(samples)}


def _batch(session: int, n: int, size: int, now: dt.datetime) -> list[EventRecord]:
    records = []
    for j in range(size):
        kind = KINDS[j % 3]
        start = now + dt.timedelta(seconds=j)
        records.append(
            EventRecord(
                id=f"b{session}-{n}-{j}",
                event_type=kind,
                counter=kind,
                init_timestamp=start,
                end_timestamp=start + dt.timedelta(milliseconds=300 + j),
                agent_id=None,
                thread_id=None,
                model=("gpt-4o-mini", "gpt-4o", "claude-3-5-haiku")[j % 3]
                if kind == "llms"
                else None,
                prompt_tokens=300 if kind == "llms" else None,
                completion_tokens=80 if kind == "llms" else None,
                cached_tokens=None,
                cost_pico=93_000_000 if kind == "llms" else None,
                trigger_event_id=None,
                trigger_event_type=None,
                data={"event_type": kind, "params": {"q": "x" * 40}, "returns": "ok" * 20},
                kind={"llms": "llm", "tools": "tool"}.get(kind, "action"),
            )
        )
    return records


def ingest_with_and_without_rollups(
    server: TestServer, batches: int, size: int = 100, sessions_used: int = 10
) -> dict[str, float]:
    """Milliseconds per ``size``-event v2 batch (Storage.insert_events, the write path under
    the lock) with the rollup hook and without it (the write path before rollups),
    interleaved in one run on the seeded database, into a few sessions round-robin."""
    storage, project = server.storage, server.project_id
    now = dt.datetime.now(dt.timezone.utc)
    ids = [str(uuid.uuid4()) for _ in range(sessions_used)]
    for sid in ids:
        storage.create_or_attach_session(project, SessionFields(sid, init_timestamp=now))
    hook = rollups.written
    samples: dict[bool, list[float]] = {True: [], False: []}
    try:
        for n in range(batches):
            with_rollups = n % 2 == 0
            rollups.written = hook if with_rollups else _no_rollups  # type: ignore[assignment]
            records = _batch(n % sessions_used, n, size, now + dt.timedelta(minutes=n))
            started = time.perf_counter()
            storage.insert_events(project, ids[n % sessions_used], records)
            samples[with_rollups].append((time.perf_counter() - started) * 1000)
    finally:
        rollups.written = hook
    without, with_ = statistics.median(samples[False]), statistics.median(samples[True])
    return {"without_ms": without, "with_ms": with_, "ratio": with_ / without, "batches": batches}


def _no_rollups(*_: Any) -> None:
    return None


def report_numbers(seeded: dict[str, Any], numbers: dict[str, Any], repeat: int) -> str:
    ingest = numbers["ingest"]
    lines = [
        NUMBERS_BEGIN,
        f"## The overview from rollups at {seeded['sessions']:,} sessions, "
        f"{numbers['database']} (issue 12)",
        "",
        f"`python bench/bench_dashboard.py --write`, the same database: the rollups computed "
        f"from its {seeded['events']:,} events as migration 0008 does "
        f"({numbers['rebuild_s']:.0f} s), then each overview requested {repeat} times "
        "in-process (server time). Target: 200 ms.",
        "",
        "| request | median ms | p95 ms |",
        "|---|---|---|",
    ]
    for label, r in numbers["overview"]:
        lines.append(f"| {label} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} |")
    scan = numbers.get("scan_30d")
    if scan:
        thirty = dict(numbers["overview"])["overview, 30 days (JSON)"]["median_ms"]
        lines += [
            "",
            f"Reference, same run: the queries the overview ran before (sessions, and every "
            f"LLM event of 30 days) take {scan['median_ms']:.0f} ms on their own; the whole "
            f"30-day overview now takes {thirty:.0f} ms, "
            f"**{scan['median_ms'] / thirty:.1f}x** faster.",
        ]
    lines += [
        "",
        f"Ingest cost of keeping them: a 100-event v2 batch (a third LLM calls of three models) "
        f"through `Storage.insert_events`, {ingest['batches']} batches alternating with and "
        f"without the rollup hook in one run: {ingest['without_ms']:.2f} ms without, "
        f"{ingest['with_ms']:.2f} ms with, **{ingest['ratio']:.2f}x**.",
        NUMBERS_END,
    ]
    return "\n".join(lines)


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
        "by them). The overview reads the rollups ingest keeps, not the events: see its own "
        "section.",
        MARK_END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--events-per-session", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument(
        "--overview-only", action="store_true", help="only the overview and its ingest cost"
    )
    parser.add_argument(
        "--postgres", action="store_true", help="on a throwaway PostgreSQL cluster, not SQLite"
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        url = None
        if args.postgres:
            admin = stack.enter_context(throwaway_cluster(durable=False))
            url = admin.replace("postgresql://", "postgresql+psycopg://", 1)
        seeded, rows, numbers = run(
            args.sessions, args.events_per_session, args.repeat, not args.overview_only, url
        )
    numbers["database"] = "PostgreSQL" if args.postgres else "SQLite"
    rollup_section = report_numbers(seeded, numbers, args.repeat)
    section = "" if args.overview_only else report(seeded, rows, args.repeat)
    print(section + "\n\n" + rollup_section)
    if args.write:
        results = ROOT / "bench" / "RESULTS.md"
        if section:
            write_section(results, MARK_BEGIN, MARK_END, section)
        pg = args.postgres
        marks = (NUMBERS_PG_BEGIN, NUMBERS_PG_END) if pg else (NUMBERS_BEGIN, NUMBERS_END)
        text = rollup_section.replace(NUMBERS_BEGIN, marks[0]).replace(NUMBERS_END, marks[1])
        write_section(results, *marks, text)


if __name__ == "__main__":
    main()
