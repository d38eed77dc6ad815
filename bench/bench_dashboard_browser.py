"""Chromium's time to a drawn span tree on the session page at 1,000 / 10,000 / 50,000 events.

Not a test. Starts the real server (uvicorn on 127.0.0.1, a fresh SQLite file), sends each
session through ``/v2/create_events`` like an SDK (a tree of agents, steps, LLM and tool
calls, see ``agentwatch.server.synthetic``), then opens its page in headless Debian
Chromium (Playwright) several times and reads when the page had drawn the tree and the
time axis (``window.__treeDrawnAt``: ms since navigation start, set right after the first
draw). The reference, measured in the same run, is the same page for a 10-event session;
the server's own time for the tree's JSON is reported beside it.

Run ``python bench/bench_dashboard_browser.py`` (``--write`` replaces its section in
``bench/RESULTS.md``; ``--sizes 1000,10000`` to choose; ``--repeat`` page loads per size).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from agentwatch.server.synthetic import send_run, synthetic_run
from agentwatch.server.testing import TestServer, uvicorn_server
from common import write_section

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MARK_BEGIN = "<!-- bench_dashboard_browser: begin -->"
MARK_END = "<!-- bench_dashboard_browser: end -->"
REFERENCE_EVENTS = 10


def drawn_ms(page: Any, url: str, repeat: int) -> list[float]:
    """Times to the drawn tree over ``repeat`` fresh loads of ``url`` (the first is a warm-up)."""
    times = []
    for i in range(repeat + 1):
        page.goto("about:blank")
        page.goto(url)
        page.wait_for_selector("#timeline[data-ready=true]", timeout=120_000)
        assert page.locator(".tl-row").count() > 0
        if i:
            times.append(float(page.evaluate("window.__treeDrawnAt")))
    return times


def server_ms(http: httpx.Client, server: TestServer, session_id: str, repeat: int) -> float:
    headers = {"X-Agentops-Api-Key": server.api_key}
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        http.get(f"/api/sessions/{session_id}/tree", headers=headers).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(sizes: list[int], repeat: int) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    results = []
    with uvicorn_server() as server, httpx.Client(base_url=server.url, timeout=300) as http:
        sessions = {}
        for n in [REFERENCE_EVENTS, *sizes]:
            started = time.perf_counter()
            sessions[n], _ = send_run(http, server.api_key, synthetic_run(n, seed=n))
            print(f"seeded {n:,} events in {time.perf_counter() - started:.1f} s", flush=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                for n, session_id in sessions.items():
                    url = f"{server.url}/sessions/{session_id}"
                    times = drawn_ms(page, url, repeat)
                    results.append(
                        {
                            "events": n,
                            "median_ms": statistics.median(times),
                            "max_ms": max(times),
                            "server_ms": server_ms(http, server, session_id, repeat),
                            "dom_rows": page.locator(".tl-row").count(),
                        }
                    )
                    print(results[-1], flush=True)
            finally:
                browser.close()
    return results


def report(results: list[dict[str, Any]], repeat: int) -> str:
    reference = results[0]["median_ms"]
    lines = [
        MARK_BEGIN,
        "## The session page's span tree in Chromium (issue 12)",
        "",
        "`python bench/bench_dashboard_browser.py --write`: each session sent through "
        "`/v2/create_events` to the real server (uvicorn, SQLite), then its page loaded "
        f"{repeat} times (after a warm-up) in headless Chromium; *drawn* is the time from "
        "navigation start to the tree and time axis drawn (`window.__treeDrawnAt`). The "
        f"reference is the same page for a {REFERENCE_EVENTS}-event session, in the same run.",
        "",
        "| events | drawn, median ms | max ms | x reference | server: tree JSON ms | rows in the DOM |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['events']:,} | {r['median_ms']:.0f} | {r['max_ms']:.0f} | "
            f"{r['median_ms'] / reference:.1f} | {r['server_ms']:.0f} | {r['dom_rows']} |"
        )
    lines += [
        "",
        "Rows are virtualized (only those in view are in the DOM), the tree comes as compact "
        "rows without payloads (an event's details load when it is selected), and the server "
        "reads the rows' times as epoch microseconds in SQL rather than building datetimes.",
        MARK_END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    results = run([int(s) for s in args.sizes.split(",")], args.repeat)
    section = report(results, args.repeat)
    print(section)
    if args.write:
        write_section(ROOT / "bench" / "RESULTS.md", MARK_BEGIN, MARK_END, section)


if __name__ == "__main__":
    main()
