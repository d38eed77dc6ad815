"""Overhead of LLM-call instrumentation: the same ``openai`` call with and without it.

Two set-ups, each timed call by call on the caller's thread, rounds interleaved
(uninstrumented, instrumented, uninstrumented, ...) so that drift hits both alike:

* ``mock``: the real ``openai`` client over an in-memory HTTP transport answering a
  canned completion. No network, so the difference is our CPU cost per call: building
  and recording the event (prompt, params, usage, GenAI attributes, JSON encoding).
* ``loopback``: the real client against the fake provider of the tests, served by
  uvicorn on 127.0.0.1 — what a user would see, with network noise.

Events go to the real agentwatch server, in its own process, so the export thread runs
during the instrumented rounds, as it would in an agent; the fake provider runs in its
own process too. Run ``python bench/bench_instrumentation.py``
(``--write`` replaces the section in ``bench/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402 - after the path set-up, like the imports below
import openai  # noqa: E402
from tests.instrumentation import fake_provider  # noqa: E402

from agentwatch import Client, instrumentation  # noqa: E402

MARK_BEGIN = "<!-- bench_instrumentation: begin -->"
MARK_END = "<!-- bench_instrumentation: end -->"
MESSAGES: list[Any] = [
    {"role": "system", "content": "You are a travel agent. Answer in one sentence."},
    {"role": "user", "content": "Find me a flight from Milan to Rome tomorrow morning."},
]


def _mock_client(stream: bool) -> openai.OpenAI:
    body = fake_provider._chat_completion({"model": "gpt-4o-mini"})
    chunks = b"".join(
        f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n".encode()
        for _, c in fake_provider._chat_chunks(
            {"model": "gpt-4o-mini", "stream_options": {"include_usage": True}}
        )
    )

    def answer(request: httpx2.Request) -> httpx2.Response:
        if stream:
            return httpx2.Response(
                200, content=chunks, headers={"content-type": "text/event-stream"}
            )
        return httpx2.Response(200, json=body)

    http = httpx2.Client(transport=httpx2.MockTransport(answer))
    return openai.OpenAI(api_key="sk", base_url="http://mock/v1", http_client=http, max_retries=0)


def _call(client: openai.OpenAI, stream: bool) -> Callable[[], None]:
    def once() -> None:
        if stream:
            result = client.chat.completions.create(
                model="gpt-4o-mini",
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
            for _ in result:
                pass
        else:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2)

    return once


def _time(call: Callable[[], None], count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter_ns()
        call()
        times.append((time.perf_counter_ns() - start) / 1000)
    return times


def _measure(call: Callable[[], None], rounds: int, per_round: int) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {"off": [], "on": []}
    _time(call, 50)  # warm-up: connections, caches, first-call imports
    for _ in range(rounds):
        for mode in ("off", "on"):
            if mode == "on":
                instrumentation.instrument()
            else:
                instrumentation.uninstrument()
            runs[mode].extend(_time(call, per_round))
    instrumentation.instrument()
    return runs


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _row(name: str, runs: dict[str, list[float]]) -> str:
    off, on = runs["off"], runs["on"]
    p50_off, p50_on = statistics.median(off), statistics.median(on)
    return (
        f"| {name} | {len(on)} | {p50_off:,.0f} | {p50_on:,.0f} | **{p50_on - p50_off:+,.0f}** "
        f"| {_pct(off, 99):,.0f} | {_pct(on, 99):,.0f} |"
    )


@contextmanager
def _process(*argv: str) -> Iterator[str]:
    """Run ``argv`` (a server that prints one line once it answers) until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def _recording() -> Iterator[Client]:
    """A session on the real agentwatch server, run in its own process (as in production:
    its ingest work does not share this process's GIL)."""
    with _process("bench/agentwatch_server.py") as line:
        server = json.loads(line)
        client = Client(
            api_key=server["api_key"],
            endpoint=server["url"],
            handle_signals=False,
            log_level="WARNING",
        )
        session = client.start_session(tags=["bench"])
        try:
            yield client
        finally:
            session.end_session("Success")
            assert client.dropped == {}, client.dropped
            client.shutdown()


def run(rounds: int, per_round: int) -> list[str]:
    rows = []
    with _recording(), _process("tests/instrumentation/fake_provider.py") as provider_url:
        for stream in (False, True):
            kind = "stream, 7 chunks + usage" if stream else "chat completion"
            mock = _mock_client(stream)
            rows.append(
                _row(
                    f"in-memory transport, {kind}", _measure(_call(mock, stream), rounds, per_round)
                )
            )
            real = openai.OpenAI(api_key="sk", base_url=f"{provider_url}/v1", max_retries=0)
            rows.append(
                _row(
                    f"loopback fake provider, {kind}",
                    _measure(_call(real, stream), rounds, per_round),
                )
            )
    return rows


def report(rows: list[str], rounds: int, per_round: int) -> str:
    return "\n".join(
        [
            MARK_BEGIN,
            "## LLM call instrumentation overhead (issue 5)",
            "",
            "`python bench/bench_instrumentation.py --write`: the real `openai` "
            f"{openai.__version__} client, the same call with instrumentation off and on, "
            f"{rounds} interleaved rounds of {per_round} calls each, every event delivered to the "
            "agentwatch server (own process). Times per call in µs (p50 / p99 over every call).",
            "",
            "| call | calls per mode | p50 off | p50 on | p50 added | p99 off | p99 on |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "The in-memory rows are the cost to the caller's process: building and recording "
            "the event (about 50 µs measured alone, half of it `Session.record`, common to every "
            "event) plus the export thread sending the batches, which shares the GIL "
            "with the caller. The loopback rows "
            "add a real HTTP round trip; there the fake provider, the agentwatch server "
            "ingesting the events and the caller share this machine's two cores, so their "
            "difference includes that contention, not only work done on the caller's thread. "
            "Instrumentation makes no network call of its own: events leave on the export "
            "thread, in batches.",
            MARK_END,
        ]
    )


def _write(section: str) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text()
    if MARK_BEGIN in text:
        before, rest = text.split(MARK_BEGIN, 1)
        after = rest.split(MARK_END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=200)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args(argv)
    section = report(run(args.rounds, args.per_round), args.rounds, args.per_round)
    print(section)
    if args.write:
        _write(section)


if __name__ == "__main__":
    main()
