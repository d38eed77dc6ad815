"""What the search index costs ingest, in process: CPU and wall time per request.

Two requests, each into a fresh database: a 512-span OTLP export (bench_otlp.py's agent
runs, encoded by the OTel exporter: an agent span, chat and tool spans, one conversation
per trace) decoded, mapped and stored
(``Storage.insert_spans``), and a 100-event v2 batch (LLM, tool and action events;
``Storage.insert_events``). No HTTP: what the server spends per request beyond parsing it.

``--sources DIR,DIR,...`` runs the measurement once per source tree (``DIR/src`` first on
``sys.path``) in interleaved rounds, so two versions are compared on one machine at one
moment; ``--no-index`` also runs the first tree with ``search.index`` a no-op (the cost
without the search index). ``--pg-admin URL``: PostgreSQL (a database per run) instead of
SQLite. Prints per-source medians and a ``RESULT`` line.

    python3 bench/bench_search_ingest.py --sources /tmp/base,. --no-index --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SPANS = 512
EVENTS = 100


def otlp_bodies(n: int) -> list[bytes]:
    """``n`` requests of SPANS spans: bench_otlp.py's agent runs (traces of ten: an agent
    span, chat and tool spans, one conversation each), encoded by the OTel exporter."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    import bench_otlp

    spans = bench_otlp.premade_spans(SPANS * n)  # whole traces: a few spans more
    return [
        encode_spans(spans[i : i + SPANS]).SerializeToString() for i in range(0, SPANS * n, SPANS)
    ]


def v2_events(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        kind = ("llms", "tools", "actions")[i % 3]
        raw: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "event_type": kind,
            "init_timestamp": "2026-01-01T00:00:00+00:00",
            "end_timestamp": "2026-01-01T00:00:01+00:00",
        }
        if kind == "llms":
            raw.update(
                model="gpt-4o-mini",
                prompt=[{"role": "user", "content": "Plan two days in Rome. " * 20}],
                completion={"role": "assistant", "content": "Day one: the Colosseum. " * 8},
                prompt_tokens=1200,
                completion_tokens=300,
            )
        elif kind == "tools":
            raw.update(
                name="web_search",
                params={"arguments": '{"query": "flights to Rome"}'},
                returns=["AZ 611 08:10", "FR 9421 11:35"],
            )
        else:
            raw.update(action_type="open_page", params={"url": "https://example.com/rome"})
        out.append(raw)
    return out


def measure(url: str, requests: int, no_index: bool) -> dict[str, Any]:
    """Child: ``requests`` of each kind into the database at ``url``; per-request figures."""
    import datetime as dt

    from agentwatch.server.otlp import decode
    from agentwatch.server.otlp.mapping import is_pending, map_span
    from agentwatch.server.otlp.sessions import span_writes
    from agentwatch.server.pricing import PriceTable
    from agentwatch.server.storage import search
    from agentwatch.server.storage.records import SessionFields
    from agentwatch.server.storage.storage import Storage
    from agentwatch.server.wire import event_record

    if no_index:
        search.index = lambda *a, **k: None
    prices = PriceTable.load()
    storage = Storage.open(url)
    project = storage.create_project(f"bench-{uuid.uuid4().hex[:8]}").id
    bodies = otlp_bodies(requests + 1)
    batches = [v2_events(EVENTS) for _ in range(requests + 1)]
    session = str(uuid.uuid4())
    storage.create_or_attach_session(project, SessionFields(session_id=session, tags=("bench",)))
    out: dict[str, list[float]] = {"otlp_cpu": [], "otlp_wall": [], "v2_cpu": [], "v2_wall": []}
    for i, (body, batch) in enumerate(zip(bodies, batches, strict=True)):
        cpu, wall = time.process_time(), time.perf_counter()
        now = dt.datetime.now(dt.timezone.utc)
        decoded = decode.decode_traces(body, "protobuf", now)
        mapped = [map_span(s, prices) for s in decoded.items if not is_pending(s)]
        storage.insert_spans(project, span_writes(project, mapped))
        cpu2, wall2 = time.process_time(), time.perf_counter()
        now = dt.datetime.now(dt.timezone.utc)
        records = [
            event_record(raw, f"events[{j}]", session, prices, now) for j, raw in enumerate(batch)
        ]
        storage.insert_events(project, session, records)
        cpu3, wall3 = time.process_time(), time.perf_counter()
        if i:  # the first of each warms caches up
            out["otlp_cpu"].append((cpu2 - cpu) * 1e6 / SPANS)
            out["otlp_wall"].append((wall2 - wall) * 1e6 / SPANS)
            out["v2_cpu"].append((cpu3 - cpu2) * 1e6 / EVENTS)
            out["v2_wall"].append((wall3 - wall2) * 1e6 / EVENTS)
    storage.close()
    return {k: statistics.median(v) for k, v in out.items()}


def database(pg_admin: str | None, scratch: Path) -> str:
    if not pg_admin:
        return f"sqlite:///{scratch / (uuid.uuid4().hex + '.db')}"
    import agentwatch_server

    return agentwatch_server.fresh_pg_database(pg_admin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default=".", help="comma-separated source trees")
    parser.add_argument("--no-index", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=6, help="per round and kind")
    parser.add_argument("--pg-admin", default="")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--stub", default="", help="ignored (bench/run.py passes it)")
    args = parser.parse_args()
    if args.child:
        print("CHILD " + json.dumps(measure(args.child, args.requests, args.no_index)))
        return
    runs = [(s, False) for s in args.sources.split(",")]
    if args.no_index:
        runs.append((args.sources.split(",")[0], True))
    samples: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.rounds):
            for source, no_index in runs:
                label = source + (" (no index)" if no_index else "")
                cmd = [sys.executable, __file__, "--child", database(args.pg_admin, Path(scratch))]
                cmd += ["--requests", str(args.requests)] + (["--no-index"] if no_index else [])
                env = {**os.environ, "PYTHONPATH": str(Path(source).resolve() / "src")}
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
                line = [ln for ln in proc.stdout.splitlines() if ln.startswith("CHILD ")][-1]
                samples.setdefault(label, []).append(json.loads(line[6:]))
    result = {
        label: {k: round(statistics.median(r[k] for r in rows), 1) for k in rows[0]}
        for label, rows in samples.items()
    }
    for label, figures in result.items():
        print(f"{label:40} " + "  ".join(f"{k} {v:7.1f} µs" for k, v in figures.items()))
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
