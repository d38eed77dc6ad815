"""Render the collected runs (see run.py) as bench/RESULTS.md.

Every figure is the median over runs with [min..max] beside it; ratios compare medians.
"""

from __future__ import annotations

import statistics
from typing import Any

from report_otlp import otlp_section

Data = dict[str, Any]
NA = "-"

SDK_ROWS = [
    (
        "otel",
        "raw OpenTelemetry (floor)",
        "span + 6 attributes, BatchSpanProcessor, no-op exporter",
    ),
    (
        "otel_decorated",
        "raw OpenTelemetry, decorated call",
        "call of a `@tracer.start_as_current_span` function (no attributes)",
    ),
    (
        "ao3_walk",
        "agentops 0.3.26, defaults",
        "`ActionEvent(...)` + `session.record()` (stack walk)",
    ),
    ("ao3_nowalk", "agentops 0.3.26, no stack walk", "same with `agent_id=None`"),
    ("ao4", "agentops 0.4.21 (OTel 1.36)", "call of an `@agentops.tool` function"),
    ("langfuse", "langfuse", "`start_observation(as_type='tool')` + `update` + `end`"),
    ("aw_record", "**agentwatch**", "`session.record(ActionEvent(...))`"),
    ("aw_record_nested", "**agentwatch**, nested", "same inside two open `session.span()` blocks"),
    ("aw_threads", "**agentwatch**, 8 threads", "same, 8 threads into 8 sessions"),
    ("aw_decorated", "**agentwatch**, decorated call", "call of a `@record_tool` function"),
]
# Rows whose unit is not a burst delivered to the stub while timing the caller.
_NOT_BURSTS = ("otel", "otel_decorated", "aw_threads", "aw_decorated")
VERSION_KEYS = {
    "floor": [
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-http",
        "uvicorn",
        "starlette",
        "httptools",
        "uvloop",
        "orjson",
        "psycopg",
    ],
    "agentops03": ["agentops", "opentelemetry-sdk", "requests", "psutil"],
    "agentops04": ["agentops", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http"],
    "langfuse": ["langfuse", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http"],
    "phoenix": ["arize-phoenix", "opentelemetry-proto", "sqlalchemy", "aiosqlite", "uvicorn"],
    "agentwatch": ["agentwatch", "opentelemetry-sdk", "httpx", "orjson", "fastapi", "sqlalchemy"],
}


class Runs:
    """The runs of every bench, with median/min/max lookups that tolerate absences."""

    def __init__(self, data: Data) -> None:
        self.benches: dict[str, Data] = data["benches"]

    def results(self, key: str) -> list[Data]:
        return list(self.benches.get(key, {}).get("results", []))

    def values(self, key: str, name: str) -> list[float]:
        found = (r.get(name) for r in self.results(key))
        return [float(v) for v in found if isinstance(v, int | float)]

    def median(self, key: str, name: str) -> float | None:
        vals = self.values(key, name)
        return statistics.median(vals) if vals else None

    def cell(self, key: str, name: str, digits: int = 1, scale: float = 1.0) -> str:
        vals = [v * scale for v in self.values(key, name)]
        if not vals:
            return NA
        mid = num(statistics.median(vals), digits)
        return (
            mid if len(vals) == 1 else f"{mid} [{num(min(vals), digits)}..{num(max(vals), digits)}]"
        )

    def unavailable(self, key: str) -> str | None:
        for result in self.results(key):
            if "unavailable" in result:
                return str(result["unavailable"])
        errors = self.benches.get(key, {}).get("errors", [])
        if errors and not self.results(key):
            return f"failed: {errors[0][:300]}"
        return None


def num(value: float, digits: int = 1) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else NA


def write_report(data: Data) -> str:
    runs = Runs(data)
    parts = [
        header(data),
        sdk_table(runs),
        targets_table(data, runs),
        tree_targets_table(runs),
        otlp_section(runs),
        startup_section(data, runs),
        floors_section(runs),
        versions_section(data),
        notes_section(data, runs),
    ]
    return "\n\n".join(parts) + "\n"


def header(data: Data) -> str:
    m = data["machine"]
    return "\n".join(
        [
            "# Benchmarks: agentwatch beside its references",
            "",
            f"Written by `make bench` (bench/run.py) on {data['date']}, in {data['elapsed_s'] / 60:.1f} min.",
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, Python {m['python']}, {m['os']}.",
            f"Load average (1/5/15 min) at the start: {m['load_at_start']}; at the end: {m['load']}.",
            f"agentwatch measured at commit {data.get('agentwatch_revision', '?')}.",
            "Every SDK runs in its own venv under `bench/.venvs/` against one local stub backend",
            "(`bench/stub_server.py`, 127.0.0.1) that shares the two cores with it; each figure is the",
            "median of several fresh-process runs, with [min..max] of the runs. Methods follow",
            "`shared/research/perf.md`; see *Method* at the end.",
        ]
    )


def sdk_table(runs: Runs) -> str:
    aw = runs.median("aw_record", "p50_us")
    rows = [
        "## Caller cost per event and delivery of a burst",
        "",
        "| SDK | unit | p50 µs | p99 µs | caller ev/s | delivered / sent (during the loop) | delivered ev/s | process CPU µs/event | wire B/event | end / flush s | peak RSS MiB | p50 ÷ agentwatch p50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, name, unit in SDK_ROWS:
        if reason := runs.unavailable(key):
            rows.append(f"| {name} | {unit} | {reason} |||||||||")
            continue
        rows.append(
            "| "
            + " | ".join(
                [
                    name,
                    unit,
                    runs.cell(key, "p50_us"),
                    runs.cell(key, "p99_us"),
                    runs.cell(key, "caller_events_per_s", scale=1.0),
                    delivered_cell(runs, key),
                    runs.cell(key, "delivered_per_s"),
                    runs.cell(key, "cpu_us_per_event"),
                    runs.cell(key, "wire_bytes_per_event", 0),
                    runs.cell(key, "end_session_s", 3),
                    runs.cell(key, "peak_rss_mib"),
                    ratio(runs.median(key, "p50_us"), aw),
                ]
            )
            + " |"
        )
    rows += [
        "",
        "The burst is sent as fast as the caller can go, then the session is ended (agentops 0.3:",
        "`end_session`; 0.4: `end_trace` + `force_flush`; langfuse: `flush()`; agentwatch:",
        "`end_session`), and the stub counts what arrived. agentops 0.3 with its stack walk costs",
        "about 1 ms per event, so it sends a smaller burst (see `n` in results.json) to stay",
        "under a minute per run. For OTel, *delivered* is what the no-op exporter received.",
        "agentwatch delivers nothing *during* its loop: recording never releases the GIL, so",
        "its export thread runs when the loop ends (or, in a longer loop, once the queue is",
        "half full and recording starts yielding it the GIL: see `bench/README.md`).",
        "*Process CPU µs/event* is the SDK process's CPU time (every thread: recording, encoding,",
        "exporting, HTTP) from the first event until the stub has them all, divided by the events",
        "sent: what the SDK costs the machine, where p50 is what it costs the caller.",
        "*Wire B/event* is the request bodies as sent (gzip included, where the SDK uses it)",
        "divided by the events delivered. agentwatch and langfuse gzip their bodies and this",
        "benchmark's events are all alike, so their figures are far below what real, varied",
        "events cost.",
    ]
    return "\n".join(rows)


def delivered_cell(runs: Runs, key: str) -> str:
    if key.startswith("otel"):
        return f"{runs.cell(key, 'exported', 0)} / {runs.cell(key, 'spans', 0)}"
    if key in _NOT_BURSTS:
        return f"{runs.cell(key, 'delivered', 0)} / {runs.cell(key, 'n', 0)}"
    during = runs.cell(key, "delivered_during_loop", 0)
    return f"{runs.cell(key, 'delivered', 0)} / {runs.cell(key, 'n', 0)} ({during})"


def targets_table(data: Data, runs: Runs) -> str:
    otel = runs.median("otel", "p50_us")
    aw_p50, aw_p99 = runs.median("aw_record", "p50_us"), runs.median("aw_record", "p99_us")
    threads = runs.median("aw_threads", "p50_us")
    start = runs.median("aw_start", "p50_us")
    imports = {k: statistics.median(v) for k, v in data["imports_ms"].items() if v}
    aw_import, otel_import = (
        imports.get("agentwatch (agentwatch)"),
        imports.get("opentelemetry.sdk.trace (floor)"),
    )
    sqlite = runs.median("sqlite_indexed", "rows_per_s")
    stored_rate = runs.median("aw_server_burst", "stored_per_s")
    rows = [
        "## agentwatch against the targets of issue 6",
        "",
        "| figure | measured | target | met |",
        "|---|---|---|---|",
        target_row(
            "`record()` p50, caller thread",
            f"{runs.cell('aw_record', 'p50_us')} µs",
            f"≤ raw OTel p50 = {num(otel or 0)} µs",
            aw_p50,
            otel,
        ),
        target_row(
            "`record()` p99",
            f"{runs.cell('aw_record', 'p99_us')} µs",
            f"≤ 2 x raw OTel p50 = {num(2 * (otel or 0))} µs",
            aw_p99,
            2 * otel if otel else None,
        ),
        target_row(
            "`record()` p99, stricter reading",
            f"{runs.cell('aw_record', 'p99_us')} µs",
            f"≤ 2 x agentwatch's own p50 = {num(2 * (aw_p50 or 0))} µs",
            aw_p99,
            2 * aw_p50 if aw_p50 else None,
        ),
        target_row(
            "`record()` p50, 8 threads / 8 sessions",
            f"{runs.cell('aw_threads', 'p50_us')} µs",
            f"≤ 2 x single = {num(2 * (aw_p50 or 0))} µs",
            threads,
            2 * aw_p50 if aw_p50 else None,
        ),
        target_row(
            "`start_session()` p50",
            f"{runs.cell('aw_start', 'p50_us')} µs (p99 {runs.cell('aw_start', 'p99_us')})",
            "≤ 1,000 µs, no network wait",
            start,
            1000.0,
        ),
        burst_row(runs),
        server_burst_row(runs),
        target_row(
            "end to end, events stored/s (SQLite)",
            rate_text(runs),
            f"≥ 60 % of SQLite floor = {num(0.6 * (sqlite or 0))}/s",
            -(stored_rate or 0) if stored_rate else None,
            -0.6 * sqlite if sqlite else None,
        ),
        postgres_row(runs),
        target_row(
            "`import agentwatch`",
            f"{num(aw_import or 0)} ms",
            f"≤ 1.5 x OTel SDK import = {num(1.5 * (otel_import or 0))} ms",
            aw_import,
            1.5 * otel_import if otel_import else None,
        ),
        memory_row(runs),
        end_pending_row(runs),
    ]
    return "\n".join(rows)


def tree_targets_table(runs: Runs) -> str:
    """Issue 11: recording a tree costs no more than the targets allow."""
    otel_p50, otel_p99 = runs.median("otel", "p50_us"), runs.median("otel", "p99_us")
    nested_p50 = runs.median("aw_record_nested", "p50_us")
    nested_p99 = runs.median("aw_record_nested", "p99_us")
    rows = [
        "## agentwatch against the targets of issue 11 (the session tree)",
        "",
        "| figure | measured | target | met |",
        "|---|---|---|---|",
        target_row(
            "`record()` p50 with nesting (two open spans)",
            f"{runs.cell('aw_record_nested', 'p50_us')} µs",
            f"≤ 0.5 x raw OTel span p50 = {num(0.5 * (otel_p50 or 0))} µs",
            nested_p50,
            0.5 * otel_p50 if otel_p50 else None,
        ),
        target_row(
            "`record()` p99 with nesting",
            f"{runs.cell('aw_record_nested', 'p99_us')} µs",
            f"≤ raw OTel span p99 = {num(otel_p99 or 0)} µs",
            nested_p99,
            otel_p99,
        ),
        nested_burst_row(runs),
        (
            "| decorated call, p50 (overhead over the bare function) |"
            f" `@record_tool` {runs.cell('aw_decorated', 'p50_us')} µs"
            f" ({runs.cell('aw_decorated', 'overhead_p50_us')});"
            f" OTel `@start_as_current_span` {runs.cell('otel_decorated', 'p50_us')} µs;"
            f" `@agentops.tool` (0.4) {runs.cell('ao4', 'p50_us')} µs"
            " | reported | - |"
        ),
        "| the OTLP tee (GenAI spans out), when on | `record()` with `otlp_endpoint` set ÷ unset,"
        " same run: see *The OTLP tee* below (`bench_otlp_tee.py`, run by `make bench`)"
        " | reported | - |",
    ]
    return "\n".join(rows)


def nested_burst_row(runs: Runs) -> str:
    key = "aw_record_nested"
    figure = "50,000-event burst with nesting, delivered (+ the 2 spans)"
    if reason := runs.unavailable(key):
        return f"| {figure} | {reason} | all, 0 dropped | - |"
    delivered, n = runs.values(key, "delivered"), runs.values(key, "n")
    dropped = [r.get("dropped") for r in runs.results(key)]
    met = NA if not n else ("yes" if delivered and min(delivered) >= n[0] else "**no**")
    return (
        f"| {figure} | {runs.cell(key, 'delivered', 0)} of {num(n[0] if n else 0, 0)},"
        f" SDK drop counts {dropped} | all, 0 dropped | {met} |"
    )


def target_row(
    figure: str, measured: str, target: str, value: float | None, limit: float | None
) -> str:
    met = NA if value is None or limit is None else ("yes" if value <= limit else "**no**")
    return f"| {figure} | {measured} | {target} | {met} |"


def burst_row(runs: Runs) -> str:
    delivered, n = runs.values("aw_record", "delivered"), runs.values("aw_record", "n")
    dropped = [r.get("dropped") for r in runs.results("aw_record")]
    met = NA if not n else ("yes" if delivered and min(delivered) >= n[0] else "**no**")
    return (
        f"| 50,000-event burst to the stub, delivered | {runs.cell('aw_record', 'delivered', 0)}"
        f" of {num(n[0] if n else 0, 0)}, SDK drop counts {dropped} | all, 0 dropped | {met} |"
    )


def server_burst_row(runs: Runs) -> str:
    figure = "50,000-event burst into the real server (SQLite), stored"
    if reason := runs.unavailable("aw_server_burst"):
        return f"| {figure} | {reason} | all, 0 dropped | - |"
    stored, n = runs.values("aw_server_burst", "stored"), runs.values("aw_server_burst", "n")
    met = "yes" if stored and n and min(stored) >= n[0] else "**no**"
    dropped = [r.get("dropped") for r in runs.results("aw_server_burst")]
    return (
        f"| {figure} | {runs.cell('aw_server_burst', 'stored', 0)} in the end, after"
        f" {runs.cell('aw_server_burst', 'seconds_until_stored')} s;"
        f" {runs.cell('aw_server_burst', 'stored_when_end_session_returned', 0)} when `end_session()`"
        f" returned (after {runs.cell('aw_server_burst', 'end_session_s', 2)} s); SDK drop counts {dropped}"
        f" | all, 0 dropped | {met} |"
    )


def rate_text(runs: Runs) -> str:
    if reason := runs.unavailable("aw_server_burst"):
        return reason
    sqlite = runs.median("sqlite_indexed", "rows_per_s")
    rate = runs.median("aw_server_burst", "stored_per_s")
    share = f" = {100 * rate / sqlite:.0f} % of the floor" if rate and sqlite else ""
    return (
        f"{runs.cell('aw_server_burst', 'stored_per_s', 0)}/s{share} (first record to last store)"
    )


def postgres_row(runs: Runs) -> str:
    figure = "the same into PostgreSQL, events stored/s"
    if reason := runs.unavailable("aw_server_burst_pg"):
        return f"| {figure} | {reason} | ≥ 60 % of the PostgreSQL floor (issue 10) | - |"
    floor = runs.median("pg_floor", "rows_per_s")
    rate = runs.median("aw_server_burst_pg", "stored_per_s")
    share = f" = {100 * rate / floor:.0f} % of the floor" if rate and floor else ""
    stored, n = runs.values("aw_server_burst_pg", "stored"), runs.values("aw_server_burst_pg", "n")
    all_stored = bool(stored and n and min(stored) >= n[0])
    complete = "all stored" if all_stored else "**not all stored**"
    return target_row(
        figure,
        f"{runs.cell('aw_server_burst_pg', 'stored_per_s', 0)}/s{share}; {complete}",
        f"≥ 60 % of the PostgreSQL floor ({runs.cell('pg_floor', 'rows_per_s', 0)} rows/s)"
        f" = {num(0.6 * (floor or 0))}/s, all stored",
        -(rate or 0) if rate and all_stored else (0.0 if rate else None),
        -0.6 * floor if floor else None,
    )


def memory_row(runs: Runs) -> str:
    figure = "memory, 100,000 events queued, server down"
    if reason := runs.unavailable("aw_memory"):
        return f"| {figure} | {reason} | reported; bounded by `max_queue_size` | - |"
    growth = runs.median("aw_memory", "overflow_growth_mib")
    per_event = runs.median("aw_memory", "bytes_per_event") or 0
    overflow = runs.median("aw_memory", "overflow") or 0
    dropped = runs.median("aw_memory", "overflow_dropped")
    # The worker holds one export batch in flight (out of the queue), so that many of the
    # overflow may still be queued; the rest must be counted as dropped and cost nothing.
    batch = runs.median("aw_memory", "batch_size") or 512
    bounded = growth is not None and growth * 2**20 < per_event * (batch + 0.1 * overflow)
    counted = dropped is not None and dropped + batch >= overflow
    met = "yes" if bounded and counted else "**no**"
    return (
        f"| {figure} | {runs.cell('aw_memory', 'bytes_per_event', 0)} B/event"
        f" (peak RSS {runs.cell('aw_memory', 'peak_rss_mib')} MiB); {num(overflow, 0)} more past"
        f" the bound: RSS +{runs.cell('aw_memory', 'overflow_growth_mib')} MiB,"
        f" {runs.cell('aw_memory', 'overflow_dropped', 0)} counted as dropped;"
        f" `record()` p50 meanwhile {runs.cell('aw_memory', 'record_p50_us')} µs"
        f" | reported; bounded by `max_queue_size` | {met} |"
    )


def end_pending_row(runs: Runs) -> str:
    figure = "`end_session()` with 10,000 recorded, server up"
    if reason := runs.unavailable("aw_end_pending"):
        return f"| {figure} | {reason} | reported | - |"
    return (
        f"| {figure} | {runs.cell('aw_end_pending', 'end_session_s', 3)} s with"
        f" {runs.cell('aw_end_pending', 'pending', 0)} still pending;"
        f" stored when it returned: {runs.cell('aw_end_pending', 'stored', 0)} | reported | - |"
    )


def startup_section(data: Data, runs: Runs) -> str:
    imports: dict[str, list[float]] = data["imports_ms"]
    aw = imports.get("agentwatch (agentwatch)")
    aw_median = statistics.median(aw) if aw else None
    rows = [
        "## Import and session start",
        "",
        "| module (venv) | `-X importtime` cumulative, ms | ÷ agentwatch |",
        "|---|---|---|",
    ]
    for name, samples in imports.items():
        if samples:
            mid = statistics.median(samples)
            spread = f"{num(mid)} [{num(min(samples))}..{num(max(samples))}]"
            rows.append(f"| `{name}` | {spread} | {ratio(mid, aw_median)} |")
    rows += [
        "",
        "| call | time |",
        "|---|---|",
        f"| agentops 0.3.26 `start_session()` | {runs.cell('ao3_nowalk', 'start_session_ms')} ms |",
        f"| langfuse `Langfuse(...)` | {runs.cell('langfuse', 'init_ms')} ms |",
        f"| agentwatch `start_session()` | p50 {runs.cell('aw_start', 'p50_us')} µs, p99 {runs.cell('aw_start', 'p99_us')} µs |",
    ]
    return "\n".join(rows)


def floors_section(runs: Runs) -> str:
    return "\n".join(
        [
            "## Floors of this machine",
            "",
            "| floor | rate | latency |",
            "|---|---|---|",
            f"| SQLite, 1.1 KB event rows, 100 per transaction, WAL, PK + (session_id, time) index | {runs.cell('sqlite_indexed', 'rows_per_s', 0)} rows/s | commit p50 {runs.cell('sqlite_indexed', 'commit_p50_ms', 2)} ms, p99 {runs.cell('sqlite_indexed', 'commit_p99_ms', 2)} ms |",
            f"| SQLite, same, primary key only | {runs.cell('sqlite_pk', 'rows_per_s', 0)} rows/s | commit p50 {runs.cell('sqlite_pk', 'commit_p50_ms', 2)} ms |",
            pg_floor_row(runs),
            server_ingest_row(runs),
            f"| uvicorn (httptools, uvloop), bare ASGI endpoint, 100-event JSON batches (~115 KB) | {runs.cell('http', 'requests_per_s', 0)} req/s = {runs.cell('http', 'events_per_s', 0)} events/s | p50 {runs.cell('http', 'p50_ms', 2)} ms, p99 {runs.cell('http', 'p99_ms', 2)} ms (32 connections) |",
        ]
    )


def pg_floor_row(runs: Runs) -> str:
    name = "PostgreSQL, same rows and index, psycopg 3 over TCP, fsync + synchronous_commit on"
    if reason := runs.unavailable("pg_floor"):
        return f"| {name} | {reason} | |"
    return (
        f"| {name} | {runs.cell('pg_floor', 'rows_per_s', 0)} rows/s"
        f" | commit p50 {runs.cell('pg_floor', 'commit_p50_ms', 2)} ms,"
        f" p99 {runs.cell('pg_floor', 'commit_p99_ms', 2)} ms |"
    )


def server_ingest_row(runs: Runs) -> str:
    name = "**agentwatch server alone** (uvicorn + SQLite): v2 `create_events`, 100-event batches, 4 client threads, no SDK"
    if reason := runs.unavailable("aw_server_ingest"):
        return f"| {name} | {reason} | |"
    sqlite = runs.median("sqlite_indexed", "rows_per_s")
    rate = runs.median("aw_server_ingest", "stored_per_s")
    share = f" = {100 * rate / sqlite:.0f} % of the SQLite floor" if rate and sqlite else ""
    return (
        f"| {name} | {runs.cell('aw_server_ingest', 'stored_per_s', 0)} events stored/s{share}"
        f" ({runs.cell('aw_server_ingest', 'requests_per_s')} req/s)"
        f" | p50 {runs.cell('aw_server_ingest', 'p50_ms')} ms, p99 {runs.cell('aw_server_ingest', 'p99_ms')} ms |"
    )


def versions_section(data: Data) -> str:
    rows = ["## Versions", "", "| venv | packages |", "|---|---|"]
    for venv, wanted in VERSION_KEYS.items():
        installed: dict[str, str] = data["versions"].get(venv, {})
        listed = ", ".join(f"{name} {installed[name]}" for name in wanted if name in installed)
        rows.append(f"| {venv} | {listed} |")
    return "\n".join(rows)


def notes_section(data: Data, runs: Runs) -> str:
    blocked = sorted(
        {
            h
            for b in data["benches"].values()
            for r in b["results"]
            for h in r.get("blocked_hosts", [])
        }
    )
    unexpected = {k: v for k, v in data["stub_calls"].items() if k.startswith("other:")}
    errors = [f"`{k}`: {e[:300]}" for k, b in data["benches"].items() for e in b["errors"]]
    lines = [
        "## Method",
        "",
        "* Per-call times are taken one call at a time with `time.perf_counter_ns()` on the",
        "  caller's thread (the timer costs ~0.04 µs); p50/p99 are over every call of a run.",
        "* The burst unit carries three parameters and a ~150-character return value",
        "  (`bench/common.py`). Each SDK is used with its default settings.",
        "* SDKs and the stub share the machine's two cores; throughput figures are lower bounds.",
        "* The phone-home calls of the references are cut: agentops 0.3's PyPI update check and",
        "  developer-error reporter are patched out, agentops 0.4's hard-coded metrics endpoint is",
        "  pointed at the stub, and every benchmark refuses DNS for non-loopback names.",
        f"* Hosts refused during this run: {', '.join(blocked) if blocked else 'none'}.",
        f"* Calls the stub did not expect: {unexpected or 'none'}.",
        "* Raw runs: `bench/out/results.json` (not committed).",
        "* Import times are taken with bytecode compiled for every package: pip compiled the",
        "  references' when it installed them; agentwatch (an editable install of this checkout)",
        "  is compiled with `compileall` first, as installing its wheel would.",
        '* The issue\'s p99 target reads "p99 ≤ 2x that p50" after "p50 ≤ the raw OTel span":',
        "  the table checks it against the raw OTel p50 and, separately, against agentwatch's own",
        "  (lower) p50, which no SDK measured here meets, raw OTel included.",
        "",
        "Differences from `shared/research/perf.md`:",
        "",
        "* agentops 0.3 with its default stack walk sends 10,000 events, not 50,000 (~1 ms each).",
        "* agentops 0.4.21 runs with OpenTelemetry pinned to 1.36.0: with the latest OTel its",
        "  exporter fails on every export (`_headers`), so a fresh `pip install agentops` delivers",
        "  nothing (perf.md §4); that combination is not repeated here.",
        "* Langfuse is measured with the `tool` unit only.",
        "* The HTTP floor's load comes from a Python asyncio client, not wrk (not on a clean",
        "  machine); requests/s are therefore a little lower than wrk would show.",
        "* End to end into the real server is measured from the first `record()` to the last",
        "  store: the moment `end_session()` returned, when by then the SDK had nothing pending",
        "  (the server answers each request after its commit) and the server's",
        "  `GET /v2/sessions/{id}/stats` then counts every event; else the first poll of it that",
        "  does. The server runs in its own process (uvicorn in a thread of",
        "  `agentwatch_server.py`).",
        "* PostgreSQL runs with its default durability (fsync, synchronous_commit on).",
    ]
    if errors:
        lines += ["", "Errors during this run:", "", *[f"* {e}" for e in errors]]
    return "\n".join(lines)
