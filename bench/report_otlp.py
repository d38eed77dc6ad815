"""The OTLP ingest section of RESULTS.md: agentwatch beside Arize Phoenix (bench_otlp.py).

Issue 10's targets: ahead of Phoenix, and at least 60 % of this machine's SQLite floor;
the PostgreSQL figure is reported against the PostgreSQL floor.
"""

from __future__ import annotations

from typing import Protocol

NA = "-"
TARGET_SHARE_OF_FLOOR = 0.6


class Runs(Protocol):
    """What report.Runs offers (imported from there at run time; a Protocol here)."""

    def median(self, key: str, name: str) -> float | None: ...
    def cell(self, key: str, name: str, digits: int = 1, scale: float = 1.0) -> str: ...
    def values(self, key: str, name: str) -> list[float]: ...
    def unavailable(self, key: str) -> str | None: ...


ONE = "1, live"
FLEET = "4, pre-made"
ROWS = [
    ("otlp_aw", "**agentwatch**, SQLite", ONE, "sqlite_indexed"),
    ("otlp_aw_fleet", "**agentwatch**, SQLite", FLEET, "sqlite_indexed"),
    ("otlp_aw_pg", "**agentwatch**, PostgreSQL", ONE, "pg_floor"),
    ("otlp_aw_pg_fleet", "**agentwatch**, PostgreSQL", FLEET, "pg_floor"),
    ("otlp_phoenix", "Arize Phoenix (`phoenix serve`, its SQLite default)", ONE, "sqlite_indexed"),
]
# The same senders against stub_server.py, which only counts spans: their own ceiling.
CEILING = "the senders alone (a receiver that only counts, stores nothing)"
CEILING_ROWS = [
    ("otlp_stub", CEILING, ONE, "sqlite_indexed"),
    ("otlp_stub_fleet", CEILING, FLEET, "sqlite_indexed"),
]


def share(value: float | None, of: float | None) -> str:
    return f"{100 * value / of:.0f} %" if value is not None and of else NA


def stored_cell(runs: Runs, key: str) -> str:
    stored, n = runs.values(key, "stored"), runs.values(key, "n")
    if not stored or not n:
        return NA
    complete = "all" if min(stored) >= n[0] else f"**{min(stored):,.0f} at least**"
    return f"{complete} of {n[0]:,.0f}"


def otlp_section(runs: Runs) -> str:
    phoenix = runs.median("otlp_phoenix", "stored_per_s")
    rows = [
        "## OpenTelemetry ingest: spans stored per second through `/v1/traces`",
        "",
        "| receiver | senders | spans stored/s | stored | ÷ Phoenix | share of its database's floor"
        " | receiver CPU µs/span | spans per receiver CPU-second, share of the floor"
        " | export failures |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, name, senders, floor in ROWS + CEILING_ROWS:
        if reason := runs.unavailable(key):
            rows.append(f"| {name} | {senders} | {reason} |||||||")
            continue
        rate = runs.median(key, "stored_per_s")
        floor_rate = runs.median(floor, "rows_per_s")
        # A receiver that stores nothing is no rival of Phoenix, nor a share of a floor.
        stores = name != CEILING
        rows.append(
            f"| {name} | {senders} | {runs.cell(key, 'stored_per_s', 0)} | {stored_cell(runs, key)}"
            f" | {ratio(rate, phoenix) if stores else NA} | {share(rate, floor_rate)}"
            f" | {runs.cell(key, 'server_cpu_us_per_span', 0)}"
            f" | {share(runs.median(key, 'stored_per_server_cpu_s'), floor_rate) if stores else NA}"
            f" | {runs.cell(key, 'export_failed', 0)} |"
        )
    rows += ["", *targets(runs), "", *method()]
    return "\n".join(rows)


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else NA


def targets(runs: Runs) -> list[str]:
    one = runs.median("otlp_aw", "stored_per_s")
    fleet = runs.median("otlp_aw_fleet", "stored_per_s")
    phoenix = runs.median("otlp_phoenix", "stored_per_s")
    floor = runs.median("sqlite_indexed", "rows_per_s")
    best = max((r for r in (one, fleet) if r is not None), default=None)
    one_ceiling = runs.median("otlp_stub", "stored_per_s")
    fleet_ceiling = runs.median("otlp_stub_fleet", "stored_per_s")

    def met(ok: bool | None) -> str:
        return NA if ok is None else ("yes" if ok else "**no**")

    ahead = None if one is None or phoenix is None else one > phoenix
    enough = None if best is None or not floor else best >= TARGET_SHARE_OF_FLOOR * floor
    return [
        "| target (issue 10) | measured | met |",
        "|---|---|---|",
        f"| ahead of Phoenix (one sender each) | agentwatch {ratio(one, phoenix)} Phoenix"
        f" | {met(ahead)} |",
        f"| ≥ 60 % of the SQLite floor | one sender {share(one, floor)},"
        f" four senders {share(fleet, floor)} | {met(enough)} |",
        f"| (the most these senders allow: what they reach against a receiver that only"
        f" counts) | one sender {share(one_ceiling, floor)}, four senders"
        f" {share(fleet_ceiling, floor)} of the SQLite floor | - |",
    ]


def method() -> list[str]:
    return [
        "The senders (`bench/bench_otlp.py`, floor venv) are the OpenTelemetry SDK with its",
        "OTLP/HTTP protobuf exporter behind a `BatchSpanProcessor` with its defaults (batches",
        "of 512); each pauses while a full queue is waiting, so nothing is dropped and every",
        "receiver gets the same spans: traces of 10 (an `invoke_agent` root, five `chat` spans",
        "with ~1 KB of messages, four `execute_tool`), GenAI and OpenInference attribute",
        "names on each. *1, live*: one process making its spans while the clock runs (one",
        "agent process; its own span making and encoding, ~35 + ~38 µs per span here, cap it",
        "near 14,000 spans/s whatever the receiver does). *4, pre-made*: four processes, each",
        "with its own provider, processor and exporter, exporting spans the SDK made before",
        "the clock started (a fleet; the encoding is still timed). Each receiver runs in its",
        "own process on the same two cores as the senders; stored spans are what agentwatch's",
        "`/api/stats` counts and what Phoenix's `spans` table holds, timed from the senders'",
        "start to the last store. *Receiver CPU*: user + system time of the receiver's",
        "process per span stored (`/proc`), and the rate that CPU would allow on a core of",
        "its own, against the same floor. The floors insert ~1.1 KB rows 100 per transaction",
        "(SQLite with `synchronous=NORMAL`); agentwatch stores ~1.8 KB per span (every",
        "attribute, the resource, the mapped messages), its trace and session rows and",
        "counters, and commits each request with `synchronous=FULL` (one fsync).",
        "*The senders alone*: the same senders against `bench/stub_server.py`, which parses",
        "each request and counts its spans (no storing): the rate no receiver on this machine",
        "can pass with these senders, because they share its two cores.",
    ]
