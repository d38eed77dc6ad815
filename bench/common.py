"""Small helpers shared by the benchmark scripts (stdlib only: every bench venv imports it).

A benchmark script does one run and prints one line ``RESULT {json}`` on stdout;
``bench/run.py`` starts it several times in fresh processes and aggregates the runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULT_PREFIX = "RESULT "
# A realistic tool-call payload: three parameters and a ~150-character return value.
PARAMS: dict[str, Any] = {"query": "flights to Rome", "max_results": 5, "strict": True}
RETURNS = "Found 5 flights: AZ 611 08:10, FR 9421 11:35, U2 3911 14:05, AZ 615 17:50, " * 2


LOOPBACK = {"127.0.0.1", "localhost", "::1"}
blocked_hosts: list[str] = []


def guard_loopback() -> None:
    """Refuse DNS lookups of anything but loopback names, remembering what was asked.

    The reference SDKs phone home (PyPI update check, hard-coded metrics and error
    endpoints); the benchmarks must not reach the internet, and the refused hosts are
    reported with the results so that a new call home is noticed.
    """
    real_getaddrinfo = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK:
            blocked_hosts.append(name)
            raise socket.gaierror(f"bench: refusing to resolve {name}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.getaddrinfo = loopback_only


def emit(result: dict[str, Any]) -> None:
    """Hand one run's figures to bench/run.py."""
    result.setdefault("blocked_hosts", sorted(set(blocked_hosts)))
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (need not be sorted), ``q`` in [0, 100]."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = round(q / 100 * (len(ordered) - 1))
    return ordered[min(max(rank, 0), len(ordered) - 1)]


def latency_summary_us(durations_ns: Iterable[int]) -> dict[str, float]:
    """p50 / p99 / mean in microseconds of per-call durations in nanoseconds."""
    us = [d / 1000 for d in durations_ns]
    return {
        "p50_us": percentile(us, 50),
        "p99_us": percentile(us, 99),
        "mean_us": sum(us) / len(us) if us else float("nan"),
    }


def time_calls(call: Callable[[int], object], n: int) -> list[int]:
    """Call ``call(i)`` n times, timing each call alone with perf_counter_ns."""
    clock = time.perf_counter_ns
    durations = [0] * n
    for i in range(n):
        start = clock()
        call(i)
        durations[i] = clock() - start
    return durations


def peak_rss_mib() -> float:
    """Peak resident set size of this process (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def wait_until_up(url: str, timeout: float = 20.0) -> None:
    """Poll ``url`` until it answers; raises TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            get_json(url, timeout=1.0)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not come up in {timeout} s") from None
            time.sleep(0.05)


def stub_count(stub_url: str, counter: str) -> int:
    """Current value of one of the stub server's counters (see stub_server.py)."""
    stats: dict[str, int] = get_json(f"{stub_url}/_stub/stats")
    return stats.get(counter, 0)


def wait_for_quiet(stub_url: str, counter: str, settle_s: float = 0.5, cap_s: float = 10.0) -> int:
    """Wait until ``counter`` stops moving for ``settle_s`` (at most ``cap_s``); return it.

    Exporters may still have a request in flight right after flush() returns.
    """
    deadline = time.monotonic() + cap_s
    last = stub_count(stub_url, counter)
    while time.monotonic() < deadline:
        time.sleep(settle_s)
        now = stub_count(stub_url, counter)
        if now == last:
            break
        last = now
    return last


def arg(name: str, default: str) -> str:
    """Tiny ``--name value`` parser: the scripts take two or three options each."""
    argv = sys.argv[1:]
    flag = f"--{name}"
    return argv[argv.index(flag) + 1] if flag in argv else default


def flag(name: str) -> bool:
    return f"--{name}" in sys.argv[1:]


@contextmanager
def child_server(*argv: str, cwd: Path) -> Iterator[str]:
    """Run ``python argv`` (a server that prints one line once it answers) until the block
    ends, stopped by closing its stdin; yields that line."""
    proc = subprocess.Popen(
        [sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=cwd
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


def write_section(path: Path, begin: str, end: str, section: str) -> None:
    """Put ``section`` (which starts with ``begin`` and ends with ``end``) in place of the
    marked part of ``path``, or at its end when it has none yet."""
    text = path.read_text()
    if begin in text:
        before, rest = text.split(begin, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def rounds_main(
    doc: str,
    per_round: int,
    run: Callable[[int, int], Any],
    report: Callable[[Any, int, int], str],
    markers: tuple[str, str],
    argv: list[str] | None = None,
) -> None:
    """The command line of a bench of interleaved rounds: ``--rounds``, ``--per-round``;
    prints ``report(run(rounds, per_round), rounds, per_round)``, and with ``--write`` puts
    it in its marked section of ``bench/RESULTS.md``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=per_round)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args(argv)
    section = report(run(args.rounds, args.per_round), args.rounds, args.per_round)
    print(section)
    if args.write:
        write_section(RESULTS, *markers, section)
