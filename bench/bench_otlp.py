"""Spans stored per second through ``POST /v1/traces``, beside this machine's SQLite floor.

The real OpenTelemetry SDK and OTLP/HTTP exporter (protobuf, ``BatchSpanProcessor`` with
its defaults: queue 2,048, batches of 512, 5 s schedule) send agent traces (an
``invoke_agent`` root, three ``chat`` LLM calls with tokens and messages, one
``execute_tool``: five spans each) to the real agentwatch server, in its own process, on
SQLite and on a fresh PostgreSQL database. The producer never lets the processor's queue
overflow (it waits while 1,536 spans are queued and not yet exported), so every span is
delivered and the figure is the receiver's throughput, not the queue's drop rate.

*Stored per second* = spans sent ÷ (first span started → the server's read API counting
them all). The SQLite floor is ``bench_sqlite.py --indexed`` run in the same process
environment just before.

Runs in the project's own environment (it needs the OTel exporter, a dev dependency):
``python bench/bench_otlp.py [--spans 50000] [--targets sqlite,postgres] [--write]``.
Each target is a :class:`Target`; another receiver (Phoenix) is one more of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from common import RESULT_PREFIX, arg, emit, flag

BENCH_DIR = Path(__file__).resolve().parent
SPANS_PER_TRACE = 5
QUEUE_HIGH_WATER = 1536  # below BatchSpanProcessor's default max_queue_size (2048)
STORE_TIMEOUT_S = 300


@dataclass(frozen=True)
class Receiver:
    """A running OTLP receiver: where to export, with which headers, and how to ask it
    how many spans it has stored."""

    endpoint: str  # the full /v1/traces URL
    headers: dict[str, str]
    stored: Callable[[], int]


@dataclass(frozen=True)
class Target:
    name: str
    start: Callable[[], contextlib.AbstractContextManager[Receiver]]


class CountingExporter(SpanExporter):
    """The OTLP exporter, counting what it has handed over (the producer's back-pressure)."""

    def __init__(self, inner: OTLPSpanExporter) -> None:
        self.inner = inner
        self.exported = 0
        self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        if result is SpanExportResult.SUCCESS:
            self.exported += len(spans)
        else:
            self.failed += len(spans)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


# -- agentwatch targets ---------------------------------------------------------------


@contextlib.contextmanager
def agentwatch(pg_admin: str = "") -> Iterator[Receiver]:
    """The real server in its own process (bench/agentwatch_server.py)."""
    db_args = ["--pg-admin", pg_admin] if pg_admin else []
    proc = subprocess.Popen(
        [sys.executable, str(BENCH_DIR / "agentwatch_server.py"), *db_args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), os.environ.get("PYTHONPATH", "")]),
        },
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"agentwatch server helper exited with {proc.wait(timeout=10)}")
        server = json.loads(line)
        http = httpx.Client(
            base_url=server["url"], headers={"X-Agentops-Api-Key": server["api_key"]}
        )

        def stored() -> int:
            return int(http.get("/api/stats").json()["events"])

        yield Receiver(
            f"{server['url']}/v1/traces", {"Authorization": f"Bearer {server['api_key']}"}, stored
        )
        http.close()
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def agentwatch_postgres() -> Iterator[Receiver]:
    from agentwatch.server.pgcluster import throwaway_cluster

    # Default durability (fsync, synchronous_commit on), as bench/run.py's floor uses.
    with throwaway_cluster(durable=True) as admin, agentwatch(admin) as receiver:
        yield receiver


TARGETS = {
    "sqlite": Target("agentwatch, SQLite", agentwatch),
    "postgres": Target("agentwatch, PostgreSQL", agentwatch_postgres),
}


# -- the load -------------------------------------------------------------------------

_PROMPT = json.dumps(
    [{"role": "user", "parts": [{"type": "text", "content": "Plan two days in Rome. " * 6}]}]
)
_ANSWER = json.dumps(
    [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Day 1: Forum. Day 2: Vatican. " * 5}],
        }
    ]
)


def send_traces(receiver: Receiver, spans: int) -> dict[str, Any]:
    """Produce ``spans`` spans (whole traces) through BatchSpanProcessor's defaults."""
    exporter = CountingExporter(
        OTLPSpanExporter(endpoint=receiver.endpoint, headers=receiver.headers)
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "bench-agent"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    traces = spans // SPANS_PER_TRACE
    start = time.perf_counter()
    for t in range(traces):
        while (t * SPANS_PER_TRACE) - exporter.exported - exporter.failed > QUEUE_HIGH_WATER:
            time.sleep(0.001)
        with tracer.start_as_current_span(
            "invoke_agent planner",
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "planner",
                "session.id": f"bench-{t // 20}",
            },
        ):
            for _ in range(3):
                with tracer.start_as_current_span(
                    "chat gpt-4o-mini",
                    attributes={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": "gpt-4o-mini",
                        "gen_ai.usage.input_tokens": 1200,
                        "gen_ai.usage.output_tokens": 300,
                        "gen_ai.input.messages": _PROMPT,
                        "gen_ai.output.messages": _ANSWER,
                    },
                ):
                    pass
            with tracer.start_as_current_span(
                "execute_tool search",
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "search",
                    "gen_ai.tool.call.arguments": '{"query": "Rome museums"}',
                    "gen_ai.tool.call.result": '{"hits": 5}',
                },
            ):
                pass
    produced_s = time.perf_counter() - start
    provider.force_flush(60_000)
    sent = traces * SPANS_PER_TRACE
    deadline = time.monotonic() + STORE_TIMEOUT_S
    stored = receiver.stored()
    while stored < sent and time.monotonic() < deadline:
        time.sleep(0.05)
        stored = receiver.stored()
    elapsed = time.perf_counter() - start
    provider.shutdown()
    return {
        "spans": sent,
        "stored": stored,
        "export_failed": exporter.failed,
        "produce_s": produced_s,
        "seconds_until_stored": elapsed,
        "stored_per_s": stored / elapsed,
    }


def sqlite_floor() -> float:
    """Rows/s of bench_sqlite.py --indexed, run now on this machine."""
    proc = subprocess.run(
        [sys.executable, str(BENCH_DIR / "bench_sqlite.py"), "--indexed"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(BENCH_DIR)},
    )
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX))
    return float(json.loads(line[len(RESULT_PREFIX) :])["rows_per_s"])


def table(results: dict[str, dict[str, Any]], floor: float) -> str:
    lines = [
        f"SQLite floor (bench_sqlite.py --indexed): {floor:,.0f} rows/s",
        "",
        "| receiver | spans stored/s | ÷ SQLite floor | stored / sent | export failures |",
        "|---|---|---|---|---|",
    ]
    for key, r in results.items():
        if "error" in r:
            lines.append(f"| {TARGETS[key].name} | - | - | {r['error']} | - |")
            continue
        lines.append(
            f"| {TARGETS[key].name} | {r['stored_per_s']:,.0f} | {r['stored_per_s'] / floor:.0%} "
            f"| {r['stored']:,} / {r['spans']:,} | {r['export_failed']:,} |"
        )
    return "\n".join(lines)


def main() -> None:
    spans = int(arg("spans", "50000"))
    keys = [k for k in arg("targets", ",".join(TARGETS)).split(",") if k]
    floor = sqlite_floor()
    results: dict[str, dict[str, Any]] = {}
    for key in keys:
        try:
            with TARGETS[key].start() as receiver:
                results[key] = send_traces(receiver, spans)
        except Exception as exc:  # one unavailable target (no PostgreSQL) must not hide the others
            results[key] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
    report = table(results, floor)
    print(report)
    if flag("write"):
        (BENCH_DIR / "out").mkdir(exist_ok=True)
        (BENCH_DIR / "out" / "otlp.md").write_text(report + "\n")
    emit({"sqlite_floor_rows_per_s": floor, "targets": results})


if __name__ == "__main__":
    main()
