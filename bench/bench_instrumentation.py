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

import json
import statistics
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

import agentwatch  # noqa: E402
from agentwatch import Client, LLMEvent, instrumentation  # noqa: E402
from common import child_server, rounds_main  # noqa: E402

Runs = dict[str, list[float]]
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


def _call(client: openai.OpenAI, stream: bool, by_hand: bool = False) -> Callable[[], None]:
    """One call; ``by_hand`` also records the LLMEvent a user would build without us."""

    def once() -> None:
        if stream:
            result = client.chat.completions.create(
                model="gpt-4o-mini",
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = list(result)
            if by_hand:
                text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
                _record_by_hand(chunks[0].model, text, chunks[-1].usage)
        else:
            reply = client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, temperature=0.2
            )
            if by_hand:
                _record_by_hand(reply.model, reply.choices[0].message.content, reply.usage)

    return once


def _record_by_hand(model: str, text: str | None, usage: Any) -> None:
    agentwatch.record(
        LLMEvent(
            model=model,
            prompt=MESSAGES,
            completion={"role": "assistant", "content": text},
            params={"model": "gpt-4o-mini", "temperature": 0.2},
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )
    )


def _time(call: Callable[[], None], count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter_ns()
        call()
        times.append((time.perf_counter_ns() - start) / 1000)
    return times


MODES = ("off", "by hand", "on")


def _measure(calls: dict[str, Callable[[], None]], rounds: int, per_round: int) -> Runs:
    runs: Runs = {mode: [] for mode in MODES}
    _time(calls["off"], 50)  # warm-up: connections, caches, first-call imports
    for n in range(rounds):
        # Rotate the order: each mode's events are exported while the next mode runs.
        for mode in MODES[n % 3 :] + MODES[: n % 3]:
            if mode == "on":
                instrumentation.instrument()
            else:
                instrumentation.uninstrument()
            runs[mode].extend(_time(calls[mode], per_round))
    instrumentation.instrument()
    return runs


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _row(name: str, runs: Runs) -> str:
    off, hand, on = (statistics.median(runs[mode]) for mode in MODES)
    return (
        f"| {name} | {len(runs['on'])} | {off:,.0f} | {hand:,.0f} | {on:,.0f} "
        f"| **{on - off:+,.0f}** | **{on - hand:+,.0f}** "
        f"| {_pct(runs['off'], 99):,.0f} | {_pct(runs['on'], 99):,.0f} |"
    )


@contextmanager
def _recording() -> Iterator[Client]:
    """A session on the real agentwatch server, run in its own process (as in production:
    its ingest work does not share this process's GIL)."""
    with child_server("bench/agentwatch_server.py", cwd=ROOT) as line:
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
    with (
        _recording(),
        child_server("tests/instrumentation/fake_provider.py", cwd=ROOT) as provider_url,
    ):
        for stream in (False, True):
            kind = "stream, 7 chunks + usage" if stream else "chat completion"
            mock = _mock_client(stream)
            real = openai.OpenAI(api_key="sk", base_url=f"{provider_url}/v1", max_retries=0)
            for where, client in (("in-memory transport", mock), ("loopback fake provider", real)):
                calls = {
                    "off": _call(client, stream),
                    "by hand": _call(client, stream, by_hand=True),
                    "on": _call(client, stream),
                }
                rows.append(_row(f"{where}, {kind}", _measure(calls, rounds, per_round)))
    return rows


def report(rows: list[str], rounds: int, per_round: int) -> str:
    return "\n".join(
        [
            MARK_BEGIN,
            "## LLM call instrumentation overhead (issue 5)",
            "",
            "`python bench/bench_instrumentation.py --write`: the real `openai` "
            f"{openai.__version__} client, the same call with instrumentation off, off but "
            "followed by recording the equivalent `LLMEvent` by hand, and on; "
            f"{rounds} interleaved rounds of {per_round} calls each, every event delivered to the "
            "agentwatch server (own process). Times per call in µs (p50 / p99 over every call).",
            "",
            "| call | calls per mode | p50 off | p50 by hand | p50 on | added to the call "
            "| added over by hand | p99 off | p99 on |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "*Added to the call* is everything the process spends on the event: building and "
            "recording it, and the export thread sending it (which shares the GIL with the "
            "caller). *Added over by hand* is what automatic instrumentation costs beyond "
            "recording the same event yourself. The loopback rows add a real HTTP round trip; "
            "there the fake provider, the agentwatch server ingesting the events and the "
            "caller share this machine's two cores, so they are noisier. Instrumentation makes "
            "no network call of its own: events leave on the export thread, in batches.",
            MARK_END,
        ]
    )


def main(argv: list[str] | None = None) -> None:
    rounds_main(__doc__ or "", 200, run, report, (MARK_BEGIN, MARK_END), argv)


if __name__ == "__main__":
    main()
