"""agentwatch SDK figures (issue 6), one figure per sub-command, one run per process.

Runs in the agentwatch venv (``pip install -e .[server]`` of this checkout).

* ``record``      ``session.record(ActionEvent)`` p50/p99 on the caller's thread and a
                  50,000-event burst delivered to the stub (the same stub and unit as the
                  references, so the figures compare directly). ``--nested``: the same
                  inside two open spans (``session.span()`` blocks), so that each event
                  takes its parent from the context (issue 11).
* ``decorated``   one call of a ``@record_tool`` function (three arguments, ~150-character
                  result), and the same function undecorated: the decorator's overhead.
* ``threads``     the same with 8 threads recording into 8 sessions.
* ``start``       ``client.start_session()`` on the caller's thread.
* ``memory``      RSS with 100,000 events queued while the server is down, then 10,000
                  more past the queue's bound (memory growth, drops counted).
* ``server-burst`` 50,000 events into the real server (uvicorn + SQLite, separate process;
                  ``--pg-admin URL``: PostgreSQL): delivered *and stored*, end-to-end events/s.
* ``end-pending`` ``end_session()`` with 10,000 events pending, real server up.
* ``server-ingest`` the real server alone (no SDK): pre-built 100-event ``create_events``
                  batches from 4 threads (``--size``, ``--conns``, ``--batches``;
                  ``--pg-admin URL``: PostgreSQL); events stored/s, request latency.

The real-server figures need ``agentwatch.server.testing.uvicorn_server``; when it is not
there yet, they emit ``{"unavailable": reason}`` and RESULTS.md says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import (
    PARAMS,
    RETURNS,
    arg,
    emit,
    flag,
    free_port,
    guard_loopback,
    latency_summary_us,
    peak_rss_mib,
    percentile,
    stub_count,
    time_calls,
    wait_for_quiet,
)

guard_loopback()

from agentwatch import ActionEvent, Client, record_tool  # noqa: E402

SERVER_HELPER = Path(__file__).with_name("agentwatch_server.py")


def make_client(endpoint: str, api_key: str | None = None, **settings: Any) -> Client:
    # The bench process handles its own exit; keep the SDK off the signal handlers.
    return Client(
        api_key=api_key or str(uuid.uuid4()), endpoint=endpoint, handle_signals=False, **settings
    )


def event() -> ActionEvent:
    return ActionEvent(action_type="web_search", params=PARAMS, returns=RETURNS)


def record_burst(client: Client, n: int, nested: bool = False) -> tuple[Any, list[int], float]:
    """Start a session and record ``n`` events, each timed; (session, ns, loop seconds).

    ``nested``: inside two open spans, as an agent's tool would record (the spans end
    after the loop and are delivered with the events: n + 2 in all).
    """
    session = client.start_session(tags=["bench"])
    start = time.perf_counter()
    if nested:
        with session.span("agent_loop", kind="chain"), session.span("step"):
            durations = time_calls(lambda i: session.record(event()), n)
    else:
        durations = time_calls(lambda i: session.record(event()), n)
    return session, durations, time.perf_counter() - start


def cmd_record(stub: str, n: int, nested: bool = False) -> dict[str, Any]:
    client = make_client(stub)
    baseline = stub_count(stub, "v2_events")
    bytes_before = stub_count(stub, "wire_bytes")
    cpu_start = time.process_time()
    session, durations, loop_s = record_burst(client, n, nested)
    during_loop = stub_count(stub, "v2_events") - baseline
    end_start = time.perf_counter()
    session.end_session("Success")
    end_s = time.perf_counter() - end_start
    delivered = wait_for_quiet(stub, "v2_events") - baseline
    wire_bytes = stub_count(stub, "wire_bytes") - bytes_before
    cpu_s = time.process_time() - cpu_start
    dropped = client.dropped
    client.shutdown(timeout=5)
    return {
        **latency_summary_us(durations),
        "n": n + 2 if nested else n,
        "caller_events_per_s": n / loop_s,
        "delivered_during_loop": during_loop,
        "delivered": delivered,
        "wire_bytes_per_event": wire_bytes / max(delivered, 1),
        "cpu_us_per_event": cpu_s / n * 1e6,
        "delivered_per_s": delivered / (loop_s + end_s),
        "end_session_s": end_s,
        "dropped": dropped,
        "peak_rss_mib": peak_rss_mib(),
    }


def _web_search(query: str, max_results: int, strict: bool) -> str:
    return RETURNS


web_search = record_tool("web_search")(_web_search)


def cmd_decorated(stub: str, n: int) -> dict[str, Any]:
    """A ``@record_tool`` call against the same function undecorated, both timed alone."""
    client = make_client(stub)
    baseline = stub_count(stub, "v2_events")
    session = client.start_session(tags=["bench", "decorated"])
    time_calls(lambda i: _web_search(**PARAMS), 2000)  # warm-up
    bare = time_calls(lambda i: _web_search(**PARAMS), n)
    durations = time_calls(lambda i: web_search(**PARAMS), n)
    session.end_session("Success")
    delivered = wait_for_quiet(stub, "v2_events") - baseline
    dropped = client.dropped
    client.shutdown(timeout=5)
    summary = latency_summary_us(durations)
    bare_p50 = latency_summary_us(bare)["p50_us"]
    return {
        **summary,
        "n": n,
        "bare_p50_us": bare_p50,
        "overhead_p50_us": summary["p50_us"] - bare_p50,
        "delivered": delivered,
        "dropped": dropped,
    }


def cmd_threads(stub: str, threads: int, per_thread: int) -> dict[str, Any]:
    client = make_client(stub)
    baseline = stub_count(stub, "v2_events")
    results: list[list[int]] = []
    barrier = threading.Barrier(threads)

    def worker() -> None:
        session = client.start_session(tags=["bench", "threads"])
        barrier.wait()  # all threads record at the same time
        results.append(time_calls(lambda i: session.record(event()), per_thread))
        session.end_session("Success")

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    delivered = wait_for_quiet(stub, "v2_events") - baseline
    client.shutdown(timeout=5)
    return {
        **latency_summary_us(d for run in results for d in run),
        "threads": threads,
        "n": threads * per_thread,
        "events_per_s": threads * per_thread / elapsed,
        "delivered": delivered,
    }


def cmd_start(stub: str, n: int) -> dict[str, Any]:
    client = make_client(stub)
    sessions: list[Any] = []
    durations = time_calls(lambda i: sessions.append(client.start_session(tags=["bench"])), n)
    for session in sessions:
        session.end_session("Success")
    client.shutdown(timeout=5)
    return {**latency_summary_us(durations), "n": n}


def current_rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def cmd_memory(n: int, overflow: int) -> dict[str, Any]:
    """RSS per queued event with the server down, then ``overflow`` events past the queue.

    The client's queue is sized to hold exactly ``n`` events, so the overflow shows
    whether memory stays bounded and whether the excess is counted as dropped.
    """
    # Nothing listens on a fresh free port: every export fails and events stay queued.
    client = make_client(f"http://127.0.0.1:{free_port()}", max_queue_size=n)
    session = client.start_session(tags=["bench", "server-down"])
    before = current_rss_mib()
    durations = time_calls(lambda i: session.record(event()), n)
    after = current_rss_mib()
    time_calls(lambda i: session.record(event()), overflow)
    after_overflow = current_rss_mib()
    dropped = client.dropped
    client.shutdown(timeout=0.5)
    return {
        "n": n,
        "rss_before_mib": before,
        "rss_after_mib": after,
        "bytes_per_event": (after - before) * 2**20 / n,
        "overflow": overflow,
        "overflow_growth_mib": after_overflow - after,
        "overflow_dropped": sum(dropped.values()),
        "batch_size": client.config.max_export_batch_size,
        "peak_rss_mib": peak_rss_mib(),
        "record_p50_us": latency_summary_us(durations)["p50_us"],
        "dropped": dropped,
    }


@contextmanager
def real_server(pg_admin: str = "") -> Iterator[dict[str, str]]:
    """The agentwatch server in its own process (so it does not share our GIL).

    On SQLite by default; on a fresh database of the PostgreSQL cluster at ``pg_admin``.
    """
    db_args = ["--pg-admin", pg_admin] if pg_admin else []
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_HELPER), *db_args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"agentwatch server helper exited with {proc.wait(timeout=10)}")
        yield json.loads(line)
    finally:
        proc.stdin.close()  # the helper stops its server when stdin closes
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stored_events(server: dict[str, str], session_id: str) -> int:
    request = urllib.request.Request(
        f"{server['url']}/v2/sessions/{session_id}/stats",
        headers={"X-Agentops-Api-Key": server["api_key"]},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            events: int = json.loads(response.read())["events"]
            return events
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # the SDK creates the session with its first export
            return 0
        raise


def wait_stored(
    server: dict[str, str], session_id: str, n: int, since: float, cap_s: float = 120.0
) -> tuple[int, float]:
    """Poll the server until ``n`` events are stored or the count stops moving for 10 s.

    Returns (events stored, seconds from ``since`` to the last increase).
    """
    stored, last_change = stored_events(server, session_id), time.perf_counter()
    while (
        stored < n
        and time.perf_counter() - last_change < 10
        and time.perf_counter() - since < cap_s
    ):
        time.sleep(0.2)
        now = stored_events(server, session_id)
        if now != stored:
            stored, last_change = now, time.perf_counter()
    return stored, last_change - since


def cmd_server_burst(n: int, pg_admin: str) -> dict[str, Any]:
    with real_server(pg_admin) as server:
        client = make_client(server["url"], server["api_key"])
        start = time.perf_counter()
        session, durations, _ = record_burst(client, n)
        end_start = time.perf_counter()
        session.end_session("Success")
        ended = time.perf_counter()
        end_s = ended - end_start
        pending_at_end = client.pending
        session_id = str(session.session_id)
        # end_session waits at most shutdown_timeout (5 s); delivery may go on after it.
        at_end = stored_events(server, session_id)
        stored, confirmed_s = wait_stored(server, session_id, n, start)
        dropped = client.dropped
        # Nothing pending when end_session returned, and the count then finds them all: the
        # server had answered every request, each after its commit, by then. The last store
        # was before that moment; the stats queries confirming it are not part of the
        # delivery. Otherwise: the poll that saw the last one.
        all_stored_by_end = pending_at_end == 0 and not dropped and at_end >= n
        all_s = ended - start if all_stored_by_end else confirmed_s
        client.shutdown(timeout=5)
    return {
        **latency_summary_us(durations),
        "n": n,
        "stored_when_end_session_returned": at_end,
        "stored": stored,
        "stored_per_s": stored / all_s,
        "seconds_until_stored": all_s,
        "seconds_until_confirmed": confirmed_s,
        "end_session_s": end_s,
        "dropped": dropped,
    }


def cmd_end_pending(n: int) -> dict[str, Any]:
    with real_server() as server:
        client = make_client(server["url"], server["api_key"])
        session, _, _ = record_burst(client, n)
        pending = n - stored_events(server, str(session.session_id))
        end_start = time.perf_counter()
        session.end_session("Success")
        end_s = time.perf_counter() - end_start
        stored = stored_events(server, str(session.session_id))
        client.shutdown(timeout=5)
    return {"n": n, "pending": pending, "end_session_s": end_s, "stored": stored}


def create_session(server: dict[str, str], http: Any) -> tuple[str, str]:
    """A session made over v2 with the project key; returns (session id, JWT)."""
    session_id = str(uuid.uuid4())
    body = {"session": {"session_id": session_id, "tags": ["bench", "ingest"]}}
    answer = http.post(
        "/v2/create_session", json=body, headers={"X-Agentops-Api-Key": server["api_key"]}
    )
    answer.raise_for_status()
    return session_id, str(answer.json()["jwt"])


def ingest_bodies(batches: int, size: int) -> list[bytes]:
    """Distinct create_events bodies (the server stores an id once, so ids must differ)."""
    now = "2026-11-25T20:00:00.000000+00:00"
    template = {
        "event_type": "actions",
        "init_timestamp": now,
        "end_timestamp": now,
        "action_type": "web_search",
        "params": PARAMS,
        "returns": RETURNS,
    }
    return [
        json.dumps(
            {"events": [{**template, "id": str(uuid.uuid4())} for _ in range(size)]}
        ).encode()
        for _ in range(batches)
    ]


def cmd_server_ingest(batches: int, size: int, conns: int, pg_admin: str = "") -> dict[str, Any]:
    """The server alone: ``conns`` threads POST pre-built ``size``-event batches, no SDK
    (into PostgreSQL with ``pg_admin``)."""
    import httpx

    bodies = ingest_bodies(batches, size)
    with (
        real_server(pg_admin) as server,
        httpx.Client(base_url=server["url"], timeout=60) as http,
    ):
        session_id, jwt = create_session(server, http)
        headers = {"Authorization": f"Bearer {jwt}", "Content-Type": "application/json"}
        latencies: list[float] = []

        def sender(share: list[bytes]) -> None:
            for body in share:
                t0 = time.perf_counter()
                http.post("/v2/create_events", content=body, headers=headers).raise_for_status()
                latencies.append((time.perf_counter() - t0) * 1000)

        pool = [threading.Thread(target=sender, args=(bodies[i::conns],)) for i in range(conns)]
        start = time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        elapsed = time.perf_counter() - start
        stored = stored_events(server, session_id)
    return {
        "requests_per_s": len(latencies) / elapsed,
        "stored_per_s": stored / elapsed,
        "stored": stored,
        "n": batches * size,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }


def server_available() -> str | None:
    """None when the real server can be started, else why not."""
    try:
        from agentwatch.server.testing import uvicorn_server  # noqa: F401
    except ImportError as exc:
        return f"agentwatch.server.testing.uvicorn_server not available yet ({exc})"
    return None


def main() -> None:
    command, stub = sys.argv[1], arg("stub", "http://127.0.0.1:18080")
    if command.startswith(("server-", "end-")) and (reason := server_available()):
        emit({"unavailable": reason})
        return
    commands = {
        "record": lambda: cmd_record(stub, int(arg("n", "50000")), flag("nested")),
        "decorated": lambda: cmd_decorated(stub, int(arg("n", "50000"))),
        "threads": lambda: cmd_threads(stub, int(arg("threads", "8")), int(arg("n", "10000"))),
        "start": lambda: cmd_start(stub, int(arg("n", "200"))),
        "memory": lambda: cmd_memory(int(arg("n", "100000")), int(arg("overflow", "10000"))),
        "server-burst": lambda: cmd_server_burst(int(arg("n", "50000")), arg("pg-admin", "")),
        "end-pending": lambda: cmd_end_pending(int(arg("n", "10000"))),
        "server-ingest": lambda: cmd_server_ingest(
            int(arg("batches", "300")),
            int(arg("size", "100")),
            int(arg("conns", "4")),
            arg("pg-admin", ""),
        ),
    }
    emit(commands[command]())


if __name__ == "__main__":
    main()
