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


ROWS = [
    ("otlp_aw", "**agentwatch**, SQLite", "sqlite_indexed"),
    ("otlp_aw_pg", "**agentwatch**, PostgreSQL", "pg_floor"),
    ("otlp_phoenix", "Arize Phoenix (`phoenix serve`, its SQLite default)", "sqlite_indexed"),
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
        "| receiver | spans stored/s | stored | ÷ Phoenix | share of its database's floor | export failures |",
        "|---|---|---|---|---|---|",
    ]
    for key, name, floor in ROWS:
        if reason := runs.unavailable(key):
            rows.append(f"| {name} | {reason} ||||||")
            continue
        rate = runs.median(key, "stored_per_s")
        rows.append(
            f"| {name} | {runs.cell(key, 'stored_per_s', 0)} | {stored_cell(runs, key)}"
            f" | {ratio(rate, phoenix)} | {share(rate, runs.median(floor, 'rows_per_s'))}"
            f" | {runs.cell(key, 'export_failed', 0)} |"
        )
    rows += ["", *targets(runs), "", *method()]
    return "\n".join(rows)


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else NA


def targets(runs: Runs) -> list[str]:
    aw = runs.median("otlp_aw", "stored_per_s")
    phoenix = runs.median("otlp_phoenix", "stored_per_s")
    floor = runs.median("sqlite_indexed", "rows_per_s")

    def met(ok: bool | None) -> str:
        return NA if ok is None else ("yes" if ok else "**no**")

    ahead = None if aw is None or phoenix is None else aw > phoenix
    enough = None if aw is None or not floor else aw >= TARGET_SHARE_OF_FLOOR * floor
    return [
        "| target (issue 10) | measured | met |",
        "|---|---|---|",
        f"| ahead of Phoenix | agentwatch {ratio(aw, phoenix)} Phoenix | {met(ahead)} |",
        f"| ≥ 60 % of the SQLite floor | {share(aw, floor)} | {met(enough)} |",
    ]


def method() -> list[str]:
    return [
        "The sender (`bench/bench_otlp.py`, floor venv) is the OpenTelemetry SDK with its",
        "OTLP/HTTP protobuf exporter behind a `BatchSpanProcessor` with its defaults (batches",
        "of 512); it pauses while a full queue is waiting, so nothing is dropped and every",
        "receiver gets the same spans: traces of 10 (an `invoke_agent` root, five `chat` spans",
        "with ~1 KB of messages, four `execute_tool`), GenAI and OpenInference attribute",
        "names on each. Each receiver runs in its own process on the same two cores as the",
        "sender; stored spans are what agentwatch's `/api/stats` counts and what Phoenix's",
        "`spans` table holds, timed from the first span to the last store.",
    ]
