"""The cost of the OTLP tee on the hot path: ``record()`` with and without ``otlp_endpoint``.

Two clients in this process, the same events, rounds interleaved (tee off, tee on, off,
on, ...) so that drift hits both alike; each ``record()`` call is timed alone. Both
deliver to the real agentwatch server (own process); the tee's GenAI spans go to a second
agentwatch server's ``/v1/traces`` (own process too), so its export thread maps and sends
for real while the caller records: what it costs the caller through the GIL is counted.
Each round ends with a flush of its client (not timed), so no round inherits another's
backlog. Every event must be delivered both ways (``client.dropped == {}``).

The event is an LLM call with a short conversation and usage (what the tee does the most
work for). Run ``python bench/bench_otlp_tee.py`` (``--rounds``, ``--per-round``;
``--write`` replaces the section in ``bench/RESULTS.md``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from agentwatch import Client, LLMEvent, Session  # noqa: E402
from common import child_server, percentile, rounds_main, time_calls  # noqa: E402

MARK_BEGIN = "<!-- bench_otlp_tee: begin -->"
MARK_END = "<!-- bench_otlp_tee: end -->"
PROMPT = [
    {"role": "system", "content": "You are a travel agent. Answer in one sentence."},
    {"role": "user", "content": "Find me a flight from Milan to Rome tomorrow morning."},
]
COMPLETION = {"role": "assistant", "content": "AZ2031 leaves Linate at 7:00 and lands at 8:10."}


@contextmanager
def _server() -> Iterator[dict[str, Any]]:
    """The real agentwatch server in its own process: its URL and API key."""
    with child_server("bench/agentwatch_server.py", cwd=ROOT) as line:
        yield json.loads(line)


def _client(server: dict[str, Any], **settings: Any) -> Client:
    return Client(
        api_key=server["api_key"],
        endpoint=server["url"],
        handle_signals=False,
        log_level="WARNING",
        **settings,
    )


def _event() -> LLMEvent:
    return LLMEvent(
        model="gpt-4o-mini",
        prompt=PROMPT,
        completion=COMPLETION,
        prompt_tokens=42,
        completion_tokens=17,
        stop_reason="stop",
        params={"temperature": 0.2},
    )


def _round(client: Client, session: Session, count: int) -> list[int]:
    events = [_event() for _ in range(count)]  # built outside the timed calls
    durations = time_calls(lambda i: session.record(events[i]), count)
    client.flush(30)
    return durations


def run(rounds: int, per_round: int) -> dict[str, list[int]]:
    with _server() as main, _server() as sink:
        clients = {
            "off": _client(main),
            "on": _client(
                main,
                otlp_endpoint=sink["url"],
                otlp_headers={"Authorization": f"Bearer {sink['api_key']}"},
            ),
        }
        sessions = {mode: c.start_session(tags=["bench"]) for mode, c in clients.items()}
        runs: dict[str, list[int]] = {mode: [] for mode in clients}
        _round(clients["off"], sessions["off"], per_round)  # warm-up, not counted
        _round(clients["on"], sessions["on"], per_round)
        for _ in range(rounds):
            for mode, client in clients.items():
                runs[mode].extend(_round(client, sessions[mode], per_round))
        for mode, client in clients.items():
            sessions[mode].end_session("Success")
            client.shutdown(timeout=30)
            assert client.dropped == {}, (mode, client.dropped)
    return runs


def report(runs: dict[str, list[int]], rounds: int, per_round: int) -> str:
    off = [d / 1000 for d in runs["off"]]
    on = [d / 1000 for d in runs["on"]]
    rows = []
    for label, q in (("p50", 50.0), ("p90", 90.0), ("p99", 99.0)):
        a, b = percentile(off, q), percentile(on, q)
        rows.append(f"| {label} | {a:.2f} | {b:.2f} | {b / a:.2f}x |")
    mean_off, mean_on = sum(off) / len(off), sum(on) / len(on)
    rows.append(f"| mean | {mean_off:.2f} | {mean_on:.2f} | {mean_on / mean_off:.2f}x |")
    return "\n".join(
        [
            MARK_BEGIN,
            "## The OTLP tee on the hot path (issue 11)",
            "",
            "`python bench/bench_otlp_tee.py --write`: `record()` of an LLM event (a two-message "
            "prompt, a completion, usage) by a client without `otlp_endpoint` and by one with "
            f"it, {rounds} interleaved rounds of {per_round} calls each, in µs per call. Both "
            "deliver to the agentwatch server (own process); the tee's GenAI spans go to a "
            "second agentwatch server's `/v1/traces` (own process). Every event delivered both "
            "ways, none dropped.",
            "",
            "| `record()` | tee off | tee on | ratio |",
            "|---|---|---|---|",
            *rows,
            "",
            "On the caller's thread the tee adds one deque append; the rest of the ratio is the "
            "tee's export thread (mapping each event to a GenAI span, protobuf encoding, the "
            "request) holding the GIL while the caller records.",
            MARK_END,
        ]
    )


def main(argv: list[str] | None = None) -> None:
    rounds_main(__doc__ or "", 2000, run, report, (MARK_BEGIN, MARK_END), argv)


if __name__ == "__main__":
    main()
