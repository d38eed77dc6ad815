"""Memory of the server while it answers a whole large session (issue 13, bounded reads).

Seeds one session of ``--events`` (default 100,000) events of ~1 KB into a fresh SQLite
database, starts ``agentwatch serve`` on it as a subprocess (the server code from
``--src``, default this checkout's ``src``: point it at another checkout to compare), then
reads ``GET /v2/sessions/{id}/export`` and ``GET /api/sessions/{id}`` once each and reports
the server process's resident memory before the reads and its peak (``VmHWM``) after each,
from ``/proc/<pid>/status``, with the bytes and time of each answer.

    python3 bench/bench_export.py                       # this checkout
    python3 bench/bench_export.py --src /work/main/src  # another one, same seed
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from common import arg, emit

HERE = Path(__file__).resolve().parent
_SERVING = re.compile(r"agentwatch serving on (http://\S+)")


def seed(home: Path, events: int) -> tuple[str, str]:
    """(API key, session id) of a project with one session of ``events`` LLM events."""
    from agentwatch.server import wire
    from agentwatch.server.pricing import PriceTable
    from agentwatch.server.storage import SessionFields, Storage

    storage = Storage.open(f"sqlite:///{home / 'agentwatch.db'}")
    try:
        project = storage.create_project("bench")
        key, _ = storage.create_api_key(project.id)
        session_id = str(uuid.uuid4())
        storage.create_or_attach_session(project.id, SessionFields(session_id))
        prices = PriceTable.load()
        start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        text = "Plan two days in Rome for a family of four. " * 12
        for first in range(0, events, 5_000):
            raw = [
                {
                    "id": str(uuid.uuid4()),
                    "event_type": ("llms", "tools", "actions", "errors")[n % 4],
                    "init_timestamp": (start + dt.timedelta(milliseconds=n)).isoformat(),
                    "model": "gpt-4o",
                    "prompt_tokens": 100,
                    "completion_tokens": 50,
                    "params": {"messages": [{"role": "user", "content": text}]},
                    "returns": {"content": text},
                }
                for n in range(first, min(first + 5_000, events))
            ]
            records = [wire.event_record(e, "e", session_id, prices, start) for e in raw]
            storage.insert_events(project.id, session_id, records)
        return key, session_id
    finally:
        storage.close()


def memory_kb(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {m[1]: int(m[2]) for m in re.finditer(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M)}


def read(url: str, path: str, key: str) -> tuple[int, float]:
    started = time.perf_counter()
    size = 0
    with httpx.stream("GET", url + path, headers={"X-Agentops-Api-Key": key}, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_raw():
            size += len(chunk)
    return size, time.perf_counter() - started


def main() -> None:
    events = int(arg("events", "100000"))
    src = Path(arg("src", str(HERE.parent / "src"))).resolve()
    with tempfile.TemporaryDirectory(prefix="agentwatch-bench-export-") as tmp:
        home = Path(tmp)
        key, session_id = seed(home, events)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTWATCH_")}
        env.update(AGENTWATCH_HOME=str(home), PYTHONPATH=str(src), PYTHONUNBUFFERED="1")
        server = subprocess.Popen(
            [sys.executable, "-m", "agentwatch.cli", "serve", "--port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert server.stdout is not None
            url = None
            for line in server.stdout:
                found = _SERVING.search(line)
                if found:
                    url = found.group(1)
                    break
            if url is None:
                raise SystemExit("agentwatch serve did not start")
            result: dict[str, object] = {"events": events, "src": str(src)}
            result["rss_before_mb"] = memory_kb(server.pid)["VmRSS"] / 1024
            for name, path in (
                ("export", f"/v2/sessions/{session_id}/export"),
                ("detail", f"/api/sessions/{session_id}"),
            ):
                size, seconds = read(url, path, key)
                mem = memory_kb(server.pid)
                result[f"{name}_mb"] = round(size / 2**20, 1)
                result[f"{name}_seconds"] = round(seconds, 2)
                result[f"{name}_peak_rss_mb"] = round(mem["VmHWM"] / 1024, 1)
            emit(result)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


if __name__ == "__main__":
    main()
