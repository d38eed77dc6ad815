"""Search at 100,000 sessions / 1,000,000 events, and what its index costs ingest (SQLite).

Not a test. Two measurements, each against a reference taken in the same run:

1. **Search latency.** Seeds a fresh SQLite database through the storage layer's tables
   (bulk INSERTs, with the same search documents ingest writes: ``search.document`` and
   ``search.session_body``), text drawn from a Zipf-distributed vocabulary (a few words in
   most sessions, most words in a few), then asks ``GET /api/sessions`` in-process (ASGI,
   no sockets: server time) for rare, medium and common words, phrases, prefixes, error
   types, agent names, ids, and search combined with filters and sorts. Reports p50/p95
   per query and over all; the unfiltered first page is the reference.
2. **Ingest cost of the index.** ``POST /v2/create_events`` of 100 LLM events (prompts and
   completions of about 1.2 KB) into one session, in-process, alternating rounds with the
   index maintenance on and replaced by a no-op (what the code did before search): the
   ratio of the medians is the cost.

``python bench/bench_search.py`` (``--sessions``, ``--events-per-session``, ``--repeat``,
``--batches``; ``--write`` replaces its section in ``bench/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from agentwatch.server.pgcluster import throwaway_cluster
from agentwatch.server.storage import search
from agentwatch.server.storage.schema import agents, events, search_docs, session_tags, sessions
from agentwatch.server.testing import TestServer, inprocess_server
from common import write_section

ROOT = Path(__file__).resolve().parents[1]

CHUNK = 20_000
SYLLABLES = ("ka", "lo", "mi", "ra", "te", "su", "no", "vi", "de", "pa", "ri", "go", "ze", "lu")
TOOLS = [
    f"{verb}_{noun}"
    for verb in ("get", "search", "book", "send")
    for noun in (
        "flight",
        "hotel",
        "weather",
        "email",
        "invoice",
        "route",
        "menu",
        "ticket",
        "file",
        "user",
    )
]
ERRORS = ("RateLimitError", "Timeout", "CardDeclined", "KeyError", "ValidationError")
AGENTS = ("planner", "researcher", "concierge", "coder", "reviewer", "booker", "critic")
MODELS = ("gpt-4o-mini", "gpt-4o", "claude-3-5-haiku")


def vocabulary(rng: random.Random, size: int) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))] = None
    return list(words)


class Text:
    """Words drawn by rank with weight 1/rank (Zipf): rank 1 is in most sessions."""

    def __init__(self, rng: random.Random, size: int = 20_000) -> None:
        self.rng = rng
        self.words = vocabulary(rng, size)
        self.cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(size)))

    def sentence(self, n: int) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.cumulative, k=n))


def seed(server: TestServer, n_sessions: int, events_per: int) -> dict[str, Any]:
    """Sessions over 30 days, ``events_per`` events each, with their search documents."""
    rng = random.Random(11)
    text = Text(rng)
    now = dt.datetime.now(dt.timezone.utc)
    project = server.project_id
    batch: dict[str, list[dict[str, Any]]] = {"s": [], "t": [], "e": [], "a": [], "d": []}
    started = time.perf_counter()
    first_id = ""

    def flush(force: bool = False) -> None:
        if not force and len(batch["e"]) < CHUNK:
            return
        with server.storage.write() as conn:
            for table, key in (
                (sessions, "s"),
                (session_tags, "t"),
                (events, "e"),
                (agents, "a"),
                (search_docs, "d"),
            ):
                if batch[key]:
                    conn.execute(table.insert(), batch[key])
                batch[key] = []

    for i in range(n_sessions):
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        first_id = first_id or sid
        init = now - dt.timedelta(seconds=rng.uniform(0, 30 * 86400))
        model = rng.choice(MODELS)
        t = init
        errors = llms = 0
        bodies: list[str] = []
        for j in range(events_per):
            kind = ("llms", "tools", "actions")[j % 3]
            if rng.random() < 0.02:
                kind = "errors"
            end = t + dt.timedelta(milliseconds=rng.randint(5, 800))
            if kind == "llms":
                llms += 1
                data: dict[str, Any] = {
                    "prompt": [{"role": "user", "content": text.sentence(14)}],
                    "completion": {"role": "assistant", "content": text.sentence(14)},
                }
            elif kind == "tools":
                data = {
                    "name": rng.choice(TOOLS),
                    "params": {"arguments": json.dumps({"q": text.sentence(4)})},
                }
            elif kind == "errors":
                errors += 1
                data = {"error_type": rng.choice(ERRORS), "details": text.sentence(6)}
            else:
                data = {"action_type": "step", "params": {"note": text.sentence(5)}}
            event_id = f"{sid[:8]}-{j}"
            batch["e"].append(
                {
                    "session_id": sid,
                    "id": event_id,
                    "project_id": project,
                    "event_type": kind,
                    "init_timestamp": t,
                    "end_timestamp": end,
                    "model": model if kind == "llms" else None,
                    "prompt_tokens": 300 if kind == "llms" else None,
                    "completion_tokens": 80 if kind == "llms" else None,
                    "cost_pico": 93_000_000 if kind == "llms" else None,
                    "data": json.dumps({"event_type": kind, **data}),
                    "received_at": end,
                }
            )
            bodies.append(search.text_of(data))
            t = end
        # As ingest writes them: the session's events came in one batch.
        batch["d"].append(
            {"session_id": sid, "event_id": None, "trace_id": None, "body": search.document(bodies)}
        )
        tags = ["bench", f"tag-{i % 50}"]
        names = rng.sample(AGENTS, rng.randint(1, 2))
        row = {
            "id": sid,
            "project_id": project,
            "init_timestamp": init,
            "end_timestamp": t,
            "end_state": "Fail" if errors else "Success",
            "end_state_reason": text.sentence(3) if errors else None,
            "tags": json.dumps(tags),
            "created_at": init,
            "updated_at": t,
            "last_event_at": t,
            "event_count": events_per,
            "llms": llms,
            "errors": errors,
            "prompt_tokens": 300 * llms,
            "completion_tokens": 80 * llms,
            "cost_pico": 93_000_000 * llms,
            "models": json.dumps([model]),
        }
        batch["s"].append(row)
        batch["t"] += [{"session_id": sid, "tag": tag, "project_id": project} for tag in tags]
        batch["a"] += [
            {"session_id": sid, "id": f"a{k}", "name": name, "created_at": init}
            for k, name in enumerate(names)
        ]
        body = search.session_body(_SessionRow(row), names)
        batch["d"].append({"session_id": sid, "event_id": "", "trace_id": None, "body": body})
        flush()
    flush(force=True)
    with server.storage.write() as conn:
        conn.exec_driver_sql("ANALYZE")
    return {
        "sessions": n_sessions,
        "events": n_sessions * events_per,
        "seconds": time.perf_counter() - started,
        "words": text.words,
        "first_id": first_id,
    }


class _SessionRow:
    """What ``search.session_body`` reads of a session row, from a dict."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.id = row["id"]
        self.external_id = None
        self.user_id = None
        self.end_state_reason = row["end_state_reason"]
        self.tags = row["tags"]
        self.session_metadata = None


def timed(call: Callable[[], httpx.Response], repeat: int) -> dict[str, float]:
    call().raise_for_status()  # warm
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
    samples.sort()
    return {
        "p50_ms": statistics.median(samples),
        "p95_ms": samples[max(int(len(samples) * 0.95) - 1, 0)],
        "total": float(response.json()["total"]),
    }


def cases(seeded: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    words = seeded["words"]
    sid = seeded["first_id"]
    return [
        ("reference: first page, no search", {}),
        ("common word (rank 1)", {"q": words[0]}),
        ("medium word (rank 300)", {"q": words[300]}),
        ("rare word (rank 15,000)", {"q": words[15_000]}),
        ("two words", {"q": f"{words[5]} {words[40]}"}),
        ("prefix of a medium word", {"q": words[300][:4]}),
        ("error type", {"q": "CardDeclined"}),
        ("tool name", {"q": "book_hotel"}),
        ("agent name", {"q": "concierge"}),
        ("full session id", {"q": sid}),
        ("8-character id", {"q": sid[:8]}),
        ("word + has errors", {"q": words[1], "has_errors": "true"}),
        ("word + sorted by cost", {"q": words[300], "sort": "cost"}),
        ("word + model + cost range", {"q": words[50], "model": "gpt-4o", "min_cost": "0.1"}),
    ]


@contextmanager
def index_replaced_by_noop(off: bool) -> Iterator[None]:
    real = search.index
    if off:
        search.index = lambda *args, **kwargs: None
    try:
        yield
    finally:
        search.index = real


def ingest_cost(batches: int, kind: str) -> dict[str, float]:
    """Median ms of a 100-event create_events with the index on and off, interleaved, on a
    fresh database of ``kind``."""
    rng = random.Random(3)
    text = Text(rng, 5000)
    samples: dict[bool, list[float]] = {True: [], False: []}
    with (
        database(kind) as url,
        inprocess_server(db_url=url) as server,
        httpx.Client(base_url=server.url, transport=server.transport) as http,
    ):
        key = {"X-Agentops-Api-Key": server.api_key}
        answer = http.post(
            "/v2/create_session", json={"session": {"session_id": str(uuid.uuid4())}}, headers=key
        )
        jwt = {"Authorization": f"Bearer {answer.json()['jwt']}"}
        for round_ in range(batches * 2 + 2):
            on = round_ % 2 == 0
            now = dt.datetime.now(dt.timezone.utc).isoformat()
            body = {
                "events": [
                    {
                        "id": str(uuid.uuid4()),
                        "event_type": "llms",
                        "init_timestamp": now,
                        "end_timestamp": now,
                        "model": "gpt-4o-mini",
                        "prompt": [{"role": "user", "content": text.sentence(90)}],
                        "completion": {"role": "assistant", "content": text.sentence(90)},
                        "prompt_tokens": 1200,
                        "completion_tokens": 300,
                    }
                    for _ in range(100)
                ]
            }
            with index_replaced_by_noop(not on):
                t0 = time.perf_counter()
                http.post("/v2/create_events", json=body, headers=jwt).raise_for_status()
                elapsed = (time.perf_counter() - t0) * 1000
            if round_ >= 2:  # the first two warm up
                samples[on].append(elapsed)
    without, with_index = statistics.median(samples[False]), statistics.median(samples[True])
    return {
        "off_ms": without,
        "on_ms": with_index,
        "ratio": with_index / without,
        "batches": float(batches),
    }


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh database URL: a SQLite file, or a new database on a throwaway PostgreSQL
    cluster (durable, as a user runs it)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'search.db'}"
        return
    with throwaway_cluster() as admin:
        engine = sa.create_engine(admin.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CREATE DATABASE bench_search")
        engine.dispose()
        yield (
            admin.replace("postgresql://", "postgresql+psycopg://", 1).rsplit("/", 1)[0]
            + "/bench_search"
        )


def run(args: argparse.Namespace) -> tuple[dict[str, Any], list[Any], dict[str, float]]:
    cost = ingest_cost(args.batches, args.database)
    with database(args.database) as url, inprocess_server(db_url=url) as server:
        seeded = seed(server, args.sessions, args.events_per_session)
        seeded["database"] = "PostgreSQL" if args.database == "postgres" else "SQLite"
        seeded["kind"] = args.database
        with httpx.Client(base_url=server.url, transport=server.transport) as http:
            key = {"X-Agentops-Api-Key": server.api_key}

            def asking(params: dict[str, Any]) -> Callable[[], httpx.Response]:
                return lambda: http.get("/api/sessions", params=params, headers=key)

            rows = [(label, timed(asking(params), args.repeat)) for label, params in cases(seeded)]
    return seeded, rows, cost


def report(seeded: dict[str, Any], rows: list[Any], cost: dict[str, float], repeat: int) -> str:
    reference = rows[0][1]["p95_ms"]
    searched = [r for label, r in rows[1:]]
    lines = [
        f"<!-- bench_search {seeded['kind']}: begin -->",
        f"## Search at {seeded['sessions']:,} sessions / {seeded['events']:,} events, "
        f"{seeded['database']} (issue 12)",
        "",
        f"`python bench/bench_search.py --write`: {seeded['sessions']:,} sessions and "
        f"{seeded['events']:,} events with their search documents bulk-inserted into "
        f"{seeded['database']} ({seeded['seconds']:.0f} s), text from a Zipf vocabulary of 20,000 "
        f"words; each query asked {repeat} times of `GET /api/sessions` in-process (server "
        "time, with `total`); 50 sessions per page.",
        "",
        "| query | matching sessions | p50 ms | p95 ms | p95 / reference |",
        "|---|---|---|---|---|",
    ]
    for label, r in rows:
        lines.append(
            f"| {label} | {int(r['total']):,} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
            f"{r['p95_ms'] / reference:.1f} |"
        )
    worst = max(r["p95_ms"] for r in searched)
    every = sorted(r["p95_ms"] for r in searched)
    lines += [
        "",
        f"Worst search p95: {worst:.1f} ms ({worst / reference:.1f}x the unfiltered first page); "
        f"median of the searches' p95: {statistics.median(every):.1f} ms. Target: p95 <= 200 ms. "
        "Read the ratio column across runs: absolute times move with what else runs on the "
        "machine (the reference, the unfiltered first page, is the same request without "
        "the search).",
        "",
        f"Ingest ({seeded['database']}): `POST /v2/create_events` of 100 LLM events (about 1.2 KB of prompt and "
        f"completion each), {int(cost['batches'])} batches each way, interleaved: "
        f"{cost['off_ms']:.1f} ms median without the index maintenance, {cost['on_ms']:.1f} ms "
        f"with it: **{cost['ratio']:.2f}x**.",
        f"<!-- bench_search {seeded['kind']}: end -->",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--events-per-session", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    seeded, rows, cost = run(args)
    section = report(seeded, rows, cost, args.repeat)
    print(section)
    if args.write:
        mark = f"bench_search {args.database}"
        write_section(
            ROOT / "bench" / "RESULTS.md",
            f"<!-- {mark}: begin -->",
            f"<!-- {mark}: end -->",
            section,
        )


if __name__ == "__main__":
    main()
