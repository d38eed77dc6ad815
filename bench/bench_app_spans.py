"""The cost of capturing the application's OpenTelemetry spans, on the caller's thread.

Two measurements in one process, rounds interleaved (off, on, off, on, ...) so that drift
hits both alike, each call timed alone:

* ``record()`` of an action inside an application span, with the capture's nesting hook
  off (``Registry.otel`` unset, as with ``capture_otel_spans=False``) and on (the event
  asks which span is innermost: ``trace.get_current_span()`` and a dict lookup).
* An application span (``start_as_current_span`` + end) inside a session, on the
  application's provider (its own ``BatchSpanProcessor``, exporting nowhere) without our
  processor and with it beside its own (``on_start`` decides, ``on_end`` queues).

The client delivers to the real agentwatch server (own process), so the span pipeline's
worker sends for real while the caller records; every span and event must be delivered
(``client.dropped == {}``). ``python bench/bench_app_spans.py`` (``--rounds``,
``--per-round``; ``--write`` replaces the section in ``bench/RESULTS.md``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import (  # noqa: E402
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from agentwatch import ActionEvent  # noqa: E402
from agentwatch.session import sessions  # noqa: E402
from agentwatch.telemetry import capture  # noqa: E402
from bench_otlp_tee import _client, _server  # noqa: E402
from common import percentile, rounds_main, time_calls  # noqa: E402 - after the path set-up

MARK_BEGIN = "<!-- bench_app_spans: begin -->"
MARK_END = "<!-- bench_app_spans: end -->"


class _Nowhere(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _app_provider() -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_Nowhere()))
    return provider


def run(rounds: int, per_round: int) -> dict[str, list[int]]:
    bare = _app_provider()  # the application's provider without agentwatch
    app = _app_provider()
    trace.set_tracer_provider(app)  # set before the client: the capture adds itself to it
    runs: dict[str, list[int]] = {k: [] for k in ("record off", "record on", "span off", "span on")}
    with _server() as server:
        client = _client(server)
        hook = sessions.otel
        assert hook is not None
        assert any(p is app for p in capture._installed_on)
        session = client.start_session(tags=["bench"])
        tracers = {"span off": bare.get_tracer("bench"), "span on": app.get_tracer("bench")}
        with app.get_tracer("bench").start_as_current_span("app-step"):
            for _ in range(rounds + 1):  # the first round warms up
                for mode in ("record off", "record on"):
                    sessions.otel = hook if mode == "record on" else None
                    events = [ActionEvent(action_type="step") for _ in range(per_round)]

                    def record(i: int, events: list[ActionEvent] = events) -> None:
                        session.record(events[i])

                    runs[mode].extend(time_calls(record, per_round))
                    client.flush(30)
                sessions.otel = hook
                for mode, tracer in tracers.items():

                    def one_span(i: int, tracer: trace.Tracer = tracer) -> None:
                        with tracer.start_as_current_span("tool-call"):
                            pass

                    runs[mode].extend(time_calls(one_span, per_round))
                    client.flush(30)
        session.end_session("Success")
        client.shutdown(timeout=30)
        assert client.dropped == {}, client.dropped
    return {mode: durations[per_round:] for mode, durations in runs.items()}


def report(runs: dict[str, list[int]], rounds: int, per_round: int) -> str:
    rows = []
    for what in ("record", "span"):
        off = [d / 1000 for d in runs[f"{what} off"]]
        on = [d / 1000 for d in runs[f"{what} on"]]
        for label, q in (("p50", 50.0), ("p99", 99.0)):
            a, b = percentile(off, q), percentile(on, q)
            rows.append(f"| {what} | {label} | {a:.2f} | {b:.2f} | {b / a:.2f}x |")
    return "\n".join(
        [
            MARK_BEGIN,
            "## Capturing the application's spans (issue 11)",
            "",
            "`python bench/bench_app_spans.py --write`: on the caller's thread, µs per call, "
            f"{rounds} interleaved rounds of {per_round} calls each. *record*: `record()` of an "
            "action inside an application span, the capture's nesting hook off / on. *span*: "
            "an application span (`start_as_current_span`) in a session, on the application's "
            "provider (its own `BatchSpanProcessor`) without / with agentwatch's processor. Delivered to the agentwatch server (own "
            "process), none dropped.",
            "",
            "| what | | off | on | ratio |",
            "|---|---|---|---|---|",
            *rows,
            MARK_END,
        ]
    )


def main(argv: list[str] | None = None) -> None:
    rounds_main(__doc__ or "", 2000, run, report, (MARK_BEGIN, MARK_END), argv)


if __name__ == "__main__":
    main()
