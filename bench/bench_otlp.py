"""Spans stored per second through ``/v1/traces``: agentwatch (SQLite, PostgreSQL) and Phoenix.

The sender is the real OpenTelemetry SDK with its OTLP/HTTP protobuf exporter behind a
``BatchSpanProcessor`` with its defaults (queue 2048, batches of 512, 5 s delay). It
writes agent runs the way the GenAI conventions describe them: per trace an
``invoke_agent`` root naming its conversation, five ``chat`` spans with ~1 KB of messages
and token counts (OpenInference's names beside the GenAI ones, so Phoenix sees LLM spans
too), and four ``execute_tool`` spans. The sender never lets more spans wait than the
queue holds (it pauses while the exporter is a queue behind), so no span is dropped and
both receivers get exactly the same spans.

One sender process making its spans as it goes is one agent process: on this machine its
span making and encoding (~35 + ~38 µs per span) caps it near 14,000 spans/s whatever the
receiver does. A receiver serves a fleet, so ``--senders K --premade`` is the fleet: K
sender processes, each with its own provider, processor and exporter, whose spans were
made before the clock starts (by the SDK, the same spans); what is timed is their export
through the real exporter, its protobuf encoding included, and their storing. The
receiver's own CPU time per span stored is reported beside the rate (it shares the
machine's two cores with the senders).

The receiver runs in its own process, started here: ``agentwatch_server.py`` (uvicorn, a
fresh SQLite file or PostgreSQL database) or ``phoenix serve`` (its SQLite default, in a
fresh working directory). Stored spans are counted as each receiver keeps them:
agentwatch's ``GET /api/stats`` events, Phoenix's ``spans`` table. The rate is the spans
stored divided by the time from the senders' start to the last store.

``--target stub`` is the ceiling the senders set: ``stub_server.py`` (the reference SDKs'
stand-in backend, in its own process) only parses each body and counts its spans, so the
rate is what the same senders reach when the receiver costs next to nothing. No receiver
that stores the spans can beat it on this machine.

Runs in the floor venv. Options: ``--target agentwatch|phoenix|stub``, ``--pg-admin URL``
(agentwatch on PostgreSQL), ``--n`` spans (default 20,000, a multiple of 10 x senders),
``--senders K`` (default 1), ``--premade``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Tracer

import venvs
from common import arg, emit, flag, free_port, guard_loopback

SPANS_PER_TRACE = 10
QUEUE = 2048  # BatchSpanProcessor's default max_queue_size
STALL_S = 15.0  # the stored count has not moved for this long: the receiver is done
PROMPT = json.dumps(
    [{"role": "user", "parts": [{"type": "text", "content": "Plan two days in Rome. " * 20}]}]
)
ANSWER = json.dumps(
    [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Day 1: Colosseum, Forum. " * 20}],
            "finish_reason": "stop",
        }
    ]
)


class CountingExporter(SpanExporter):
    """The OTLP exporter, counting what it has finished sending (and what failed)."""

    def __init__(self, inner: OTLPSpanExporter) -> None:
        self.inner = inner
        self.done = 0
        self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        self.done += len(spans)
        if result is not SpanExportResult.SUCCESS:
            self.failed += len(spans)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()  # type: ignore[no-untyped-call]


def agent_run(tracer: Tracer, conversation: str) -> None:
    """One trace of SPANS_PER_TRACE spans: agent, then chat/tool pairs, then a last chat."""
    root = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "planner",
        "gen_ai.conversation.id": conversation,
        "openinference.span.kind": "AGENT",
    }
    with tracer.start_as_current_span("invoke_agent planner", attributes=root):
        for step in range(SPANS_PER_TRACE // 2):
            chat: dict[str, str | int] = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 1200,
                "gen_ai.usage.output_tokens": 300,
                "gen_ai.input.messages": PROMPT,
                "gen_ai.output.messages": ANSWER,
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o-mini",
                "llm.token_count.prompt": 1200,
                "llm.token_count.completion": 300,
            }
            with tracer.start_as_current_span(
                "chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=chat
            ):
                pass
            if step < SPANS_PER_TRACE // 2 - 1:
                tool = {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "web_search",
                    "gen_ai.tool.call.arguments": '{"query": "flights to Rome"}',
                    "gen_ai.tool.call.result": '["AZ 611 08:10", "FR 9421 11:35"]',
                    "openinference.span.kind": "TOOL",
                    "tool.name": "web_search",
                }
                with tracer.start_as_current_span("execute_tool web_search", attributes=tool):
                    pass


class Collect(SpanProcessor):
    """Keeps every ended span (the pre-made spans of ``--premade``)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def premade_spans(n: int) -> list[ReadableSpan]:
    """``n`` spans made by the SDK before the clock starts: a fleet's agents made them."""
    collect = Collect()
    provider = TracerProvider()
    provider.add_span_processor(collect)
    tracer = provider.get_tracer("bench-otlp")
    for _ in range(0, n, SPANS_PER_TRACE):
        agent_run(tracer, str(uuid.uuid4()))
    return collect.spans


def sender(
    endpoint: str, headers: dict[str, str], n: int, premade: bool, go: Any, out: Any
) -> None:
    """One sender process: ``n`` spans through a BatchSpanProcessor and the OTLP exporter.

    Live (the default), the spans are made while the clock runs, as one agent process
    makes them; ``premade``, they were made before and only their export is timed.
    """
    exporter = CountingExporter(OTLPSpanExporter(endpoint=endpoint, headers=headers))
    processor = BatchSpanProcessor(exporter)
    spans = premade_spans(n) if premade else []
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench-otlp")
    out.put("ready")
    go.wait()
    start = time.perf_counter()
    for created in range(0, n, SPANS_PER_TRACE):
        while created + SPANS_PER_TRACE - exporter.done > QUEUE:
            time.sleep(0.001)  # the exporter is a queue behind: wait, drop nothing
        if premade:
            for span in spans[created : created + SPANS_PER_TRACE]:
                processor.on_end(span)
        else:
            agent_run(tracer, str(uuid.uuid4()))
    sent_s = time.perf_counter() - start
    provider.force_flush()
    out.put({"sent_s": sent_s, "flushed_s": time.perf_counter() - start, "failed": exporter.failed})
    provider.shutdown()


def send(target: Target, n: int, senders: int, premade: bool) -> dict[str, Any]:
    """Send ``n`` spans from ``senders`` processes; wait until they are stored (or the
    count stalls); the figures, with the receiver's CPU time per span stored."""
    endpoint, headers, stored, pid = target
    fork = multiprocessing.get_context("fork")
    go, out = fork.Event(), fork.Queue()
    share = n // senders
    procs = [
        fork.Process(target=sender, args=(endpoint, headers, share, premade, go, out))
        for _ in range(senders)
    ]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            assert out.get(timeout=300) == "ready"
        cpu_before = cpu_seconds(pid)
        start = time.perf_counter()
        go.set()
        count, last_change = stored(), time.perf_counter()
        while count < n and time.perf_counter() - last_change < STALL_S:
            time.sleep(0.05)
            now = stored()
            if now != count:
                count, last_change = now, time.perf_counter()
        server_cpu_s = cpu_seconds(pid) - cpu_before
        reports = [out.get(timeout=60) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
    all_s = last_change - start
    return {
        "n": share * senders,
        "senders": senders,
        "premade": premade,
        "stored": count,
        "stored_per_s": count / all_s,
        "seconds_until_stored": all_s,
        "sent_s": max(r["sent_s"] for r in reports),
        "flushed_s": max(r["flushed_s"] for r in reports),
        "export_failed": sum(r["failed"] for r in reports),
        # The receiver's own CPU (user + system) per span stored, and the rate that much
        # CPU allows: what it would store with a core of its own and nothing else on it.
        "server_cpu_us_per_span": 1e6 * server_cpu_s / count if count else None,
        "stored_per_server_cpu_s": count / server_cpu_s if server_cpu_s else None,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its waited-for children (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(t) for t in fields[11:15]) / os.sysconf("SC_CLK_TCK")


Target = tuple[str, dict[str, str], Callable[[], int], int]


@contextmanager
def agentwatch(pg_admin: str) -> Iterator[Target]:
    cmd = [str(venvs.AGENTWATCH.python), str(venvs.BENCH_DIR / "agentwatch_server.py")]
    if pg_admin:
        cmd += ["--pg-admin", pg_admin]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        server = json.loads(proc.stdout.readline())
        key = server["api_key"]

        def stored() -> int:
            request = urllib.request.Request(
                f"{server['url']}/api/stats", headers={"X-Agentops-Api-Key": key}
            )
            with urllib.request.urlopen(request, timeout=30) as answer:
                return int(json.loads(answer.read())["events"])

        headers = {"Authorization": f"Bearer {key}"}
        yield f"{server['url']}/v1/traces", headers, stored, proc.pid
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


@contextmanager
def stub() -> Iterator[Target]:
    """``stub_server.py``: parses each export request and counts its spans, stores nothing."""
    with tempfile.TemporaryDirectory(prefix="otlp-stub-") as home:
        port = free_port()
        log = Path(home) / "stub.log"
        script = venvs.BENCH_DIR / "stub_server.py"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [str(venvs.FLOOR.python), str(script), "--port", str(port)],
                stdout=out,
                stderr=out,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_answering(f"{url}/_stub/stats", proc, log, "stub_server.py")

            def stored() -> int:
                with urllib.request.urlopen(f"{url}/_stub/stats", timeout=30) as answer:
                    return int(json.loads(answer.read()).get("otlp_spans", 0))

            yield f"{url}/v1/traces", {}, stored, proc.pid
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def wait_answering(
    url: str, proc: subprocess.Popen[bytes], log: Path, name: str = "phoenix serve"
) -> None:
    """Poll ``url`` until it answers 200 (Phoenix takes seconds to migrate and start)."""
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@contextmanager
def phoenix() -> Iterator[Target]:
    """``phoenix serve`` on its SQLite default in a fresh working directory."""
    with tempfile.TemporaryDirectory(prefix="phoenix-bench-") as home:
        port = free_port()
        env = {
            **os.environ,
            "PHOENIX_WORKING_DIR": home,
            "PHOENIX_HOST": "127.0.0.1",
            "PHOENIX_PORT": str(port),
            "PHOENIX_GRPC_PORT": str(free_port()),
            "PHOENIX_TELEMETRY_ENABLED": "false",
        }
        phoenix_bin = venvs.PHOENIX.path / "bin" / "phoenix"
        log = Path(home) / "phoenix.log"
        with log.open("w") as out:
            proc = subprocess.Popen([str(phoenix_bin), "serve"], env=env, stdout=out, stderr=out)
        try:
            wait_answering(f"http://127.0.0.1:{port}/healthz", proc, log)
            database = Path(home) / "phoenix.db"

            def stored() -> int:
                db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
                try:
                    return int(db.execute("SELECT count(*) FROM spans").fetchone()[0])
                finally:
                    db.close()

            yield f"http://127.0.0.1:{port}/v1/traces", {}, stored, proc.pid
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    guard_loopback()
    n, target = int(arg("n", "20000")), arg("target", "agentwatch")
    senders, premade = int(arg("senders", "1")), flag("premade")
    assert n % (SPANS_PER_TRACE * senders) == 0, f"--n: a multiple of {SPANS_PER_TRACE} x senders"
    receivers: dict[str, Callable[[], AbstractContextManager[Target]]] = {
        "agentwatch": lambda: agentwatch(arg("pg-admin", "")),
        "phoenix": phoenix,
        "stub": stub,
    }
    if target not in receivers:
        raise SystemExit(f"--target: {target!r}; accepted: {', '.join(receivers)}")
    with receivers[target]() as found:
        result = send(found, n, senders, premade)
    emit({**result, "target": target})


if __name__ == "__main__":
    main()
