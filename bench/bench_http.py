"""Floor: an empty uvicorn endpoint receiving 100-event JSON batches (perf.md §5).

The server is uvicorn (httptools + uvloop, as ``uvicorn[standard]`` installs) in its own
process with a bare ASGI app whose ``POST /ingest`` parses the body with ``json.loads`` and
answers ``{"accepted": N}``. The load comes from this process: an asyncio client on
keep-alive connections. Both share the machine's two cores, so this is the ceiling an
ingest endpoint has here before it does any work. Runs in the floor venv.
Options: ``--seconds`` of load (default 8), ``--conns`` (default 32), ``--events`` per batch.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from common import arg, emit, free_port, percentile, wait_until_up

Scope = dict[str, Any]


async def app(scope: Scope, receive: Any, send: Any) -> None:
    """Bare ASGI ingest endpoint: read the body, parse it, count the events."""
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    accepted = len(json.loads(body)["events"]) if body else 0
    reply = json.dumps({"accepted": accepted}).encode()
    # An explicit length keeps uvicorn from chunking, so the client can read it simply.
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(reply))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": reply})


def batch_request(port: int, events: int) -> bytes:
    event = {
        "id": "6801b220-074c-42e3-8484-96dd07e6b662",
        "event_type": "llms",
        "init_timestamp": "2026-11-25T20:00:00.000000+00:00",
        "model": "gpt-4o-mini",
        "prompt": [{"role": "user", "content": "Plan two days in Rome. " * 20}],
        "completion": {"role": "assistant", "content": "Day 1: Colosseum. " * 25},
    }
    body = json.dumps({"events": [event] * events}).encode()
    head = (
        f"POST /ingest HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def connection(port: int, request: bytes, stop_at: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - start) * 1000)
    finally:
        writer.close()


async def load(port: int, request: bytes, seconds: float, conns: int) -> list[float]:
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds
    await asyncio.gather(*(connection(port, request, stop_at, latencies) for _ in range(conns)))
    return latencies


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run(
        "bench_http:app",
        host="127.0.0.1",
        port=port,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
    )


def main() -> None:
    seconds, conns = float(arg("seconds", "8")), int(arg("conns", "32"))
    events = int(arg("events", "100"))
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(port)])
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ingest")
        request = batch_request(port, events)
        asyncio.run(load(port, request, 1.0, conns))  # warm-up
        latencies = asyncio.run(load(port, request, seconds, conns))
    finally:
        server.terminate()
        server.wait(timeout=10)
    rate = len(latencies) / seconds
    emit(
        {
            "requests_per_s": rate,
            "events_per_s": rate * events,
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
            "body_bytes": len(request),
            "conns": conns,
        }
    )


if __name__ == "__main__":
    if "--serve" in sys.argv:
        serve(int(arg("port", "0")))
    else:
        main()
